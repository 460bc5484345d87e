"""The stationary rule: an object inside the zone and still for >= min_seconds."""

from __future__ import annotations

from vision.config import StationaryRule
from vision.rules.base import Episode, RuleContext, TrackRule
from vision.tracking import Track
from vision.zones import PolygonZone


class Stationary(TrackRule):
    """An object inside the zone and still for >= min_seconds: one event while it stays (fire lane)."""

    kind = "stationary"

    def __init__(self, cfg: StationaryRule, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        self.gap_s = cfg.gap_s
        self.min_seconds = cfg.min_seconds

    def qualifies(self, track: Track, ctx: RuleContext) -> tuple[bool, float]:
        # still_since is judged against the object's size over seconds (tracking.py): a slow mover's earlier
        # boxes are too far from where it is now, however close each one is to the last
        return track.still_seconds(ctx.t) >= self.min_seconds, track.still_since

    def _holds(self, ep: Episode, tr: Track, ctx: RuleContext) -> bool:
        # the episode holds while its object has not (confirmedly) moved since the event started or since a
        # new track took it over; a speed spike from one odd box does not end it
        since = max(ep.start, self._adopted.get(ep.key, ep.start))
        return tr.still_since <= since + 1e-6

    def _adoptable(self, tr: Track) -> bool:
        return tr.speed < 0.5
