"""The part of a tensor backend (ONNX Runtime, OpenVINO) that does not depend on the runtime."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from vision.detections import Detections
from vision.detectors import DetectorSettings
from vision.detectors.decoding import Letterbox, ModelFormat, decode, nms, preprocess
from vision.errors import ConfigError

KINDRED = (("car", "truck", "bus"), ("bicycle", "motorcycle"))  # classes a detector confuses for one object


class TensorDetector(ABC):
    """Pre-process, run the runtime, decode, map to source pixels, filter."""

    def __init__(self, cfg: DetectorSettings, path: Path, fmt: ModelFormat) -> None:
        self.cfg = cfg
        self.path = path
        self.format = fmt
        if cfg.classes is not None:
            if len(cfg.classes) != len(fmt.class_names):
                raise ConfigError(f"detector: key 'classes' names {len(cfg.classes)} classes; {path} has "
                                  f"{len(fmt.class_names)} ({', '.join(fmt.class_names[:8])}, ...)")
            fmt.class_names = list(cfg.classes)
        self.class_names: list[str] = list(fmt.class_names)
        self.input_size: tuple[int, int] = fmt.size
        # takes any input size up to input_size (motion regions as they are)
        self.dynamic_input = fmt.dynamic
        index = {name: i for i, name in enumerate(self.class_names)}
        for label in [*(cfg.labels or []), *cfg.filters]:
            if label not in index:
                raise ConfigError(f"detector: label '{label}' is not a class of {path} "
                                  f"(classes: {', '.join(self.class_names[:8])}, ...)")
        n = len(self.class_names)
        self._allowed = np.ones(n, dtype=bool)
        if cfg.labels is not None:
            self._allowed[:] = False
            self._allowed[[index[x] for x in cfg.labels]] = True
        self._min_score = np.full(n, cfg.score_threshold, dtype=np.float32)
        self._min_area = np.zeros(n, dtype=np.float32)
        self._max_area = np.full(n, np.inf, dtype=np.float32)
        for label, f in cfg.filters.items():
            i = index[label]
            self._min_area[i] = f.min_area
            self._max_area[i] = f.max_area if f.max_area is not None else np.inf
            if f.min_score is not None:
                self._min_score[i] = f.min_score
        self._floor = float(self._min_score.min())
        # one id per family of kindred classes (a van boxed as both truck and car is one object)
        self._family = np.arange(len(self.class_names), dtype=np.int64)
        for family in KINDRED:
            members = [index[x] for x in family if x in index]
            self._family[members] = members[0] if members else 0

    @abstractmethod
    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run the model on an input batch; outputs in the order of the model."""

    def detect(self, image: np.ndarray) -> Detections:
        """One image; a small one (a crop to check) is enlarged to the model's input size."""
        return self.detect_batch([image], enlarge=True)[0]

    def detect_batch(self, images: list[np.ndarray], own_size: bool = False,
                     enlarge: bool = False) -> list[Detections]:
        """Several crops (motion regions): one batch when the model takes one, else one run each. A model
        with a free input size runs each at its own size (at most the model's), unless `enlarge`; one that
        stretches its input (PicoDet) only with `own_size` (`preprocess`)."""
        prepared = [preprocess(img, self.format, enlarge, own_size) for img in images]
        if self.format.batch and len(images) > 1:
            outputs = self.infer(np.concatenate([p[0] for p in prepared]))
            per_image = [[o[i] for o in outputs] for i in range(len(images))]
        else:
            per_image = [[o[0] for o in self.infer(p[0])] for p in prepared]
        return [self._finish(outs, box, img.shape[1], img.shape[0])
                for outs, (_, box), img in zip(per_image, prepared, images, strict=True)]

    def _finish(self, outputs: list[np.ndarray], box: Letterbox, width: int, height: int) -> Detections:
        xyxy, score, cls = decode(outputs, self.format, self._floor, self.cfg.iou_threshold, box.size)
        valid = (cls >= 0) & (cls < len(self.class_names))
        xyxy, score, cls = xyxy[valid], score[valid], cls[valid]
        if self.cfg.same_object_iou < 1 and len(cls) > 1:
            kept = nms(xyxy, score, self._family[cls], self.cfg.same_object_iou)
            xyxy, score, cls = xyxy[kept], score[kept], cls[kept]
        xyxy = box.to_source(xyxy, width, height)
        area = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
        keep = (self._allowed[cls] & (score >= self._min_score[cls]) & (area > 0)
                & (area >= self._min_area[cls]) & (area <= self._max_area[cls]))
        order = np.argsort(-score[keep], kind="stable")
        cls = cls[keep][order]
        return Detections(
            xyxy=xyxy[keep][order], confidence=score[keep][order], class_id=cls,
            data={"class_name": np.asarray([self.class_names[i] for i in cls], dtype=object)},
        )
