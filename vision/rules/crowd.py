"""The crowd rule: at least min_count objects in the zone at once for >= min_seconds.

A crowd is people present now (`present`): a track counts while it is seen, or unseen only briefly. Motion
gating may leave a still or predictable track unlooked-at for a while (it is not found again only because
nobody looked), so an unseen track counts for up to RECENT_S; but one that detector runs looked for where it
was and did not find, MISSES times in a row, is gone (walked off, hidden, or a false box that came and went):
one miss is the detector's flicker. Counting misses, not seconds, makes "briefly" follow the detect rate: at
5 detect fps two misses are 0.2-0.4 s. (With unseen tracks counted for 1 s, real_campus_walkway at sampling
phase 2 counted 6 from 2.27 s with 4 people there: a torso box beside a girl's and a bin seen now and then,
each counted for the 1 s after it was last seen.)

The count may dip below min_count for up to `gap_s` (someone hidden, or stepping away a moment) without
ending the crowd or starting its time again (with 2 s, a gathering whose count dipped for 4 s twice was three
events, each min_seconds after a dip); but the event begins only at a frame where the crowd is there
(>= min_count now), not where min_seconds after its start have passed while it has already thinned out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vision.config import CrowdRule
from vision.rules.base import Episode, RuleContext, ZoneRule
from vision.track import Track
from vision.zones import PolygonZone

RECENT_S = 1.0   # an unseen track no detector run has looked for in vain counts this long
MISSES = 2       # detector runs in a row that looked for an unseen track in vain: it no longer counts


def present(track: Track, t: float, misses: Mapping[int, int]) -> bool:
    """Whether a track counts as there now: seen now, or unseen for at most RECENT_S and looked for in vain
    fewer than MISSES times in a row (`misses`: track id -> such runs, RuleContext.misses)."""
    return bool(track.last_t >= t - 1e-6 or (t - track.last_t <= RECENT_S
                                              and misses.get(track.id, 0) < MISSES))


class Crowd(ZoneRule):
    """At least min_count objects in the zone at once for >= min_seconds."""

    kind = "crowd"

    def __init__(self, cfg: CrowdRule, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        self.min_count = cfg.min_count
        self.min_seconds = cfg.min_seconds
        self.gap_s = cfg.gap_s
        self._since: float | None = None
        self._last_ok = -1e9
        self._current: Episode | None = None

    def _evaluate(self, ctx: RuleContext) -> list[Episode]:
        members = [tr for tr in ctx.tracks if ctx.inside.get(tr.id, False) and present(tr, ctx.t, ctx.misses)
                   and self.accepts(ctx.label(tr), tr.max_score)]
        crowd_now = len(members) >= self.min_count
        if crowd_now:
            self._since = ctx.t if self._since is None else self._since
            self._last_ok = ctx.t
        elif self._since is not None and ctx.t - self._last_ok > self.gap_s:
            self._since = None
        ep = self._current
        if (self._since is not None and ctx.t - self._since >= self.min_seconds and members
                and (ep is not None or crowd_now)):
            boxes = np.array([tr.box for tr in members])
            box = np.array([*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0)], dtype=np.float32)
            labels = [ctx.label(tr) for tr in members]
            if ep is None:
                ep = Episode(key=self._key(), label=max(set(labels), key=labels.count),
                             first_seen=self._since,
                             start=ctx.t, last_t=ctx.t, box=box, score=max(tr.max_score for tr in members),
                             count=len(members))
                self._current = ep
            ep.last_t = ctx.t if crowd_now else ep.last_t
            ep.count = max(ep.count or 0, len(members))
            ep.score = max(ep.score, *(tr.max_score for tr in members))
        elif ep is not None and self._since is None:
            ep.done = True
            self._current = None
        return [ep] if ep is not None else []

    def reset(self) -> None:
        self._since, self._current = None, None
