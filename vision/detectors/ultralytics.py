"""Ultralytics backend for users who bring their own `.pt` weights (pip install 'sharpeyes[ultralytics]').

Imported only when a config names `type: ultralytics`, because it needs torch. It never downloads:
YOLO_OFFLINE is set and the weights must be a local file. A `.pt` exported to ONNX runs on the default
ONNX backend without torch (`yolo export model=best.pt format=onnx`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from vision.detections import Detections
from vision.detectors import UltralyticsDetectorConfig
from vision.detectors.decoding import nms
from vision.detectors.tensor_detector import KINDRED
from vision.errors import ConfigError, ModelError

INSTALL_HINT = (
    "pip install 'sharpeyes[ultralytics]' (it needs torch), or export the model to ONNX and use type: onnx"
)


class UltralyticsDetector:
    def __init__(self, cfg: UltralyticsDetectorConfig, path: Path) -> None:
        os.environ.setdefault("YOLO_OFFLINE", "1")
        try:
            from ultralytics import YOLO
        except ImportError:
            raise ModelError(
                f"{path}: detector type 'ultralytics' needs the ultralytics package: {INSTALL_HINT}"
            ) from None
        try:
            self.model: Any = YOLO(str(path))
        except Exception as exc:  # torch / ultralytics raise many types for a bad file
            raise ModelError(
                f"{path}: Ultralytics cannot load these weights ({str(exc).splitlines()[0][:200]})"
            ) from None
        self.cfg = cfg
        self.path = path
        names = self.model.names
        self.class_names: list[str] = (
            [str(names[k]) for k in sorted(names)] if isinstance(names, dict) else list(names)
        )
        if cfg.classes is not None and list(cfg.classes) != self.class_names:
            raise ConfigError(
                f"detector: key 'classes' ({', '.join(cfg.classes)}) disagrees with the classes of "
                f"{path} ({', '.join(self.class_names)}); fix the list or remove it"
            )
        self.input_size: tuple[int, int] = (cfg.imgsz, cfg.imgsz)
        index = {n: i for i, n in enumerate(self.class_names)}
        for label in [*(cfg.labels or []), *cfg.filters]:
            if label not in index:
                raise ConfigError(f"detector: label '{label}' is not a class of {path}")
        self._classes = [index[x] for x in cfg.labels] if cfg.labels is not None else None
        self._family = {name: family[0] for family in KINDRED for name in family}
        floors = [f.min_score for f in cfg.filters.values() if f.min_score is not None]
        self._floor = min([cfg.score_threshold, *floors])

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: list[np.ndarray], own_size: bool = False) -> list[Detections]:
        if not images:
            return []
        results = self.model.predict(images, conf=self._floor, iou=self.cfg.iou_threshold,
                                     imgsz=self.cfg.imgsz,
                                     device=self.cfg.device, classes=self._classes, verbose=False)
        return [self._filter(r) for r in results]

    def _filter(self, result: Any) -> Detections:
        boxes = result.boxes
        xyxy = np.asarray(boxes.xyxy.cpu().numpy() if hasattr(boxes.xyxy, "cpu") else boxes.xyxy, np.float32)
        conf = np.asarray(boxes.conf.cpu().numpy() if hasattr(boxes.conf, "cpu") else boxes.conf, np.float32)
        cls = np.asarray(boxes.cls.cpu().numpy() if hasattr(boxes.cls, "cpu") else boxes.cls).astype(np.int64)
        det = Detections(xyxy=xyxy.reshape(-1, 4), confidence=conf, class_id=cls,
                         data={"class_name": np.asarray([self.class_names[i] for i in cls], dtype=object)})
        if self.cfg.same_object_iou < 1 and len(det) > 1:  # a van boxed as truck and car is one object
            family = np.asarray([self._family.get(n, n) for n in det.data["class_name"]], dtype=object)
            ids = np.unique(family, return_inverse=True)[1]
            det = det[np.sort(nms(det.xyxy, det.confidence, ids, self.cfg.same_object_iou))]
        keep = det.confidence >= self.cfg.score_threshold
        area = det.area
        for label, f in self.cfg.filters.items():
            mine = det.class_id == self.class_names.index(label)
            score = f.min_score if f.min_score is not None else self.cfg.score_threshold
            ok = (det.confidence >= score) & (area >= f.min_area)
            if f.max_area is not None:
                ok &= area <= f.max_area
            keep = np.where(mine, ok, keep)
        return det[keep]
