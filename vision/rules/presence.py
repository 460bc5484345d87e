"""The presence rule: an object of the labels inside the zone for >= min_seconds."""

from __future__ import annotations

from vision.config import PresenceRule
from vision.rules.base import Episode, RuleContext, TrackRule
from vision.track import Track
from vision.tracking import flickered
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

    def _may_take(self, tr: Track, ctx: RuleContext) -> bool:
        """Not a track that flickered (`tracking.flickered`): detector runs have looked for it where it was,
        in vain, at least twice in a row up to now and as often as it was ever seen. It is a false box that
        came and went, or an object gone: an alert on it would show an empty place, and a visit handed to it
        would end where it was lost. It may if it is found again. (On real_pedestrian_street at night, in
        the first frame the detector gave a pushed bicycle three boxes; one track, seen three times and then
        looked for in vain seven times, started a second event at 3.6 s; another, their double, took the
        bicycle's visit over at a frame the bicycle was not seen in, and ended it at 3.0 s.) A track seen for
        long and lost a moment ago may (the tracker may have put its object under another id); so may an
        unseen one nobody looked for (a still object that motion gating leaves be)."""
        return not flickered(tr, ctx.misses.get(tr.id, 0))

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
