"""The left_object rule: a static foreground region that no detector class explains (piled goods, dumped
garbage), found by a dual background at low resolution."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import cv2
import numpy as np

from vision.boxes import box_iou, inside_fractions, overlap
from vision.config import LeftObjectRule
from vision.rules.base import Episode, RuleContext, ZoneRule
from vision.zones import PolygonZone

GAIN_DARK, GAIN_BRIGHT = 12.0, 245.0   # grey levels: pixels whose ratio says little (noise, clipping)
GAIN_MIN_PIXELS = 200                  # of the 900-1200 sampled: fewer, and the exposure is left as it is
GAIN_MAX = 3.0
GAIN_STEP = 4                          # every 4th pixel of every 4th row of the small copy


class StaticForeground:
    """Dual background at low resolution: pixels that differ from the long-term background but have
    stopped changing are static foreground (something left behind). The long-term background does not
    learn where static foreground is, so a left object stays found while it stays."""

    FIRST_STEP_S = 0.2   # the warm-up keeps a frame this often for its median

    def __init__(self, width: int = 160, short_s: float = 2.0, long_s: float = 120.0,
                 threshold: float = 25.0) -> None:
        self.width = width
        self.short_s, self.long_s, self.threshold = short_s, long_s, threshold
        self._short: np.ndarray | None = None
        self._long: np.ndarray | None = None
        self._t = self._t0 = 0.0
        self.scale = 1.0
        self._first: list[np.ndarray] | None = []   # the warm-up's frames, for a median background at its end

    def shrink(self, image: np.ndarray) -> np.ndarray:
        """The frame's small blurred colour copy the model works on: it depends on the frame alone (no state),
        so a source's read-ahead thread may make it (CameraPipeline.ahead); 1.3 of the 1.8 ms of `apply`."""
        h, w = image.shape[:2]
        small = cv2.resize(image, (self.width, max(1, int(round(h / (w / self.width))))),
                           interpolation=cv2.INTER_AREA)
        # colour, not grey: a yellow rag on light paving has nearly the paving's brightness
        return cv2.GaussianBlur(small, (5, 5), 0).astype(np.float32)

    def apply(self, image: np.ndarray, t: float, small: np.ndarray | None = None) -> np.ndarray:
        """Feed one frame (BGR; `small`: its `shrink`, if made already); returns the static foreground mask
        (uint8, the model's size)."""
        self.scale = image.shape[1] / self.width
        gray = self.shrink(image) if small is None else small
        if self._long is not None:
            # to the long-term background's exposure: a light switched on, a cloud, the camera's auto exposure
            # change every pixel at once, and would otherwise leave the whole frame "static foreground" (the
            # long-term background never learns where static foreground is), burying what was left in it
            g = self.gain(gray)
            raw, gray = gray, gray * g
            if (g < 1).any():
                # brighter now: a pixel clipped at white says only that it is at least 255 / gain, which the
                # background may well be (a yellow rag in the sun) -- not a difference
                clipped = (raw >= GAIN_BRIGHT) & (g < 1)
                gray = np.where(clipped, np.maximum(gray, self._long), gray)
        if self._short is None or self._long is None:
            self._short, self._long, self._t, self._t0 = gray.copy(), gray.copy(), t, t
            return np.zeros(gray.shape[:2], dtype=np.uint8)
        dt_s = max(1e-3, t - self._t)
        self._t = t
        a_short = min(1.0, dt_s / self.short_s)
        # the first seconds learn fast and everywhere: whoever stood in the first frame leaves no ghost
        warm = t - self._t0 < 3 * self.short_s
        a_long = min(1.0, dt_s / (self.short_s if warm else self.long_s))
        moving = _channel_max(cv2.absdiff(gray, self._short)) > self.threshold
        cv2.accumulateWeighted(gray, self._short, a_short)
        static = (_channel_max(cv2.absdiff(self._short, self._long)) > self.threshold) & ~moving
        learn = np.ones_like(moving, dtype=np.uint8) if warm else (~static & ~moving).astype(np.uint8)
        cv2.accumulateWeighted(gray, self._long, a_long, mask=learn)
        if self._first is not None:
            # the warm-up ends with the per-pixel median of its frames as the long-term background: someone
            # who walked through then is in few of them and leaves no ghost (a running average keeps a trace)
            if warm:
                if len(self._first) <= (t - self._t0) / self.FIRST_STEP_S + 1e-6:   # at most 5 a second
                    self._first.append(gray.astype(np.uint8))
            else:
                self._long = np.median(np.stack(self._first), axis=0).astype(np.float32)
                self._first = None
        mask: np.ndarray = static.astype(np.uint8) * 255
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
        return mask

    def gain(self, small: np.ndarray) -> np.ndarray:
        """Per-channel factor that brings `small` to the long-term background's exposure: the median, over
        every 4th pixel, of background / frame where neither is nearly black or saturated. A median, so
        whatever moves or was left (under half the frame) does not move it."""
        assert self._long is not None
        now = small[::GAIN_STEP, ::GAIN_STEP].reshape(-1, 3)
        then = self._long[::GAIN_STEP, ::GAIN_STEP].reshape(-1, 3)
        g = np.ones(3, np.float32)
        for c in range(3):
            a, b = now[:, c], then[:, c]
            ok = (a > GAIN_DARK) & (a < GAIN_BRIGHT) & (b > GAIN_DARK) & (b < GAIN_BRIGHT)
            if np.count_nonzero(ok) >= GAIN_MIN_PIXELS:
                g[c] = float(np.median(b[ok] / a[ok]))
        return np.clip(g, 1 / GAIN_MAX, GAIN_MAX)

    def warming(self, t: float) -> bool:
        """Whether the long-term background is still being learnt fast and everywhere (the first seconds)."""
        return self._short is None or t - self._t0 < 3 * self.short_s

    def absorb(self, box: np.ndarray) -> None:
        """Learn a region (frame pixels) into the long-term background at once."""
        if self._short is None or self._long is None:
            return
        x1, y1 = int(box[0] / self.scale), int(box[1] / self.scale)
        x2, y2 = int(np.ceil(box[2] / self.scale)), int(np.ceil(box[3] / self.scale))
        self._long[y1:y2, x1:x2] = self._short[y1:y2, x1:x2]

