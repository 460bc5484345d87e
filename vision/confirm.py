"""A second model confirms a new object before its event fires (`detector.confirm` in a camera config).

When a rule is about to open an event for a tracked object (presence, stationary, line; not crowd counts and
not left_object regions, which no class explains), the confirming model looks at the object's region: a crop
around its box, padded by half its size. The event opens only if that model sees an object of the same family
(person; car, truck, bus; bicycle, motorcycle) there, overlapping the box by `min_iou`, with `min_score`. A
refused object is looked at again after `retry_s` while the rule still holds it; the verdict is kept per
track, so a confirmed object costs one run. Only new events cost a run: a busy scene pays per object, never
per frame.

Usage::

    confirm = Confirmer(create_detector({"model": "models/picodet_s_416.onnx"}), ConfirmSettings())
    episodes = confirm.keep(episodes, image, t, is_open=lambda key: ...)   # before EventManager.step
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from vision.boxes import iou
from vision.detectors import ConfirmSettings, create_detector, parse_detector_config
from vision.errors import ModelError

FAMILIES = ({"car", "truck", "bus"}, {"bicycle", "motorcycle"})
PAD = 0.5          # of the box's size, on each side: the confirming model sees the object in its setting
MIN_CROP = 96      # pixels: a small object's crop is at least this big


def family(label: str) -> frozenset[str]:
    """The labels that name the same kind of object as `label` (a detector may call a motorbike a bicycle)."""
    return next((frozenset(f) for f in FAMILIES if label in f), frozenset({label}))


def crop_of(box: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """The region the confirming model looks at: the box padded by PAD of its size, at least MIN_CROP."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    half_w = max((w * (1 + 2 * PAD)) / 2, MIN_CROP / 2)
    half_h = max((h * (1 + 2 * PAD)) / 2, MIN_CROP / 2)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return (max(0, int(cx - half_w)), max(0, int(cy - half_h)), min(width, int(np.ceil(cx + half_w))),
            min(height, int(np.ceil(cy + half_h))))


class Confirmer:
    """Keeps the episodes whose object the second model sees too (or whose event is open already)."""

    def __init__(self, detector: Any, settings: ConfirmSettings) -> None:
        self.detector = detector
        self.settings = settings
        self._verdicts: dict[int, tuple[bool, float]] = {}   # track id -> (confirmed, when looked)
        self.runs = 0
        self.refused = 0

    def keep(self, episodes: list[Any], image: np.ndarray, t: float,
             is_open: Callable[[str], bool]) -> list[Any]:
        out = []
        for ep in episodes:
            if ep.track_id is None or is_open(ep.key):
                out.append(ep)
                continue
            verdict = self._verdicts.get(ep.track_id)
            if verdict is None or (not verdict[0] and t - verdict[1] >= self.settings.retry_s):
                verdict = (self.sees(image, ep.box, ep.label), t)
                self._verdicts[ep.track_id] = verdict
                self.refused += not verdict[0]
            if verdict[0]:
                out.append(ep)
        return out

    def sees(self, image: np.ndarray, box: np.ndarray, label: str) -> bool:
        """Whether the confirming model finds an object of `label`'s family on `box` (frame pixels)."""
        h, w = image.shape[:2]
        x1, y1, x2, y2 = crop_of(box, w, h)
        if x2 <= x1 or y2 <= y1:
            return False
        self.runs += 1
        dets = self.detector.detect(np.ascontiguousarray(image[y1:y2, x1:x2]))
        names = list(self.detector.class_names)
        wanted = family(label)
        target = np.asarray(box, np.float32)
        for k in range(len(dets)):
            cid = int(dets.class_id[k])
            name = names[cid] if 0 <= cid < len(names) else ""
            if name not in wanted or float(dets.confidence[k]) < self.settings.min_score:
                continue
            shifted = dets.xyxy[k] + np.array([x1, y1, x1, y1], np.float32)
            if iou(shifted, target) >= self.settings.min_iou:
                return True
        return False

    def forget(self, track_ids: set[int]) -> None:
        """Tracks that ended: their verdicts go (state stays bounded on a long stream)."""
        for tid in track_ids:
            self._verdicts.pop(tid, None)

    def state_size(self) -> int:
        return len(self._verdicts)


def confirmer_for(section: dict[str, Any] | None, base_dir: Any) -> Confirmer | None:
    """The camera's confirming model (its detector section's `confirm`), or None."""
    cfg = parse_detector_config(section)
    if cfg.confirm is None:
        return None
    second = {**(section or {}), "model": cfg.confirm.model}
    second.pop("confirm", None)
    try:
        return Confirmer(create_detector(second, base_dir=base_dir), cfg.confirm)
    except ModelError as exc:
        raise ModelError(f"detector.confirm.model: {exc}") from None
