"""SharpEyes patrol: teams, shifts, the site graph, dispatch, escalation, routes, service points.

Pure logic on its own types: no database, no web, no import of `api` or `vision`.
The public API is re-exported here; docs/patrol.md says how the api calls it.
"""

from pathlib import Path

from patrol.dispatch import Assignment, Candidate, Decision, Dispatcher, Incident
from patrol.errors import PatrolError
from patrol.escalation import DeadlineStatus, Level, deadline_for, deadline_status, escalation_step
from patrol.points import Ledger, PointsEntry
from patrol.policy import CategoryPolicy, Policy, default_policy, load_policy, policy_from_dict
from patrol.routes import (
    CheckIn,
    Coverage,
    PatrolCheckpoint,
    PatrolRoute,
    RoutePlan,
    RouteStop,
    RouteTeam,
    checkin_code,
    coverage,
    hotspot_visits,
    plan_routes,
    plan_shift_routes,
    verify_checkin,
)
from patrol.site import Place, Site, SiteConfig, load_site, site_from_dict
from patrol.stats import (
    IncidentRecord,
    day_summary,
    false_alarm_rates,
    group_stats,
    shift_workload,
    team_load,
)
from patrol.teams import (
    CurrentTask,
    Person,
    RosterShift,
    ShiftException,
    Team,
    TeamsConfig,
    TeamState,
    load_teams,
    team_from_dict,
    team_statuses_after,
    teams_from_dict,
)
from patrol.timeline import TimelineEntry

SITES_DIR = Path(__file__).with_name("sites")
DEMO_SITE = SITES_DIR / "demo_site.yaml"
DEMO_TEAMS = SITES_DIR / "demo_teams.yaml"

__all__ = [
    "Assignment",
    "Candidate",
    "CategoryPolicy",
    "CheckIn",
    "Coverage",
    "CurrentTask",
    "DEMO_SITE",
    "DEMO_TEAMS",
    "DeadlineStatus",
    "Decision",
    "Dispatcher",
    "Incident",
    "IncidentRecord",
    "Ledger",
    "Level",
    "PatrolCheckpoint",
    "PatrolError",
    "PatrolRoute",
    "Person",
    "Place",
    "PointsEntry",
    "Policy",
    "RosterShift",
    "RoutePlan",
    "RouteStop",
    "RouteTeam",
    "SITES_DIR",
    "ShiftException",
    "Site",
    "SiteConfig",
    "Team",
    "TeamState",
    "TeamsConfig",
    "TimelineEntry",
    "checkin_code",
    "coverage",
    "day_summary",
    "deadline_for",
    "deadline_status",
    "default_policy",
    "escalation_step",
    "false_alarm_rates",
    "group_stats",
    "hotspot_visits",
    "load_policy",
    "load_site",
    "load_teams",
    "plan_routes",
    "plan_shift_routes",
    "shift_workload",
    "policy_from_dict",
    "site_from_dict",
    "team_from_dict",
    "team_load",
    "team_statuses_after",
    "teams_from_dict",
    "verify_checkin",
]
