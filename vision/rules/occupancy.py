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

import numpy as np

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
        out = []
        for tr in ctx.tracks:
            if ctx.t - tr.last_t > SEEN_S or not ctx.inside.get(tr.id, False):
                continue
            label = ctx.label(tr)
            if self.accepts(label, tr.max_score):
                out.append((tr.id, tr.box, float(tr.max_score), label))
        return out

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
