"""A cheap appearance embedding of an object: the hue-saturation histogram of its box.

Used to tell whether a new track is the object a lost track was following (a person missed for a second,
a car hidden by a passer-by) or another one that came to the same place. Dark and grey pixels carry no
reliable hue, so they fall in a value-only part of the histogram instead.
"""

from __future__ import annotations

import cv2
import numpy as np

H_BINS, S_BINS, V_BINS = 12, 4, 4
SIZE = (16, 32)  # crops are resized to this (w, h) first: the cost does not grow with the box


def embed(image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """L1-normalised histogram of the box's inner part (10 % trimmed off each side, less background)."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * 0.1, (y2 - y1) * 0.1
    a, b = int(max(0, x1 + dx)), int(max(0, y1 + dy))
    c, d = int(min(w, x2 - dx)), int(min(h, y2 - dy))
    if c - a < 2 or d - b < 2:
        return None
    crop = cv2.resize(image[b:d, a:c], SIZE, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int32)
    hue_ok = (hsv[:, 1] >= 40) & (hsv[:, 2] >= 40)
    colour = (hsv[:, 0] * H_BINS // 180) * S_BINS + np.minimum(hsv[:, 1] * S_BINS // 256, S_BINS - 1)
    grey = H_BINS * S_BINS + np.minimum(hsv[:, 2] * V_BINS // 256, V_BINS - 1)
    hist = np.bincount(np.where(hue_ok, colour, grey), minlength=H_BINS * S_BINS + V_BINS).astype(np.float32)
    return np.asarray(hist / max(1.0, float(hist.sum())), dtype=np.float32)


def distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Hellinger (Bhattacharyya) distance of two embeddings: 0 same, 1 nothing in common; 0.5 when unknown."""
    if a is None or b is None:
        return 0.5
    bc = float(np.sqrt(a * b).sum())
    return float(np.sqrt(max(0.0, 1.0 - bc)))


def blend(old: np.ndarray | None, new: np.ndarray | None, weight: float = 0.3) -> np.ndarray | None:
    """Running embedding of a track: mostly what it looked like, a little of what it looks like now."""
    if old is None:
        return new
    if new is None:
        return old
    return np.asarray((1 - weight) * old + weight * new, dtype=np.float32)
