"""The crowd rule: at least min_count objects in the zone at once for >= min_seconds."""

from __future__ import annotations

import numpy as np

from vision.config import CrowdRule
from vision.rules.base import Episode, RuleContext, ZoneRule
from vision.zones import PolygonZone


class Crowd(ZoneRule):
    """At least min_count objects in the zone at once for >= min_seconds."""

    kind = "crowd"
    hold_s = 2.0

    def __init__(self, cfg: CrowdRule, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        self.min_count = cfg.min_count
        self.min_seconds = cfg.min_seconds
        self._since: float | None = None
        self._last_ok = -1e9
        self._current: Episode | None = None

    def _evaluate(self, ctx: RuleContext) -> list[Episode]:
        members = [tr for tr in ctx.tracks if ctx.inside.get(tr.id, False) and ctx.t - tr.last_t <= 1.0
                   and self.accepts(ctx.label(tr), tr.max_score)]
        if len(members) >= self.min_count:
            self._since = ctx.t if self._since is None else self._since
            self._last_ok = ctx.t
        elif self._since is not None and ctx.t - self._last_ok > self.hold_s:
            self._since = None
        ep = self._current
        if self._since is not None and ctx.t - self._since >= self.min_seconds and members:
            boxes = np.array([tr.box for tr in members])
            box = np.array([*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0)], dtype=np.float32)
            labels = [ctx.label(tr) for tr in members]
            if ep is None:
                ep = Episode(key=self._key(), label=max(set(labels), key=labels.count),
                             first_seen=self._since,
                             start=ctx.t, last_t=ctx.t, box=box, score=max(tr.max_score for tr in members),
                             count=len(members))
                self._current = ep
            ep.last_t = ctx.t if len(members) >= self.min_count else ep.last_t
            ep.count = max(ep.count or 0, len(members))
            ep.score = max(ep.score, *(tr.max_score for tr in members))
        elif ep is not None and self._since is None:
            ep.done = True
            self._current = None
        return [ep] if ep is not None else []

    def reset(self) -> None:
        self._since, self._current = None, None
