"""Box geometry, the one home of it in vision: boxes are `[x1, y1, x2, y2]` in pixels, arrays of shape (N, 4)
or a single (4,) box."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _2d(boxes: np.ndarray | list[float]) -> np.ndarray:
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection areas of boxes a (N,4) and b (M,4): an (N, M) matrix."""
    a, b = _2d(a), _2d(b)
    # elementwise ufuncs, not np.clip / np.prod: the same numbers, without their Python-level overhead on
    # the few boxes of a frame (these run thousands of times a second)
    rb, lt = np.minimum(a[:, None, 2:], b[None, :, 2:]), np.maximum(a[:, None, :2], b[None, :, :2])
    wh = np.maximum(rb - lt, 0.0)
    return np.asarray(wh[:, :, 0] * wh[:, :, 1])


def area(boxes: np.ndarray) -> np.ndarray:
    b = _2d(boxes)
    wh = np.maximum(b[:, 2:] - b[:, :2], 0.0)
    return np.asarray(wh[:, 0] * wh[:, 1])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of boxes a (N,4) and b (M,4)."""
    inter = intersection(a, b)
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.asarray(np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two single boxes."""
    return float(box_iou(a, b)[0, 0])


def inside_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of box a's area inside box b (0 for an empty box a)."""
    return float(inside_fractions(a, b)[0])


def inside_fractions(a: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Fraction of box a's area inside each of `others` (M,4): an (M,) array, zeros for an empty box a."""
    area_a = float(area(a)[0])
    inter = intersection(a, others)[0]
    return np.asarray(inter / area_a) if area_a > 0 else np.zeros(len(inter))


def covered(box: np.ndarray, others: np.ndarray, frac: float = 0.7, pad: float = 0.25,
            pad_px: float = 24) -> bool:
    """Whether at least `frac` of `box` lies inside `others` (each padded by `pad` of its size plus `pad_px`).

    Overlaps between the padded boxes are counted once per box, so this errs towards `True`."""
    others = _2d(others)
    if not len(others):
        return False
    b = _2d(box)[0]
    grow = (others[:, 2:] - others[:, :2]) * pad + pad_px
    # intersection(box, padded) and area(box) written out: the same numbers, a third of the calls (this runs
    # for every motion region and blob of every planned frame)
    wh = np.maximum(np.minimum(others[:, 2:] + grow, b[2:]) - np.maximum(others[:, :2] - grow, b[:2]), 0.0)
    own = max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0)
    return bool((wh[:, 0] * wh[:, 1]).sum() / max(1.0, float(own)) >= frac)


def overlap(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """(intersection, area of a, area of b) of two single boxes given as plain floats (`box.tolist()`): the
    float64 arithmetic of intersection() and area(), without numpy's per-call cost where a rule tests one box
    against a few, every frame (vision/rules: line, left_object)."""
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    inter = max(min(ax2, bx2) - max(ax1, bx1), 0.0) * max(min(ay2, by2) - max(ay1, by1), 0.0)
    return inter, max(ax2 - ax1, 0.0) * max(ay2 - ay1, 0.0), max(bx2 - bx1, 0.0) * max(by2 - by1, 0.0)


def size(box: np.ndarray) -> float:
    """An object's size in pixels: the square root of its box area (at least 1)."""
    return float(np.sqrt(max(1.0, float(area(box)[0]))))


def bottom_centre(box: np.ndarray) -> np.ndarray:
    """The point tested against zones: the middle of the box's bottom edge (feet, wheels)."""
    return np.array([(box[0] + box[2]) / 2, box[3]], dtype=np.float32)


def top_centre(box: np.ndarray) -> np.ndarray:
    """The middle of the box's top edge (a walker's head: where a box cut short at the legs still is)."""
    return np.array([(box[0] + box[2]) / 2.0, box[1]], dtype=np.float32)


def centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], dtype=np.float32)


def merge_boxes(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Union overlapping int boxes (frame pixels) until none overlap (touching counts as overlapping)."""
    out = list(boxes)
    changed = True
    while changed:
        changed = False
        i = 0
        while i < len(out):
            j = i + 1
            while j < len(out):
                a, b = out[i], out[j]
                if a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]:
                    out[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del out[j]
                    changed = True
                else:
                    j += 1
            i += 1
    return out
