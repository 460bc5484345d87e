"""The presence rule: an object of the labels inside the zone for >= min_seconds."""

from __future__ import annotations

from vision.config import PresenceRule
from vision.rules.base import Episode, RuleContext, TrackRule
from vision.tracking import Track
from vision.zones import PolygonZone


class Presence(TrackRule):
    """An object (of the labels) inside the zone for >= min_seconds: intrusion, loitering, e-bike in corridor."""

    kind = "presence"

    def __init__(self, cfg: PresenceRule, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        self.gap_s = cfg.gap_s
        self._entered: dict[int, float] = {}

    def qualifies(self, track: Track, ctx: RuleContext) -> tuple[bool, float]:
        return True, self._entered.get(track.id, track.first_t)

    def _evaluate(self, ctx: RuleContext) -> list[Episode]:
        for tr in ctx.tracks:
            if ctx.inside.get(tr.id, False):
                self._entered.setdefault(tr.id, tr.last_t)
            else:
                self._entered.pop(tr.id, None)
        live = {tr.id for tr in ctx.tracks}
        for tid in [k for k in self._entered if k not in live]:
            del self._entered[tid]
        return super()._evaluate(ctx)

    def state_size(self) -> int:
        return super().state_size() + len(self._entered)