def _channel_max(image: np.ndarray) -> np.ndarray:
    """Per-pixel largest of three channels (numpy's max over a last axis of 3 is ten times slower)."""
    return np.maximum(np.maximum(image[:, :, 0], image[:, :, 1]), image[:, :, 2])


class LeftObject(ZoneRule):
    """A static foreground region in the zone for >= min_seconds that no tracked object explains."""

    kind = "left_object"
    hold_s = 5.0  # a region hidden this long (people in front of it) has gone
    stood_s = 3.0  # someone still this long while the background is first learnt (or lingering then) ...
    stood_memory_s = 60.0  # ... leaves a ghost where he stood that is not reported for this long
    # someone who stays by a region this long (a track that stays, over it at every look) is with it: its
    # time starts again (its owner came back to it); one who walks past it in less is not (on left_objects at
    # sampling phase 2 a walker turning by the bag left at 30 s, slower than 0.3 sizes a second at one look,
    # started its time again at 40.2 s, 0.8 s before it was due: reported 10 s late)
    attend_s = 1.0
    together_s = 5.0  # regions first seen within this of each other, side by side (`_beside`), are one thing

    def __init__(self, cfg: LeftObjectRule, zone: PolygonZone,
                 background: Callable[[np.ndarray, float], np.ndarray] | None = None) -> None:
        super().__init__(cfg, zone)
        self.min_seconds = cfg.min_seconds
        self.min_area = cfg.min_area
        self.background = StaticForeground()
        self._regions: dict[str, Episode] = {}  # key -> candidate region (since = first_seen)
        self._fired: set[str] = set()
        self._attended: dict[str, float] = {}   # key -> since when someone staying has been over it, unbroken
        self._whole: dict[str, np.ndarray] = {}   # key -> its box last seen whole (nobody in front of it)
        # where people the first seconds' background learnt stood: what they leave behind is their ghost
        self._stood: deque[tuple[float, np.ndarray]] = deque(maxlen=2000)
        self._learnt: set[int] = set()   # ids of the people it learnt

    def _evaluate(self, ctx: RuleContext) -> list[Episode]:
        if ctx.image is None:
            return [ep for ep in self._regions.values() if ep.key in self._fired]
        mask = self.background.apply(ctx.image, ctx.t, ctx.shrunk)
        while self._stood and ctx.t - self._stood[0][0] > self.stood_memory_s:
            self._stood.popleft()
        warming = self.background.warming(ctx.t)
        for tr in ctx.tracks:
            if tr.last_t != ctx.t or ctx.label(tr) != "person":
                continue
            still = tr.still_seconds(ctx.t) >= self.stood_s
            # while the background is first learnt (fast, everywhere), someone still, or lingering (talking,
            # swaying: under half their size from where they were), is learnt into it. Only they leave a
            # ghost: later the long-term background never learns where something stands (a person waiting
            # or what he put down), so a thing left by someone who stood over it is a thing, not his ghost
            # (a carton set down and stood over for 4 s was taken for the ghost and not reported for 60 s)
            if not (still or (warming and tr.drift <= 0.5 and ctx.t - tr.first_t >= 1.0)):
                continue
            if warming:
                self._learnt.add(tr.id)
            if tr.id in self._learnt:
                self._stood.append((ctx.t, tr.box.copy()))
        s = self.background.scale
        h, w = ctx.image.shape[:2]
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        boxes: list[tuple[np.ndarray, bool]] = []
        # what could explain a region: objects that stay where they are; where people stood (box arrays, so a
        # region is checked against all of them at once: the stood list holds up to 2000 boxes). A track seen
        # once has no speed yet (its 0 is no measure): whether it stays is known only once it is seen again
        # (a walker seen at one look and then lost would stay by the region for the 1.5 s, over attend_s)
        staying = np.array([tr.box for tr in ctx.tracks
                            if ctx.t - tr.last_t <= 1.5 and len(tr.history) > 1 and tr.speed < 0.3],
                           np.float32).reshape(-1, 4)
        stood_boxes: np.ndarray | None = None
        for i in range(1, n):
            x, y, bw, bh, area = stats[i]
            if area * s * s < self.min_area * w * h:
                continue
            box = np.array([x * s, y * s, (x + bw) * s, (y + bh) * s], dtype=np.float32)
            anchor = np.array([[(box[0] + box[2]) / 2, box[3]]])
            if not self.zone.contains(anchor)[0]:
                continue
            # a detected object (a person standing, a parked car) explains it
            # (someone walking past is not: only an object that stays there itself)
            explained = _overlaps(box, staying, 0.2, 0.5)
            if not explained and stood_boxes is None:
                stood_boxes = np.array([b for _, b in self._stood], np.float32).reshape(-1, 4)
            if not explained and stood_boxes is not None and _overlaps(box, stood_boxes, 0.3, 0.5):
                # someone stood here and has gone: the difference is where he was (a ghost), not an object
                self.background.absorb(box)
                continue
            boxes.append((box, explained))
        seen: set[str] = set()
        # what may stand in front of a region: every object tracked now (a still one unlooked-at included)
        fronts = np.array([tr.box for tr in ctx.tracks], np.float32).reshape(-1, 4)
        for box, explained in boxes:
            match = _best_match(box, [ep for ep in self._regions.values() if ep.key not in seen])
            if match is not None:
                if match.key not in self._fired:
                    # a box over 90 % inside the one last seen whole is that, or part of it: a walker may have
                    # hidden a side of it just now without being tracked over it yet
                    last = self._whole.get(match.key)
                    if not (explained or _piece(match.box, box) or _overlaps(match.box, fronts, 0.0, 0.0)
                            or (last is not None and _holds(last, box, 0.9))):
                        self._whole[match.key] = box   # seen whole: nobody in front of it, no piece of it
                    match.box = box
                    # not left behind while someone stays with it: its time starts again (attend_s)
                    since = self._attended.setdefault(match.key, ctx.t) if explained else None
                    if since is None:
                        self._attended.pop(match.key, None)
                    elif ctx.t - since >= self.attend_s - 1e-6:
                        match.first_seen = ctx.t
                match.last_t = ctx.t
                seen.add(match.key)
            elif not explained and (part := next((ep for ep in self._regions.values()
                                                  if ep.key not in self._fired and ep.key in self._whole
                                                  and _holds(self._whole[ep.key], box)), None)) is not None:
                # the other piece of a thing someone walks past (he hides its middle): that thing, as last
                # seen whole (its box had become the piece on his one side, the piece on his other did not
                # match it, and with a walker every 6 s a bag's time started again every 6 s: never reported)
                part.last_t = ctx.t
                seen.add(part.key)
            elif (whole := next((ep for ep in self._regions.values()
                                 if ep.key in self._fired and _holds(ep.box, box)), None)) is not None:
                # a piece of a reported thing whose region came apart (someone beside it walked off, part of
                # it looks like the ground again): that thing, still there, not a new one; it keeps its box
                whole.last_t = ctx.t
            elif not explained:
                key = self._key()
                self._regions[key] = Episode(key=key, label="unknown", first_seen=ctx.t, start=ctx.t,
                                             last_t=ctx.t, box=box, score=1.0)
                seen.add(key)
        out = []
        for key, ep in list(self._regions.items()):
            if ctx.t - ep.last_t > self.hold_s:
                self._forget(key)
                if key in self._fired:
                    self._fired.discard(key)
                    ep.done = True
                    out.append(ep)
                continue
            if (
                key not in self._fired
                and ep.last_t == ctx.t
                and ep.last_t - ep.first_seen >= self.min_seconds
            ):
                if ctx.verify is not None and ctx.verify(ep.box):
                    ep.first_seen = ctx.t  # a person standing still, say: look again after min_seconds
                    continue
                near = next((r for k in self._fired if abs((r := self._regions[k]).first_seen - ep.first_seen)
                             <= self.together_s and _beside(r.box, ep.box)), None)
                if near is not None:
                    # the other piece of a reported thing, never seen whole (with someone walking past every
                    # 2 s, a bag's middle was hidden at every look: its two sides were reported 2 s apart), or
                    # a thing set down beside it at the same time (one pile): the reported thing, which takes
                    # its box in. Not one set down later (on left_objects a bag put down 15 s after a heap of
                    # garbage, 50 px from it, is a thing of its own)
                    near.box = np.concatenate([np.minimum(near.box[:2], ep.box[:2]),
                                               np.maximum(near.box[2:], ep.box[2:])]).astype(np.float32)
                    near.last_t = ctx.t
                    self._forget(key)
                    continue
                self._fired.add(key)
                ep.start = ctx.t
                last = self._whole.get(key)
                if last is not None and _holds(last, ep.box, 0.9):
                    # reported as the whole thing, not the piece a walker left in sight now: a reported
                    # region keeps its box, and the whole of it seen next is that thing, not a new one
                    ep.box = last
            if key in self._fired:
                out.append(ep)
        return out

    def _forget(self, key: str) -> None:
        """Drop a candidate region and what is kept of it (not whether it was reported)."""
        del self._regions[key]
        self._attended.pop(key, None)
        self._whole.pop(key, None)

    def reset(self) -> None:
        self._regions.clear()
        self._fired.clear()
        self._attended.clear()
        self._whole.clear()

    def state_size(self) -> int:
        return len(self._regions)


