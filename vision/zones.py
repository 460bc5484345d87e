"""Zones: relative polygons, and which tracked objects are inside them.

An object is in a zone when its box's bottom-centre is inside the polygon. Membership changes only after
`inertia` consecutive observations agree, so one bad box neither starts nor ends an event.
"""

from __future__ import annotations

import cv2
import numpy as np


def to_pixels(points: list[tuple[float, float]] | np.ndarray, width: int, height: int) -> np.ndarray:
    """Relative 0..1 points -> pixel points (float32, N x 2)."""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    return pts * np.array([width, height], dtype=np.float32)


class PolygonZone:
    """A zone polygon in pixels, with per-object membership state (inertia)."""

    def __init__(self, name: str, polygon: list[tuple[float, float]], width: int, height: int,
                 inertia: int = 3) -> None:
        self.name = name
        self.polygon = to_pixels(polygon, width, height)
        self.inertia = inertia
        self._state: dict[int, tuple[bool, int]] = {}  # id -> (inside, consecutive disagreeing observations)
        x1, y1 = self.polygon.min(axis=0)
        x2, y2 = self.polygon.max(axis=0)
        self.bounds = np.array([x1, y1, x2, y2], dtype=np.float32)
        self._mask: np.ndarray | None = None
        self._size = (width, height)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Bool per point (N x 2 pixels): inside or on the polygon's edge."""
        contour = self.polygon.reshape(-1, 1, 2)
        return np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0
                         for x, y in np.asarray(points, dtype=np.float32).reshape(-1, 2)], dtype=bool)

    def trigger(self, ids: list[int], anchors: np.ndarray) -> np.ndarray:
        """Membership with inertia for these objects (ids with their anchor points this frame)."""
        raw = self.contains(anchors)
        out = np.zeros(len(ids), dtype=bool)
        for i, (oid, inside) in enumerate(zip(ids, raw, strict=True)):
            state, count = self._state.get(oid, (False, 0))
            if bool(inside) != state:
                count += 1
                if count >= self.inertia:
                    state, count = bool(inside), 0
            else:
                count = 0
            self._state[oid] = (state, count)
            out[i] = state
        return out

    def forget(self, ids: list[int] | set[int]) -> None:
        """Drop the state of objects that have ended."""
        for oid in ids:
            self._state.pop(oid, None)

    def mask(self) -> np.ndarray:
        """Filled uint8 mask (255 inside) at the frame size."""
        if self._mask is None:
            w, h = self._size
            self._mask = np.zeros((h, w), dtype=np.uint8)
            cv2.fillPoly(self._mask, [np.round(self.polygon).astype(np.int32)], 255)
        return self._mask

    def overlaps(self, box: np.ndarray) -> bool:
        """Whether a pixel box touches the polygon's bounding box (cheap pre-test for motion regions)."""
        b = self.bounds
        return bool(box[0] < b[2] and box[2] > b[0] and box[1] < b[3] and box[3] > b[1])

    def state_size(self) -> int:
        return len(self._state)
