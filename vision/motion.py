"""Motion gating: run the detector only where something moves, and the whole frame now and then.

Usage::

    from vision.motion import MotionConfig, MotionGate

    gate = MotionGate(MotionConfig(keepalive_s=10), frame_size=(768, 576), input_size=detector.input_size,
                      zones=[[(0.1, 0.4), (0.9, 0.4), (0.9, 1.0), (0.1, 1.0)]])   # optional, relative 0..1
    for frame in frames:
        plan = gate.plan(frame.image, frame.t)          # "skip" | "regions" | "full"
        if plan.mode == "skip":
            detections = Detections.empty()             # nothing moved: the tracker coasts
        else:
            batch = gate.prepare(frame.image,
                                 plan)     # detector inputs: the frame, or crops packed in one image
            detections = batch.to_frame(detector.detect_batch(batch.images))   # frame pixels, NMS-merged

A background model (OpenCV MOG2 on a small grey copy of the frame) gives a foreground mask; its blobs
become boxes, padded and merged. ``plan`` then decides:

- ``full``: the first frame, every ``keepalive_s`` seconds (so parked cars, which the background model
  absorbs, stay tracked), and when motion covers most of the frame (lighting change, camera moved);
- ``regions``: the motion boxes (whole boxes of blobs that touch a zone of interest) packed side by side
  into ONE image of the model's input size, each at least at the scale the full frame would get, so the
  detector costs one inference and sees small objects larger than on the full frame;
  if they do not fit at that scale, the full frame is no worse and is used instead;
- ``skip``: nothing moves (in the zones) and no keep-alive is due: no inference at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vision.boxes import merge_boxes
from vision.objects import Masks
from vision.packing import PAD_VALUE, DetectorBatch, Tile, _shelf_pack

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in frame pixels, x2/y2 exclusive
Mode = Literal["skip", "regions", "full"]
CHANGE = 12  # grey levels (blurred small copy): a pixel that changed more than this since the frame before


class MotionConfig(BaseModel):
    """Settings of the motion gate (the `motion:` section of a camera config)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="false: run the detector on every full frame")
    width: int = Field(default=320, ge=64, description="width of the grey copy the background model works on")
    history: int = Field(default=300, ge=10,
                         description="frames the background model remembers (MOG2 history)")
    threshold: float = Field(default=25.0, gt=0,
                             description="MOG2 variance threshold: higher ignores weaker changes")
    min_area: float = Field(default=0.0004, ge=0,
                            description="smallest blob counted, as a fraction of the frame area")
    pad: float = Field(default=0.2, ge=0,
                       description="padding added around each motion box, as a fraction of its size")
    pad_px: int = Field(default=16, ge=0, description="padding added around each motion box, in frame pixels")
    min_box: int = Field(default=64, ge=1,
                         description="smallest crop side in frame pixels (context for the detector)")
    keepalive_s: float = Field(default=10.0, gt=0,
                               description="a full-frame detection at least this often, in seconds")
    full_fraction: float = Field(default=0.5, gt=0, le=1, description="motion boxes covering more than this "
                                 "fraction of the frame: full frame")
    warmup_frames: int = Field(default=3, ge=0, description="frames after start (or a full-frame change) run "
                               "on the full frame")
    region_scale: float | None = Field(
        default=None,
        gt=0,
        le=4,
        description="Largest scale motion regions are enlarged to in the detector input; "
        "none: 2 for a model with a fixed input size; for one that takes any size (YOLOX here), where more "
        "pixels cost more time, the scale the whole frame is detected at (at most 1)",
    )
    mask: Masks = Field(
        default_factory=list, description="Motion masks: polygons (relative 0..1 points) the motion detector "
        "ignores, e.g. a timestamp overlay or a swaying tree; "
        "objects there are still detected on full frames")


@dataclass
class Plan:
    """What to run the detector on for one frame."""

    mode: Mode
    regions: list[Box] = field(default_factory=list)  # motion boxes, frame pixels (after padding and merging)
    reason: str = ""
    motion_fraction: float = 0.0  # fraction of the frame inside motion boxes
    blobs: list[Box] = field(default_factory=list)  # the moving blobs themselves, frame pixels (unpadded)