def _best_match(box: np.ndarray, eps: list[Episode]) -> Episode | None:
    """The candidate region `box` continues: of those it overlaps by IoU >= 0.3 or lies (or holds one) over
    0.6 inside, the first of the highest IoU. Plain floats (vision.boxes.overlap), without numpy's per-call
    cost on single boxes (every region, every frame)."""
    b = box.tolist()
    best, best_iou = None, -1.0
    for ep in eps:
        inter, b_area, e_area = overlap(b, np.asarray(ep.box, np.float64).tolist())
        union = e_area + b_area - inter
        o = inter / max(union, 1e-9) if union > 0 else 0.0
        inside = ((inter / b_area if b_area > 0 else 0.0) > 0.6
                  or (inter / e_area if e_area > 0 else 0.0) > 0.6)
        if (o >= 0.3 or inside) and o > best_iou:
            best, best_iou = ep, o
    return best


def _piece(whole: np.ndarray, box: np.ndarray) -> bool:
    """Whether `box` is a part of `whole`: lies (90 %) inside it at under 70 % of its area."""
    inter, b_area, w_area = overlap(np.asarray(box, np.float64).tolist(),
                                    np.asarray(whole, np.float64).tolist())
    return b_area > 0 and inter / b_area >= 0.9 and b_area < 0.7 * w_area


