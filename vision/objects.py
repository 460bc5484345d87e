"""Frigate's object filters and object masks: detections dropped before the tracker sees them.

    objects:
      mask: [[[0.0, 0.0], [0.2, 0.0], [0.2, 0.3], [0.0, 0.3]]]    # any label: a flag, a tree, a poster
      filters:
        person: {min_area: 0.002, max_area: 60000, min_score: 0.5, min_ratio: 0.2, max_ratio: 1.0}
        car: {mask: [[[0.5, 0.6], [1.0, 0.6], [1.0, 1.0], [0.5, 1.0]]]}   # only cars here are dropped

As in Frigate, a detection is in a mask when its box's bottom-centre is (inside or on the edge), areas
above 1 are pixels and areas up to 1 fractions of the frame, and the ratio is box width / height.
Motion masks (areas the motion detector ignores,
              e.g. a timestamp overlay) are `motion.mask` (vision/motion.py).
"""

from __future__ import annotations

from typing import Annotated, Any

import cv2
import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from vision.detections import Detections

Point = tuple[float, float]


def polygons(value: Any) -> Any:
    """One polygon (a list of [x, y]) or a list of polygons -> a list of polygons."""
    if isinstance(value, list) and value and isinstance(value[0], list | tuple) and value[0] \
            and isinstance(value[0][0], int | float):
        return [value]
    return value


def check_polygons(value: list[list[Point]], what: str) -> list[list[Point]]:
    for k, poly in enumerate(value):
        if len(poly) < 3:
            raise ValueError(f"{what} polygon {k} needs at least 3 points, got {len(poly)}")
        for x, y in poly:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"{what} polygon {k}: point [{x}, {y}] is outside 0..1 (coordinates are "
                                 "fractions of width, height)")
    return value


def _check_masks(value: list[list[Point]]) -> list[list[Point]]:
    return check_polygons(value, "mask")


# a `mask` key: one polygon or a list of them, relative 0..1 points (objects' and motion's masks alike)
Masks = Annotated[list[list[Point]], BeforeValidator(polygons), AfterValidator(_check_masks)]


class ObjectFilter(BaseModel):
    """Limits for one label; a detection outside any of them is dropped before tracking."""

    model_config = ConfigDict(extra="forbid")

    min_area: float = Field(default=0, ge=0, description="Smallest box area kept: pixels if above 1, else a "
                            "fraction of the frame area")
    max_area: float | None = Field(default=None, gt=0,
                                   description="Largest box area kept: pixels if above 1, "
                                   "else a fraction of the frame area; none: no limit")
    min_score: float | None = Field(default=None, ge=0, le=1,
                                    description="Least detector score kept for this "
                                    "label (above the detector's score_threshold to matter)")
    min_ratio: float | None = Field(default=None, gt=0,
                                    description="Least box width / height kept (a standing "
                                    "person is about 0.4)")
    max_ratio: float | None = Field(default=None, gt=0, description="Largest box width / height kept")
    mask: Masks = Field(default_factory=list, description="Polygons (relative 0..1 points) where "
                                    "this label is dropped, judged by the box's bottom-centre")

    @model_validator(mode="after")
    def _ordered(self) -> ObjectFilter:
        if self.min_ratio is not None and self.max_ratio is not None and self.min_ratio > self.max_ratio:
            raise ValueError(f"min_ratio {self.min_ratio} is above max_ratio {self.max_ratio}")
        return self


class ObjectsConfig(BaseModel):
    """The `objects:` section of a camera (the global one is every camera's default)."""

    model_config = ConfigDict(extra="forbid")

    mask: Masks = Field(default_factory=list, description="Object masks: polygons (relative 0..1 "
                                    "points) where detections of any label are dropped, judged by the box's "
                                    "bottom-centre (a flag, a tree, a poster)")
    filters: dict[str, ObjectFilter] = Field(default_factory=dict, description="Per-label filters "
                                             "(min_area, max_area, min_score, min_ratio, max_ratio, mask)")

    @property
    def active(self) -> bool:
        return bool(self.mask or self.filters)


def _area(value: float, frame_area: float) -> float:
    return value * frame_area if value <= 1.0 else value


class ObjectFilterer:
    """Applies an `ObjectsConfig` to one camera's detections (frame pixels)."""

    def __init__(self, config: ObjectsConfig, class_names: list[str], size: tuple[int, int]) -> None:
        self.config = config
        w, h = size
        self._size = size
        self._mask = self._raster(config.mask)
        index = {n: i for i, n in enumerate(class_names)}
        self._by_class: dict[int, tuple[ObjectFilter, np.ndarray | None]] = {}
        for label, f in config.filters.items():
            if label in index:  # unknown labels are refused by the config check against the model's classes
                self._by_class[index[label]] = (f, self._raster(f.mask))
        self._frame_area = float(w * h)
        self.dropped = 0

    def _raster(self, polys: list[list[Point]]) -> np.ndarray | None:
        if not polys:
            return None
        w, h = self._size
        mask = np.zeros((h + 1, w + 1), np.uint8)   # +1: a bottom edge at y = h is still in the frame
        for poly in polys:
            pts = np.round(np.asarray(poly, np.float64) * [w, h]).astype(np.int32)
            cv2.fillPoly(mask, [pts], 1)
            cv2.polylines(mask, [pts], True, 1)     # on the edge counts as inside
        return mask

    def _in(self, mask: np.ndarray, anchors: np.ndarray) -> np.ndarray:
        w, h = self._size
        x = np.clip(np.round(anchors[:, 0]).astype(np.int64), 0, w)
        y = np.clip(np.round(anchors[:, 1]).astype(np.int64), 0, h)
        return mask[y, x].astype(bool)

    def __call__(self, dets: Detections) -> Detections:
        if not len(dets) or not self.config.active:
            return dets
        anchors = np.stack([(dets.xyxy[:, 0] + dets.xyxy[:, 2]) / 2, dets.xyxy[:, 3]],
                           axis=1)  # bottom-centre
        keep = np.ones(len(dets), dtype=bool)
        if self._mask is not None:
            keep &= ~self._in(self._mask, anchors)
        bw = dets.xyxy[:, 2] - dets.xyxy[:, 0]
        bh = np.maximum(dets.xyxy[:, 3] - dets.xyxy[:, 1], 1e-6)
        area, ratio = bw * bh, bw / bh
        for cls, (f, mask) in self._by_class.items():
            mine = dets.class_id == cls
            if not mine.any():
                continue
            ok = area >= _area(f.min_area, self._frame_area)
            if f.max_area is not None:
                ok &= area <= _area(f.max_area, self._frame_area)
            if f.min_score is not None:
                ok &= dets.confidence >= f.min_score
            if f.min_ratio is not None:
                ok &= ratio >= f.min_ratio
            if f.max_ratio is not None:
                ok &= ratio <= f.max_ratio
            if mask is not None:
                ok &= ~self._in(mask, anchors)
            keep &= ~mine | ok
        self.dropped += int((~keep).sum())
        return dets if keep.all() else dets[keep]