def feet_touch(region: Box, blobs: list[Box], mask: np.ndarray) -> bool:
    """Whether a blob of this region could stand in `mask` (uint8, frame size): its lowest quarter, or a
    little below it (a moving upper body over still legs), touches the mask. Without blobs: the region."""
    mine = [
        b
        for b in blobs
        if region[0] <= (b[0] + b[2]) / 2 <= region[2] and region[1] <= (b[1] + b[3]) / 2 <= region[3]
    ]
    if not mine:
        return bool(mask[region[1]:region[3], region[0]:region[2]].any())
    for x1, y1, x2, y2 in mine:
        h = y2 - y1
        if mask[max(0, y2 - h // 4):y2 + max(8, int(0.3 * h)), x1:x2].any():
            return True
    return False


def zone_mask(zones: Sequence[Sequence[tuple[float, float]]], size: tuple[int, int]) -> np.ndarray:
    """A uint8 mask (h, w) of the union of relative 0..1 polygons at `size` = (w, h)."""
    w, h = size
    mask = np.zeros((h, w), np.uint8)
    for poly in zones:
        pts = np.round(np.asarray(poly, np.float64) * [w, h]).astype(np.int32)
        cv2.fillPoly(mask, [pts], 255)
    return mask


@dataclass
class MotionSample:
    """What the background model made of one frame: motion boxes (padded, merged) and blobs in frame
    pixels, the foreground mask, the blurred small grey copy and the one before."""

    regions: list[Box]
    blobs: list[Box]
    mask: np.ndarray
    grey: np.ndarray
    prev: np.ndarray | None


class MotionDetector:
    """Background model on a downscaled grey frame; returns padded, merged motion boxes in frame pixels."""

    def __init__(self, config: MotionConfig, frame_size: tuple[int, int],
                 zones: Sequence[Sequence[tuple[float, float]]] | None = None) -> None:
        self.config = config
        self.frame_size = frame_size
        w, h = frame_size
        self.scale = min(1.0, config.width / w)
        self.small_size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
        self._bg = cv2.createBackgroundSubtractorMOG2(history=config.history, varThreshold=config.threshold,
                                                      detectShadows=False)
        self._zones = zone_mask(zones, self.small_size) if zones else None
        # motion masks: grown by the dilation below, so a masked overlay's edge never leaks into a blob
        self._ignore = (cv2.dilate(zone_mask(config.mask, self.small_size), np.ones((5, 5), np.uint8)) > 0
                        if config.mask else None)
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.blobs: list[Box] = []           # last frame's moving blobs, frame pixels (unpadded)
        self.mask: np.ndarray | None = None  # last foreground mask (small size), for display and debugging
        self.grey: np.ndarray | None = None  # last blurred small grey frame
        self.prev_grey: np.ndarray | None = None  # the one before (frame difference: is it still moving?)
        self._fed: np.ndarray | None = None  # the grey copy of the last frame measured

    def reset(self) -> None:
        self._bg = cv2.createBackgroundSubtractorMOG2(history=self.config.history,
                                                      varThreshold=self.config.threshold, detectShadows=False)

    def small_grey(self, image: np.ndarray) -> np.ndarray:
        """The blurred small grey copy the background model works on (depends on this frame alone)."""
        # grey first, then a bilinear resize: 10x cheaper than INTER_AREA on colour; the blur takes the
        # aliasing
        small = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), self.small_size,
                           interpolation=cv2.INTER_LINEAR)
        return cv2.GaussianBlur(small, (5, 5), 0)

    def measure(self, image: np.ndarray, grey: np.ndarray | None = None) -> MotionSample:
        """Feed one frame (BGR, frame size; `grey`: its `small_grey`, if made already) to the background
        model. Depends only on the frames fed, in order, so it may run ahead of `use` in another thread."""
        grey = self.small_grey(image) if grey is None else grey
        prev, self._fed = self._fed, grey
        return self._sample(self._bg.apply(grey), grey, prev)

    def difference(self, grey: np.ndarray, prev: np.ndarray | None,
                   prev2: np.ndarray | None = None) -> MotionSample:
        """What moved since the frame before (`prev`: its small grey copy), not fed to the background model: a
        line camera's frames between two detect-fps ones, where what matters is fast (gating.LineBurst).
        With the frame before that (`prev2`), only what differs from both: where the object is now."""
        fg = np.zeros_like(grey) if prev is None else cv2.absdiff(grey, prev)
        if prev2 is not None:
            fg = cv2.min(fg, cv2.absdiff(grey, prev2))
        return self._sample(cv2.threshold(fg, CHANGE, 255, cv2.THRESH_BINARY)[1], grey, prev)

    def _sample(self, fg: np.ndarray, grey: np.ndarray, prev: np.ndarray | None) -> MotionSample:
        """Foreground mask (small size) -> motion boxes and blobs in frame pixels."""
        if self._ignore is not None:
            fg[self._ignore] = 0
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._kernel)
        fg = cv2.dilate(fg, self._kernel, iterations=2)
        # Grana's block-based labelling: the same labels and stats as the default (Spaghetti) here, in less
        # than half its time on these small masks
        n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(fg, 8, cv2.CV_32S, cv2.CCL_GRANA)
        min_px = self.config.min_area * self.small_size[0] * self.small_size[1]
        boxes: list[Box] = []
        blobs: list[Box] = []
        for k in range(1, n):
            x, y, bw, bh, area = (int(v) for v in stats[k])
            if area < min_px:
                continue
            if self._zones is not None and not np.any(self._zones[y:y + bh, x:x + bw][labels[y:y + bh,
                                                                                             x:x + bw] == k]):
                continue  # blob entirely outside the zones of interest
            boxes.append(self._to_frame((x, y, x + bw, y + bh)))
            s = 1.0 / self.scale
            blobs.append((int(x * s), int(y * s), int(np.ceil((x + bw) * s)), int(np.ceil((y + bh) * s))))
        return MotionSample(merge_boxes(boxes), blobs, fg, grey, prev)

    def use(self, sample: MotionSample) -> list[Box]:
        """Make a measured frame the current one (blobs, mask, grey); returns its motion boxes."""
        self.blobs, self.mask, self.grey, self.prev_grey = sample.blobs, sample.mask, sample.grey, sample.prev
        return sample.regions

    def update(self, image: np.ndarray, grey: np.ndarray | None = None) -> list[Box]:
        """Feed one frame (BGR, frame size); return motion boxes in frame pixels."""
        return self.use(self.measure(image, grey))

    def changed_pixels(self, mask: np.ndarray, threshold: int = CHANGE) -> int:
        """Pixels of `mask` (small size, uint8) that changed by more than `threshold` since the last frame."""
        if self.grey is None or self.prev_grey is None:
            return 0
        diff = cv2.absdiff(self.grey, self.prev_grey)
        if self._ignore is not None:
            diff[self._ignore] = 0
        _, moved = cv2.threshold(diff, threshold, 255, cv2.THRESH_BINARY)
        return int(cv2.countNonZero(cv2.bitwise_and(moved, mask)))

    def _to_frame(self, b: Box) -> Box:
        """Scale a small-mask box to frame pixels, pad it, give it a minimum size and clip it to the frame."""
        c, (w, h) = self.config, self.frame_size
        s = 1.0 / self.scale
        x1, y1, x2, y2 = b[0] * s, b[1] * s, b[2] * s, b[3] * s
        px = (x2 - x1) * c.pad / 2 + c.pad_px
        py = (y2 - y1) * c.pad / 2 + c.pad_px
        x1, y1, x2, y2 = x1 - px, y1 - py, x2 + px, y2 + py
        for lo, hi, limit in ((0, 2, w), (1, 3, h)):
            box = [x1, y1, x2, y2]
            side = min(max(box[hi] - box[lo], c.min_box), limit)
            mid = (box[lo] + box[hi]) / 2
            a = min(max(mid - side / 2, 0.0), limit - side)
            if lo == 0:
                x1, x2 = a, a + side
            else:
                y1, y2 = a, a + side
        return (int(np.floor(x1)), int(np.floor(y1)), int(np.ceil(x2)), int(np.ceil(y2)))