def _beside(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two boxes lie side by side (over half the shorter's height level with each other, or half the
    narrower's width one over the other) at most the shorter side of the larger one apart: the two sides of a
    thing whose middle someone hides, or two things set down together."""
    ax1, ay1, ax2, ay2 = (float(v) for v in a)
    bx1, by1, bx2, by2 = (float(v) for v in b)
    big = max((ax2 - ax1, ay2 - ay1), (bx2 - bx1, by2 - by1), key=lambda wh: wh[0] * wh[1])
    gap = min(big)
    level = min(ay2, by2) - max(ay1, by1) >= 0.5 * min(ay2 - ay1, by2 - by1)
    above = min(ax2, bx2) - max(ax1, bx1) >= 0.5 * min(ax2 - ax1, bx2 - bx1)
    return ((level and max(ax1, bx1) - min(ax2, bx2) <= gap)
            or (above and max(ay1, by1) - min(ay2, by2) <= gap))


def _holds(outer: np.ndarray, box: np.ndarray, min_inside: float = 0.6) -> bool:
    """Whether `box` lies over `min_inside` of its area inside `outer`."""
    inter, b_area, _ = overlap(np.asarray(box, np.float64).tolist(), np.asarray(outer, np.float64).tolist())
    return b_area > 0 and inter / b_area > min_inside


def _overlaps(box: np.ndarray, others: np.ndarray, min_iou: float, min_inside: float) -> bool:
    """Whether box overlaps one of `others` by more than `min_iou`, or lies over `min_inside` inside it."""
    if not len(others):
        return False
    return bool(((box_iou(box, others)[0] > min_iou) | (inside_fractions(box, others) > min_inside)).any())
