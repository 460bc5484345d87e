"""The occupancy rule: vehicles counted in a parking zone, or in its spaces (docs/config.md).

Each frame the rule counts the watched objects whose bottom-centre is in the zone (with `spaces`: the
spaces that hold one, so a car across two bays counts once and a car in the lane counts in none). The count
of a moment is the median of the last `window_s` of per-frame counts (a parked car the detector misses in
one look does not leave and come back); every `sample_s` one sample (t, wall time, count, capacity) is kept
for the api and for `sharpeyes eval`. The zone is full while the count reaches the capacity: an episode
(the rule's `event`, e.g. parking_full) once it has been full for min_seconds.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from vision.boxes import box_iou
from vision.detections import Detections
from vision.rule_config import OccupancyRule
from vision.rules.base import Episode, RuleContext, ZoneRule
from vision.zones import PolygonZone

SEEN_S = 5.0   # a tracked object counts while seen within this long (parked cars: every keepalive look)


@dataclass(frozen=True)
class Sample:
    t: float
    wall_time: float | None
    count: int
    capacity: int


class Occupancy(ZoneRule):
    kind = "occupancy"

    def __init__(self, cfg: OccupancyRule, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        self.ocfg = cfg
        width, height = zone._size
        self.spaces = [PolygonZone(f"{zone.name}#{i}", p, width, height, inertia=1)
                       for i, p in enumerate(cfg.spaces)]
        self.capacity = int(cfg.capacity or len(cfg.spaces))
        self.window: deque[tuple[float, int]] = deque()
        self.samples: list[Sample] = []
        # every frame's count, the last 2 h at 5 fps (`sharpeyes eval` reads it)
        self.frames: deque[tuple[float, int]] = deque(maxlen=36000)
        self._next_sample = 0.0
        self._full_since: float | None = None
        self._current: Episode | None = None
        self.count = 0

    def _members(self, ctx: RuleContext) -> list[tuple[int, np.ndarray, float, str]]:
        # where each object stands now (no zone inertia: a parked car is looked at only every few seconds)
        seen = [tr for tr in ctx.tracks if ctx.t - tr.last_t <= SEEN_S
                and self.accepts(ctx.label(tr), tr.max_score)]
        if not seen:
            return []
        inside = self.zone.contains(np.stack([tr.anchor for tr in seen]))
        return [(tr.id, tr.box, float(tr.max_score), ctx.label(tr))
                for tr, ok in zip(seen, inside, strict=True) if ok]

    def _evaluate(self, ctx: RuleContext) -> list[Episode]:
        members = self._members(ctx)
        if self.spaces and members:
            feet = np.array([[(b[0] + b[2]) / 2, b[3]] for _, b, _, _ in members], dtype=np.float32)
            held = np.stack([sp.contains(feet) for sp in self.spaces])      # spaces x members
            raw = int(held.any(axis=1).sum())
        else:
            raw = len(members)
        self.window.append((ctx.t, raw))
        while self.window and ctx.t - self.window[0][0] > self.ocfg.window_s:
            self.window.popleft()
        self.count = int(round(statistics.median(c for _, c in self.window)))
        self.frames.append((ctx.t, self.count))
        wall = getattr(ctx, "wall_time", None)
        if ctx.t >= self._next_sample:
            self.samples.append(Sample(ctx.t, wall, self.count, self.capacity))
            self._next_sample = ctx.t + self.ocfg.sample_s
        return self._full(ctx, members)

    def _full(self, ctx: RuleContext, members: list[tuple[int, np.ndarray, float, str]]) -> list[Episode]:
        if self.count >= self.capacity:
            self._full_since = ctx.t if self._full_since is None else self._full_since
        else:
            self._full_since = None
        ep = self._current
        if self._full_since is not None and ctx.t - self._full_since >= self.ocfg.min_seconds and members:
            boxes = np.array([b for _, b, _, _ in members])
            box = np.array([*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0)], dtype=np.float32)
            if ep is None:
                ep = Episode(key=self._key(), label=members[0][3], first_seen=self._full_since, start=ctx.t,
                             last_t=ctx.t, box=box, score=max(s for _, _, s, _ in members), count=self.count)
                self._current = ep
            ep.last_t, ep.count = ctx.t, max(ep.count or 0, self.count)
        elif ep is not None and self._full_since is None:
            ep.done = True
            self._current = None
        return [ep] if ep is not None else []

    def reset(self) -> None:
        self._full_since, self._current = None, None

    def state_size(self) -> int:
        return len(self.window)


def look_bounds(zone: PolygonZone, width: int, height: int) -> tuple[int, int, int, int]:
    """The crop a parking zone is looked at through: its bounds, widened to hold whole vehicles (a car's
    box reaches well above its bottom-centre)."""
    x1, y1, x2, y2 = (float(v) for v in zone.bounds)
    up = max(y2 - y1, 0.15 * height)
    return (max(0, int(x1 - 0.03 * width)), max(0, int(y1 - up)),
            min(width, int(x2 + 0.03 * width)), min(height, int(y2 + 0.05 * height)))


def closer_look(detector: Any, image: np.ndarray, dets: Detections,
                crops: list[tuple[int, int, int, int]]) -> Detections:
    """The frame's detections plus those of each parking zone's crop (seen larger: parked cars are small in
    a wide view and stand still, so only the whole-frame looks see them); one box per object, the best."""
    if not crops:
        return dets
    per = detector.detect_batch([image[y1:y2, x1:x2] for x1, y1, x2, y2 in crops])
    parts = [dets]
    for (x1, y1, _, _), d in zip(crops, per, strict=True):
        if len(d):
            d = d[np.arange(len(d))]
            d.xyxy = (d.xyxy + np.array([x1, y1, x1, y1], dtype=np.float32)).astype(np.float32)
            parts.append(d)
    merged = Detections.merge(parts)
    order = np.argsort(-merged.confidence)
    keep: list[int] = []
    for i in order:
        if not keep or box_iou(merged.xyxy[i:i + 1], merged.xyxy[keep])[0].max() < 0.5:
            keep.append(int(i))
    return merged[np.asarray(sorted(keep), dtype=np.int64)]


def take_samples(camera: str, rules: list[tuple[str, int, ZoneRule]]) -> list[dict[str, Any]]:
    """The occupancy samples of a camera's parking zones since the last call, as the api takes them."""
    out = []
    for zone, _, r in rules:
        if isinstance(r, Occupancy):
            out += [{"camera": camera, "zone": zone, "t": s.t, "wall_time": s.wall_time, "count": s.count,
                     "capacity": s.capacity} for s in r.samples]
            r.samples.clear()
    return out