class MotionGate:
    """Per-frame plan (skip / regions / full) and the detector inputs that go with it."""

    def __init__(self, config: MotionConfig, frame_size: tuple[int, int], input_size: tuple[int, int],
                 zones: Sequence[Sequence[tuple[float,
                                                float]]] | None = None, free_size: bool = False,
                 stretched: bool = False, own_floor: bool = False) -> None:
        """`free_size`: the detector takes any input up to `input_size` (cost grows with its area), so the
        packed regions are not enlarged beyond their own size and the input is cut to what they cover.
        `stretched`: with `free_size`, a model that runs the whole frame stretched to its full input (PicoDet
        here): regions are packed as for a fixed input (enlarged up to 2x, never costlier than the whole
        frame) and the input is cut to what they cover."""
        self.config = config
        self.frame_size = frame_size
        self.input_size = input_size
        self.free_size = free_size
        self.stretched = stretched
        # a free-size input costs its area: regions at the scale the whole frame is detected at (at most 1)
        default = min(1.0, self.full_scale) if free_size and not stretched else 2.0
        if free_size and stretched:
            # objects no smaller than the stretched whole frame shows them on its more enlarged axis, at
            # their own size at least, enlarged 2x at most (as for a fixed input)
            default = min(2.0, max(1.0, input_size[0] / frame_size[0], input_size[1] / frame_size[1]))
        self.max_scale = config.region_scale if config.region_scale is not None else default
        self.own_floor = own_floor and free_size and not stretched and self.full_scale > 1   # see pipeline
        self.motion = MotionDetector(config, frame_size, zones)
        self._last_full_t: float | None = None
        self._full_before: float | None = None
        self._frames = 0
        self._warm_until = config.warmup_frames
        self.counts: dict[str, int] = {"skip": 0, "regions": 0, "full": 0}

    @property
    def full_scale(self) -> float:
        """Scale the detector applies to the whole frame (letterboxed into its input)."""
        return min(self.input_size[0] / self.frame_size[0], self.input_size[1] / self.frame_size[1])

    def plan(self, image: np.ndarray, t: float, early: MotionSample | np.ndarray | None = None,
             between: bool = False) -> Plan:
        """Update the background model with this frame and decide what the detector runs on. `early`: the
        frame's MotionSample (measured ahead), or its small grey copy (made ahead). `between`: a line
        camera's frame between two detect-fps ones, measured by a frame difference, which starts no warm-up
        (the background model did not see it)."""
        c = self.config
        if not c.enabled:
            regions = []
        elif isinstance(early, MotionSample):
            regions = self.motion.use(early)
        else:
            regions = self.motion.update(image, early)
        w, h = self.frame_size
        frac = sum((b[2] - b[0]) * (b[3] - b[1]) for b in regions) / float(w * h)
        self._frames += 1
        p: Plan
        if not c.enabled:
            p = Plan("full", regions, "motion gating off", frac)
        elif self._frames <= self._warm_until:
            p = Plan("full", regions, "background model warming up", frac)
        elif self._last_full_t is None or t - self._last_full_t >= c.keepalive_s - 1e-6:
            p = Plan("full", regions, "keep-alive", frac)
        elif frac > c.full_fraction:
            p = Plan("full", regions, "motion covers most of the frame", frac)
            self._warm_until = self._warm_until if between else self._frames + c.warmup_frames
        elif not regions:
            p = Plan("skip", [], "no motion", 0.0)
        elif self._pack(regions) is None:
            p = Plan("full", regions, "motion regions do not fit one input at full-frame scale", frac)
        else:
            p = Plan("regions", regions, f"{len(regions)} motion region(s)", frac, list(self.motion.blobs))
        if p.mode == "full":
            self._full_before, self._last_full_t = self._last_full_t, t
        self.counts[p.mode] += 1
        return p

    @property
    def rewarming(self) -> bool:
        """Whether the warm-up now is one restarted by motion over most of the frame (not the first one)."""
        return self.config.warmup_frames < self._frames <= self._warm_until

    def undo_full(self) -> None:
        """The full plan just made is not run (the caller skips it): the next keep-alive is due as before."""
        self._last_full_t = self._full_before
        self.counts["full"] -= 1
        self.counts["skip"] += 1

    def full_now(self, t: float, reason: str, replaces: str | None = None) -> Plan:
        """A full-frame plan asked for by the caller; it counts as this period's keep-alive. `replaces`: the
        mode of the plan just made for this frame, which it takes the place of (not run, not counted)."""
        self._last_full_t = t
        self.counts["full"] += 1
        if replaces is not None:
            self.counts[replaces] -= 1
        return Plan("full", [], reason, 1.0)

    def prepare(self, image: np.ndarray, plan: Plan) -> DetectorBatch:
        """Detector inputs for a plan: the frame itself (full), or the regions packed into one image."""
        h, w = image.shape[:2]
        if plan.mode == "skip":
            return DetectorBatch([], [], (w, h))
        if plan.mode == "full":
            return DetectorBatch([image], [Tile((0, 0, w, h), 0, (0, 0), 1.0)], (w, h))
        packed = self._pack(plan.regions)
        if packed is None:  # should not happen: plan() checked it; fall back to the full frame
            return DetectorBatch([image], [Tile((0, 0, w, h), 0, (0, 0), 1.0)], (w, h))
        scale, places = packed
        iw, ih = self.input_size
        canvas = np.full((ih, iw, 3), PAD_VALUE, np.uint8)
        tiles = []
        for box, (ox, oy) in zip(plan.regions, places, strict=True):
            x1, y1, x2, y2 = box
            tw, th = max(1, round((x2 - x1) * scale)), max(1, round((y2 - y1) * scale))
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            canvas[oy:oy + th, ox:ox + tw] = cv2.resize(image[y1:y2, x1:x2], (tw, th), interpolation=interp)
            tiles.append(Tile(box, 0, (ox, oy), tw / (x2 - x1)))
        if self.free_size:  # the detector pads what is left to its stride
            used_w = max(t.offset[0] + round((t.src[2] - t.src[0]) * t.scale) for t in tiles)
            used_h = max(t.offset[1] + round((t.src[3] - t.src[1]) * t.scale) for t in tiles)
            canvas = canvas[:used_h, :used_w]
        return DetectorBatch([canvas], tiles, (w, h), own_size=self.free_size)

    def _pack(self, regions: list[Box]) -> tuple[float, list[tuple[int, int]]] | None:
        """Shelf-pack the regions into the model input at the largest scale <= max_scale that fits.

        Returns None when they only fit at a scale below the full frame's (then the full frame is better).
        """
        iw, ih = self.input_size
        sizes = [(b[2] - b[0], b[3] - b[1]) for b in regions]
        scale = min(self.max_scale, min(iw / sw for sw, _ in sizes), min(ih / sh for _, sh in sizes))
        floor = 1.0 if self.own_floor else self.full_scale
        # a free-size input costs its area: no more pixels than the whole frame at its own scale
        budget = float("inf")
        if self.free_size and not self.stretched:
            budget = self.frame_size[0] * self.frame_size[1] * floor * floor
        while scale >= floor - 1e-9:
            scaled = [(round(sw * scale), round(sh * scale)) for sw, sh in sizes]
            places = _shelf_pack(scaled, iw, ih, gap=4)
            if places is not None and _extent(scaled, places) <= budget:
                return scale, places
            scale *= 0.9
        return None


def _extent(sizes: list[tuple[int, int]], places: list[tuple[int, int]]) -> int:
    """Area of the smallest input holding the placed rectangles (from the top-left corner)."""
    return max(x + w for (w, _), (x, _) in zip(sizes, places, strict=True)) * max(
        y + h for (_, h), (_, y) in zip(sizes, places, strict=True))
