"""The cut-and-paste parts of `compose.py`: objects cut from real footage (GrabCut, feathered masks), their
keyframed placements, and the background of the clip they are pasted into (median, pedestrians in front)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent


@dataclass
class Sprite:
    name: str
    source: dict[str, object]  # clip, frame, rect: where the pixels come from
    rgb: np.ndarray            # BGR uint8
    alpha: np.ndarray          # float32 0..1, feathered


def read_frame(clip: str, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(HERE / clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"cannot read frame {index} of {clip}")
    return np.asarray(frame)


def cut(name: str, clip: str, index: int, rect: tuple[int, int, int, int], feather: int = 2) -> Sprite:
    """GrabCut the object inside rect (x, y, w, h) of a frame; returns it cropped to its mask."""
    image = read_frame(clip, index)
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.setRNGSeed(0)
    cv2.grabCut(image, mask, rect, np.zeros((1, 65)), np.zeros((1, 65)), 8, cv2.GC_INIT_WITH_RECT)
    fg = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg)
    if n > 1:  # keep the largest piece and pieces near it (spokes, handlebars), drop specks
        keep = [k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] >= 0.01 * stats[1:,
                                                                                     cv2.CC_STAT_AREA].max()]
        fg = (np.isin(labels, keep) * 255).astype(np.uint8)
    fg = np.asarray(cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)), np.uint8)
    alpha = cv2.GaussianBlur(fg.astype(np.float32) / 255.0, (2 * feather + 1, 2 * feather + 1), 0)
    ys, xs = np.nonzero(alpha > 0.02)
    y1, y2, x1, x2 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return Sprite(name, {"clip": clip, "frame": index, "rect_xywh": list(rect)},
                  image[y1:y2, x1:x2].copy(), alpha[y1:y2, x1:x2].copy())


def bicycle_mask(shape: tuple[int, ...]) -> np.ndarray:
    """Hand-traced mask of the bicycle leaning on the wall in bikes.mp4 frame 230 (GrabCut cannot separate its
    black frame from the black grille behind it); the spokes stay transparent."""
    m = np.zeros(shape[:2], np.uint8)

    def poly(pts: list[tuple[int, int]]) -> None:
        cv2.fillPoly(m, [np.array(pts, np.int32)], 255)

    poly([(266, 60), (300, 53), (335, 58), (350, 75), (350, 135), (300, 138), (266, 125)])  # pannier bag
    cv2.ellipse(m, (307, 150), (44, 50), 0, 0, 360, 255, 7)                                  # rear wheel
    poly([(340, 18), (390, 16), (392, 32), (345, 35)])                                       # saddle
    cv2.line(m, (362, 33), (372, 142), 255, 6)                                               # seat tube
    poly([(293, 143), (330, 140), (398, 150), (400, 190), (345, 196), (300, 170)])           # chain guard
    cv2.line(m, (395, 150), (472, 65), 255, 7)                                               # down tube
    cv2.line(m, (400, 155), (488, 105), 255, 4)                                              # lower tube
    poly([(467, 40), (490, 38), (493, 125), (476, 128)])                                     # head tube, fork
    cv2.line(m, (458, 8), (512, 30), 255, 6)                                                 # handlebar
    poly([(493, 38), (518, 40), (518, 52), (493, 52)])                                       # lamp
    cv2.ellipse(m, (470, 165), (52, 52), 0, 180, 360, 255, 5)                                # front mudguard
    cv2.ellipse(m, (470, 165), (52, 52), 0, 0, 180, 255, 7)                                  # front tyre
    cv2.line(m, (415, 160), (418, 212), 255, 4)                                              # stand
    return m


def cut_masked(name: str, clip: str, index: int, mask: np.ndarray, feather: int = 2) -> Sprite:
    image = read_frame(clip, index)
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (2 * feather + 1, 2 * feather + 1), 0)
    ys, xs = np.nonzero(alpha > 0.02)
    y1, y2, x1, x2 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return Sprite(name, {"clip": clip, "frame": index, "mask": "hand-traced (compose.py: bicycle_mask)"},
                  image[y1:y2, x1:x2].copy(), alpha[y1:y2, x1:x2].copy())


@dataclass
class Placement:
    """An object on a keyframe path: (t, bottom-centre x, bottom y, width in px); absent outside [t0, t1]."""

    sprite: Sprite
    keys: list[tuple[float, float, float, float]]
    label: str
    alt_labels: list[str] = field(default_factory=list)
    flip: bool = False

    def at(self, t: float) -> tuple[float, float, float] | None:
        k = self.keys
        if t < k[0][0] - 1e-9 or t > k[-1][0] - 1e-9:  # present from the first key, gone at the last
            return None
        for (ta, xa, ya, wa), (tb, xb, yb, wb) in zip(k, k[1:], strict=False):
            if ta - 1e-9 <= t <= tb + 1e-9:
                u = 0.0 if tb == ta else (t - ta) / (tb - ta)
                return xa + u * (xb - xa), ya + u * (yb - ya), wa + u * (wb - wa)
        return k[-1][1], k[-1][2], k[-1][3]

    def render(self, t: float) -> tuple[np.ndarray, np.ndarray, tuple[int, int]] | None:
        """Scaled sprite pixels, alpha and top-left position at time t (None when absent)."""
        pos = self.at(t)
        if pos is None:
            return None
        cx, by, width = pos
        s = width / self.sprite.rgb.shape[1]
        w = max(2, round(self.sprite.rgb.shape[1] * s))
        h = max(2, round(self.sprite.rgb.shape[0] * s))
        rgb = cv2.resize(self.sprite.rgb, (w, h), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(self.sprite.alpha, (w, h), interpolation=cv2.INTER_AREA)
        if self.flip:
            rgb, alpha = rgb[:, ::-1], alpha[:, ::-1]
        return rgb, alpha, (round(cx - w / 2), round(by - h))


def background_frames(clip: str, start: int, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(HERE / clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    for _ in range(count):
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def median_background(clip: str) -> np.ndarray:
    cap = cv2.VideoCapture(str(HERE / clip))
    samples = []
    i = 0
    while True:
        ok, f = cap.read()
        if not ok:
            break
        if i % 8 == 0:
            samples.append(f)
        i += 1
    cap.release()
    return np.median(np.stack(samples), axis=0).astype(np.uint8)


def people_mask(frame: np.ndarray, bg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels of moving people (foreground blobs against the median background) and each blob's lowest y."""
    diff = cv2.absdiff(frame, bg).max(axis=2)
    fg = (diff > 35).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    fg = cv2.dilate(fg, np.ones((5, 5), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg)
    bottoms = stats[:, cv2.CC_STAT_TOP] + stats[:, cv2.CC_STAT_HEIGHT]
    return labels, bottoms, stats[:, cv2.CC_STAT_AREA]


def inside(poly: np.ndarray, x: float, y: float) -> bool:
    return cv2.pointPolygonTest(poly.astype(np.float32), (float(x), float(y)), False) >= 0
