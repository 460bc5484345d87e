"""The stationary rule: an object inside the zone and still for >= min_seconds."""

from __future__ import annotations

import numpy as np

from vision import appearance
from vision.boxes import area, inside_fractions
from vision.config import StationaryRule
from vision.rules.base import Episode, RuleContext, TrackRule
from vision.rules.crowd import present
from vision.track import Track
from vision.zones import PolygonZone

EMPTY_LOOK = 0.5  # appearance distance above which a place no longer looks like the object that stood there
EMPTY_S = 3.0
UNSEEN_S = 6.0    # ... and the object has not been detected for this long (two full-frame looks, by default)
IN_PLACE = 0.9    # this much of the place an object stood in still under its box: it has not left it
OCCLUDED = 0.5    # this much of an unseen object's box inside another's seen now: hidden behind it, not gone


class Stationary(TrackRule):
    """An object inside the zone and still for >= min_seconds: one event while it stays (fire lane)."""

    kind = "stationary"

    def __init__(self, cfg: StationaryRule, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        self.gap_s = cfg.gap_s
        self.min_seconds = cfg.min_seconds

    def qualifies(self, track: Track, ctx: RuleContext) -> tuple[bool, float]:
        # still_since is judged against the object's size over seconds (track.py): a slow mover's earlier
        # boxes are too far from where it is now, however close each one is to the last
        return track.still_seconds(ctx.t) >= self.min_seconds, track.still_since

    def _holds(self, ep: Episode, tr: Track, ctx: RuleContext) -> bool:
        # the episode holds while its object has not (confirmedly) moved since the event started or since a
        # new track took it over; a speed spike from one odd box does not end it
        # (one odd box is an occlusion, unless it is out of the zone: then the object is driving off, and the
        # zone's inertia would keep it inside until after it has left the picture)
        since = max(ep.start, self._adopted.get(ep.key, ep.start))
        if tr.odd and not self.zone.contains(tr.anchor[None])[0]:
            return False
        return tr.still_since <= since + 1e-6 or self._in_place(ep, tr)

    @staticmethod
    def _in_place(ep: Episode, tr: Track) -> bool:
        """Whether the object's box still covers the place it stood in when the event began (IN_PLACE of it),
        at most twice its size: a door or a boot lid opened, someone getting out beside it, widens the box
        and moves its centre (a door that widened a car's box by 37 % ended its event and began another), but
        a car driving off uncovers its place within a tenth of its length."""
        if ep.place is None:
            return False
        grown = float(area(tr.box)[0]) <= 2.0 * float(area(ep.place)[0])
        return grown and float(inside_fractions(ep.place, tr.box[None])[0]) >= IN_PLACE

    def _occluded(self, ep: Episode, ctx: RuleContext) -> bool:
        """Whether something else there now stands in front of the object's place (a bus stopping beside a
        car parked in the fire lane): half of its box or more lies in the other's. The car is hidden, not
        gone: its place looks like the bus, and it cannot be seen to drive off until the bus has gone."""
        others = [tr.box for tr in ctx.tracks if tr.id != ep.track_id and present(tr, ctx.t, ctx.misses)]
        return bool(others) and float(inside_fractions(ep.box, np.array(others)).max()) >= OCCLUDED

    def _looks_there(self, ep: Episode, ctx: RuleContext) -> bool:
        # hidden behind another object that stopped in front of it: its visit goes on (a bus that stood 5 s
        # in front of a car parked in the fire lane ended its event, and a second began 30 s after it left)
        return super()._looks_there(ep, ctx) or self._occluded(ep, ctx)

    def _gone(self, ep: Episode, ctx: RuleContext) -> bool:
        """A still object the detector misses for a while is still there: its place looks like it. When it has
        not been detected for UNSEEN_S and its place has looked unlike it for EMPTY_S (longer than someone
        passing in front of it takes), and nothing seen now stands in front of it, it has driven off, and
        another one that stops there later is another event."""
        if ctx.image is None or ep.embedding is None:
            return False
        if self._occluded(ep, ctx):
            ep.empty_since = None
            return False
        if appearance.distance(appearance.embed(ctx.image, ep.box), ep.embedding) <= EMPTY_LOOK:
            ep.empty_since = None
            return False
        ep.empty_since = ctx.t if ep.empty_since is None else ep.empty_since
        return ctx.t - ep.empty_since >= EMPTY_S and ctx.t - ep.last_t >= UNSEEN_S

    def _adoptable(self, tr: Track) -> bool:
        return tr.speed < 0.5
