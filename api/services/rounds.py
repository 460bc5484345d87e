"""Routine patrols: a team's route for today, check-ins at checkpoints, and service points (积分).

The service-points ledger is also written when a team resolves an incident (`api.services.dispatch`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import patrol
from api.db.models import CheckIn, PointsEntry, Team, User, utcnow
from api.errors import Invalid, NotFound
from api.validation import DEFAULT_TIMEZONE, timezone_name


@dataclass(frozen=True)
class RouteStop:
    place: str
    visit: int
    arrive_min: float
    depart_min: float
    xy: list[float] | None = None


@dataclass(frozen=True)
class TeamRoute:
    """Today's route of a team: its stops, length, polyline (site metres) and checkpoint coverage."""

    team_id: int
    stops: list[RouteStop]
    duration_min: float
    distance_m: float
    path_xy: list[list[float]] = field(default_factory=list)
    coverage: dict[str, dict[str, float]] = field(default_factory=dict)
    checked_in: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TeamPoints:
    team_id: int
    balance: dict[str, int]
    history: list[patrol.PointsEntry]


def team_to_patrol(row: Team) -> patrol.Team:
    tz = row.timezone
    try:
        timezone_name(tz)
    except ValueError:
        # stored before timezones were checked: read with the default, so one bad row breaks neither the
        # team list nor dispatch (a new team's timezone is checked where it is received)
        logging.getLogger(__name__).warning("team %s: unknown timezone %r, read as %s", row.key, tz[:60],
                                            DEFAULT_TIMEZONE)
        tz = DEFAULT_TIMEZONE
    return patrol.team_from_dict(row.key, {
        "name": row.name, "leader": row.leader, "members": row.members, "skills": row.skills,
        "home_grid": row.home_grid, "base": row.base, "roster": row.roster, "exceptions": row.exceptions,
        "timezone": tz})


def ledger(session: Session, policy: patrol.Policy) -> patrol.Ledger:
    rows = session.scalars(select(PointsEntry).order_by(PointsEntry.seq)).all()
    entries = [patrol.PointsEntry(r.seq, r.person, r.delta, r.kind, r.ref, r.at, r.note, r.prev_hash, r.hash)
               for r in rows]
    return patrol.Ledger(entries, policy.points)


def store_points(session: Session, e: patrol.PointsEntry) -> None:
    session.add(PointsEntry(seq=e.seq, person=e.person, delta=e.delta, kind=e.kind, ref=e.ref, note=e.note,
                            at=e.at, prev_hash=e.prev_hash, hash=e.hash))
    session.flush()


class Rounds:
    """Routes, check-ins and points on a site (every method needs one: the routes check first)."""

    def __init__(self, site: patrol.Site | None, policy: patrol.Policy, secret_key: str) -> None:
        self.site = site
        self.policy = policy
        self.secret_key = secret_key

    def route(self, session: Session, team: Team) -> TeamRoute:
        assert self.site is not None
        pteam = team_to_patrol(team)
        now = datetime.now(UTC)
        window = pteam.shift_at(now)
        minutes = (window[1] - window[0]).total_seconds() / 60 if window else 240.0
        start = team.base or next(iter(self.site.config.places))
        checkpoints = self.site.places_of_kind("checkpoint")
        grid_cps = [
            c for c in checkpoints if team.home_grid is None or self.site.grid_of.get(c) == team.home_grid
        ] or checkpoints
        plan = patrol.plan_routes(self.site, [patrol.RouteTeam(team.key, start, minutes)],
                                  [patrol.PatrolCheckpoint(c) for c in grid_cps], time_limit_s=1.0)
        r = plan.routes.get(team.key)
        stops = r.stops if r else []
        xy = {p: list(self.site.place(p).xy) for p in {s.place for s in stops}}
        path: list[list[float]] = []
        seq = [start] + [s.place for s in stops] + [r.end if r else start]
        for a, b in zip(seq, seq[1:], strict=False):
            if a != b:
                path.extend([list(p) for p in self.site.path_xy(a, b)])
        checks = [patrol.CheckIn(c.checkpoint, team.key, c.person,
                                 c.at) for c in self.checkins_today(session, team)]
        cov = patrol.coverage(plan.required_visits(), checks, now.date())
        checked = sorted({c.checkpoint for c in checks})
        return TeamRoute(team_id=team.id,
                         stops=[RouteStop(place=s.place, visit=s.visit, arrive_min=s.arrive_min,
                                          depart_min=s.depart_min, xy=xy.get(s.place)) for s in stops],
                        duration_min=r.duration_min if r else 0.0, distance_m=r.distance_m if r else 0.0,
                        path_xy=path, coverage={k: {"required": v.required, "done": v.done, "share": v.share}
                                                for k, v in cov.items()}, checked_in=checked)

    def check_in(self, session: Session, team: Team, user: User, checkpoint: str, code: str) -> CheckIn:
        assert self.site is not None
        if checkpoint not in self.site.config.places:
            raise NotFound(f"no checkpoint {checkpoint!r} on the site")
        if not patrol.verify_checkin(self.secret_key, checkpoint, code):
            raise Invalid(f"wrong code for checkpoint {checkpoint!r}: enter the code shown there")
        person = user.name if user.name in team.members else team.leader
        row = CheckIn(team_id=team.id, checkpoint=checkpoint, person=person, at=utcnow())
        session.add(row)
        team.place, team.updated_at = checkpoint, utcnow()
        store_points(session, ledger(session, self.policy).award_checkin(person, checkpoint, row.at))
        return row

    def checkins_today(self, session: Session, team: Team) -> list[CheckIn]:
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return list(session.scalars(select(CheckIn).where(CheckIn.team_id == team.id, CheckIn.at >= start)
                                    .order_by(CheckIn.id)))

    def points(self, session: Session, team: Team) -> TeamPoints:
        book = ledger(session, self.policy)
        history = sorted((e for p in team.members for e in book.history(p)), key=lambda e: e.seq,
                         reverse=True)
        return TeamPoints(team_id=team.id, balance={p: book.balance(p) for p in team.members},
                          history=history)

    def redeem(self, session: Session, person: str, points: int, item: str) -> patrol.PointsEntry:
        try:
            e = ledger(session, self.policy).redeem(person, points, item, utcnow())
        except patrol.PatrolError as exc:
            raise Invalid(str(exc)) from exc
        store_points(session, e)
        return e
