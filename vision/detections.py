"""The one currency type of the vision pipeline (after supervision's `Detections`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Detections:
    """Boxes in source pixels. Every stage takes and returns this; a boolean mask returns a new one."""

    xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), dtype=np.float32))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros((0,), dtype=np.float32))
    class_id: np.ndarray = field(default_factory=lambda: np.zeros((0,), dtype=np.int64))
    tracker_id: np.ndarray | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        self.class_id = np.asarray(self.class_id, dtype=np.int64).reshape(-1)
        n = len(self.xyxy)
        if len(self.confidence) != n or len(self.class_id) != n:
            raise ValueError(
                f"Detections arrays disagree in length: {n}, {len(self.confidence)}, {len(self.class_id)}"
            )
        if self.tracker_id is not None:
            self.tracker_id = np.asarray(self.tracker_id, dtype=np.int64).reshape(-1)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> Detections:
        if isinstance(index, int | np.integer):
            index = [int(index)]
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=None if self.tracker_id is None else self.tracker_id[index],
            data={k: np.asarray(v)[index] for k, v in self.data.items()},
        )

    def __iter__(self) -> Iterator[Detections]:
        for i in range(len(self)):
            yield self[i]

    @classmethod
    def empty(cls) -> Detections:
        return cls()

    @classmethod
    def merge(cls, parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls()
        keys = set.intersection(*(set(p.data) for p in parts)) if parts else set()
        tids = [p.tracker_id for p in parts]
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            tracker_id=None if any(t is None for t in tids) else np.concatenate(tids),  # type: ignore[arg-type]
            data={k: np.concatenate([np.asarray(p.data[k]) for p in parts]) for k in keys},
        )

    @property
    def area(self) -> np.ndarray:
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])


def known_object_at(detector: Any, image: np.ndarray, box: np.ndarray) -> bool:
    """Whether the detector, run on a crop around `box`, finds an object covering it."""
    h, w = image.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    side = max(bw, bh) * 2.5 + 32
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x1, y1 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x2, y2 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
    dets = detector.detect(image[y1:y2, x1:x2])
    # covered by the union of the boxes found (two people standing side by side make one region)
    bx1, by1 = int(box[0]), int(box[1])
    cover = np.zeros((max(1, int(bh)), max(1, int(bw))), dtype=bool)
    for b in dets.xyxy + np.array([x1, y1, x1, y1], dtype=np.float32):
        cover[max(0, int(b[1]) - by1):max(0, int(b[3]) - by1),
              max(0, int(b[0]) - bx1):max(0, int(b[2]) - bx1)] = True
    return bool(cover.mean() > 0.5)
