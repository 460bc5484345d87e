"""The presence rule: an object of the labels inside the zone for >= min_seconds."""

from __future__ import annotations

from vision.config import PresenceRule
from vision.rules.base import Episode, RuleContext, TrackRule
from vision.track import Track
from vision.zones import PolygonZone


class Presence(TrackRule):
    """An object (of the labels) inside the zone for >= min_seconds: intrusion, loitering, e-bike in
    corridor."""

    kind = "presence"

    def __init__(self, cfg: PresenceRule, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        self.gap_s = cfg.gap_s
        self._entered: dict[int, tuple[float, float]] = {}  # track id -> (entered, last seen inside)
        # track id -> its first box inside of the current run of boxes inside: the zone's inertia counts
        # looks, which under motion gating may be seconds apart, so the entry is dated by the boxes
        self._raw_since: dict[int, float] = {}

    def qualifies(self, track: Track, ctx: RuleContext) -> tuple[bool, float]:
        return True, self._entered.get(track.id, (track.first_t, 0.0))[0]

    def _evaluate(self, ctx: RuleContext) -> list[Episode]:
        for tr in ctx.tracks:
            if self.zone.contains(tr.anchor[None])[0]:
                self._raw_since.setdefault(tr.id, tr.last_t)
            else:
                self._raw_since.pop(tr.id, None)
            if ctx.inside.get(tr.id, False):
                entered = self._entered.get(tr.id, (self._raw_since.get(tr.id, tr.last_t), 0.0))[0]
                self._entered[tr.id] = (entered, tr.last_t)
            elif tr.id in self._entered and ctx.t - self._entered[tr.id][1] > self.revisit_s:
                del self._entered[tr.id]  # left long enough ago: a new entry is a new visit
        live = {tr.id for tr in ctx.tracks}
        for tid in [k for k in self._entered if k not in live]:
            del self._entered[tid]
        for tid in [k for k in self._raw_since if k not in live]:
            del self._raw_since[tid]
        return super()._evaluate(ctx)

    def state_size(self) -> int:
        return super().state_size() + len(self._entered) + len(self._raw_since)
