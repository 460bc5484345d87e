"""Zone rules: presence, stationary, crowd, line, left_object, occupancy (one module per kind, shared parts in
base)."""

from __future__ import annotations

from vision.config import RuleBase
from vision.rules.base import Episode, RuleContext, TrackRule, ZoneRule, schedule_active, seconds_of_day
from vision.rules.crowd import Crowd
from vision.rules.left_object import LeftObject, StaticForeground
from vision.rules.line import Line
from vision.rules.occupancy import Occupancy
from vision.rules.presence import Presence
from vision.rules.stationary import Stationary
from vision.zones import PolygonZone

__all__ = [
    "Crowd", "Episode", "LeftObject", "Line", "Occupancy", "Presence", "RULES", "RuleContext",
    "StaticForeground", "Stationary", "TrackRule", "ZoneRule", "build_rule", "schedule_active",
    "seconds_of_day",
]

RULES: dict[str, type[ZoneRule]] = {
    "presence": Presence, "stationary": Stationary, "crowd": Crowd, "line": Line, "left_object": LeftObject,
    "occupancy": Occupancy,
}


def build_rule(cfg: RuleBase, zone: PolygonZone) -> ZoneRule:
    return RULES[str(getattr(cfg, "kind"))](cfg, zone)  # type: ignore[arg-type]  # noqa: B009
