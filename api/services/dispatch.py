"""The api side of patrol: maps rows onto patrol's types, stores its decisions, runs its periodic jobs.

patrol is pure logic (docs/patrol.md); everything here is storing inputs, calling it, storing outputs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import patrol
from api.db.models import Incident, Team, User, utcnow
from api.services import rounds, whistle
from api.services.incidents import apply_action, record
from api.services.lifecycle import ACTIVE, WORKING, LifecycleError
from api.services.ports import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Proposal:
    """A team the dispatcher would send, best first: its cost, travel time and why."""

    team_id: int
    team: str
    cost_s: float
    travel_s: float | None
    reasons: list[str]
    preempts: str | None


class PatrolLink:
    def __init__(self, ctx: Services, site: patrol.Site | None) -> None:
        self.ctx = ctx
        self.site = site
        self.policy: patrol.Policy = ctx.policy.patrol
        self.rounds = rounds.Rounds(site, self.policy, ctx.settings.secret_key)
        self._lock = threading.RLock()
        self._dispatcher: patrol.Dispatcher | None = None
        self._teams_version = 0
        self._built_version = -1

    # --- site -------------------------------------------------------------------------------------------
    def has_site(self) -> bool:
        return self.site is not None

    def has_place(self, place: str) -> bool:
        return self.site is None or place in self.site.config.places

    def nearest_place(self, position: list[float]) -> str | None:
        return self.site.nearest_place(position[0], position[1]) if self.site else None

    # --- teams ------------------------------------------------------------------------------------------
    def teams_changed(self) -> None:
        with self._lock:
            self._teams_version += 1

    @staticmethod
    def patrol_team(row: Team) -> patrol.Team:
        return rounds.team_to_patrol(row)

    def on_shift(self, row: Team) -> bool | None:
        try:
            return self.patrol_team(row).on_shift(datetime.now(UTC))
        except patrol.PatrolError:
            return None

    def dispatcher(self, session: Session) -> patrol.Dispatcher | None:
        if self.site is None:
            return None
        with self._lock:
            if self._dispatcher is None or self._built_version != self._teams_version:
                teams = {t.key: self.patrol_team(t) for t in session.scalars(select(Team))}
                self._dispatcher = patrol.Dispatcher(self.site, teams, self.policy)
                self._built_version = self._teams_version
            return self._dispatcher

    def states(self, session: Session) -> dict[str, patrol.TeamState]:
        rows = session.scalars(select(Team)).all()
        busy = {i.team_id: i for i in session.scalars(
            select(Incident).where(Incident.team_id.is_not(None), Incident.state.in_(WORKING)))}
        out = {}
        for t in rows:
            inc = busy.get(t.id)
            task = patrol.CurrentTask(str(inc.id), inc.severity) if inc else None
            place = t.place if (t.place and self.site and t.place in self.site.config.places) else t.base
            out[t.key] = patrol.TeamState(t.key, status=t.status, position=place, task=task)  # type: ignore[arg-type]
        return out

    def to_patrol(self, session: Session, inc: Incident) -> patrol.Incident | None:
        if self.site is None or not inc.place or inc.place not in self.site.config.places:
            return None
        keys = {t.id: t.key for t in session.scalars(select(Team))}
        return patrol.Incident(id=str(inc.id), category=inc.category, place=inc.place,
                               opened_at=inc.created_at,
                               severity=inc.severity,
                               excluded_teams=frozenset(keys[i] for i in inc.excluded_teams if i in keys))

    def _team_id(self, session: Session, key: str) -> int | None:
        return session.scalars(select(Team.id).where(Team.key == key)).first()

    # --- dispatch ---------------------------------------------------------------------------------------
    def propose(self, session: Session, inc: Incident) -> list[Proposal]:
        d, pinc = self.dispatcher(session), self.to_patrol(session, inc)
        if d is None or pinc is None:
            return []
        out = []
        for c in d.rank(pinc, self.states(session), datetime.now(UTC), limit=self.policy.propose_top):
            tid = self._team_id(session, c.team_id)
            if tid is not None:
                out.append(Proposal(team_id=tid, team=c.team_id, cost_s=c.cost_s, travel_s=c.travel_s,
                                    reasons=c.reasons, preempts=c.preempts))
        return out

    def _store_decision(self, session: Session, inc: Incident, decision: patrol.Decision) -> bool:
        """Write the decision's timeline; dispatch the chosen team in auto mode. True when changed."""
        for e in decision.timeline:
            if e.kind == "dispatched":
                continue  # the dispatch action below writes its own entry, with these reasons as the why
            record(session, inc, e.actor, e.kind, e.message, data={**e.data, "target": e.target}, at=e.at)
        if decision.chosen is None:
            return bool(decision.timeline)
        tid = self._team_id(session, decision.chosen.team_id)
        if tid is None:
            return False
        try:
            apply_action(session, inc, "dispatch", "patrol", "system",
                         "auto: " + "; ".join(decision.chosen.reasons), tid)
        except LifecycleError:
            return False
        inc.dispatched_at = utcnow()
        return True

    def redecide(self, session: Session, inc: Incident, now: datetime) -> bool:
        """After a decline (by the team, or an acknowledgement timeout): in auto mode, send the next team.
        The declining team is excluded already (apply_action). True when a decision was stored."""
        d, pinc = self.dispatcher(session), self.to_patrol(session, inc)
        if d is None or pinc is None or self.policy.category(inc.category).mode != "auto":
            return False
        session.flush()
        return self._store_decision(session, inc, d.decide(pinc, self.states(session), now))

    def on_new_incidents(self, ids: list[int]) -> None:
        """Decide dispatch for new incidents (auto or a proposal), store it and push the changes."""
        if self.site is None:
            return
        with self.ctx.sessions() as s:
            d = self.dispatcher(s)
            changed = []
            for inc_id in s.scalars(select(Incident.id).where(Incident.id.in_(ids),
                                                              Incident.state == "open")).all():
                try:   # one incident's failure is logged and rolled back; the others are decided
                    with s.begin_nested():
                        inc = s.get(Incident, inc_id)
                        pinc = self.to_patrol(s, inc) if inc is not None else None
                        if d is None or inc is None or pinc is None:
                            continue
                        if self._store_decision(s, inc, d.decide(pinc, self.states(s), datetime.now(UTC))):
                            changed.append(inc)
                except Exception:
                    log.exception("dispatch: incident %s failed; the others go on", inc_id)
            s.commit()
            self.ctx.notify.incidents(s, changed)
            self.ctx.notify.teams(s, {i.team_id for i in changed if i.team_id})

    def on_action(self, session: Session, inc: Incident, action: str, user: User,
                  previous_team: int | None) -> None:
        """Patrol's side of a state change (called before commit)."""
        now = utcnow()
        if action in ("dispatch", "override"):
            inc.dispatched_at = now
        elif action == "arrive":
            inc.on_site_at = now
        elif action == "resolve":
            inc.resolved_at = now
            team = session.get(Team, inc.team_id) if inc.team_id else None
            if team is not None:
                ledger = rounds.ledger(session, self.policy)
                for e in ledger.award_task(team.members, str(inc.id), inc.severity, now <= inc.deadline_at,
                                           now):
                    rounds.store_points(session, e)
                record(session, inc, "patrol", "points", f"service points to {', '.join(team.members)}")
        elif action == "decline":
            self.redecide(session, inc, now)
        elif action == "escalate":   # 吹哨: the next rung of the ladder is called (whistle.py)
            whistle.escalate(session, self.ctx.policy, inc, user.name, self.grid_of(inc))

    def grid_of(self, inc: Incident) -> str | None:
        return self.site.grid_of.get(inc.place) if self.site is not None and inc.place else None

    # --- periodic jobs: escalation and acknowledge timeouts ----------------------------------------------
    async def run_jobs(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.settings.deadline_check_s)
            try:
                await asyncio.to_thread(self.tick, datetime.now(UTC))
            except Exception:
                log.exception("patrol jobs failed; retrying")

    def tick(self, now: datetime) -> list[int]:
        """Deadlines (flag, call the grid worker, then the office) and acknowledgement timeouts, for every
        active incident. One incident's failure is logged with its id and rolled back; the others go on."""
        if self.site is None:
            return []
        changed: dict[int, Incident] = {}
        previous: dict[int, int | None] = {}
        teams: set[int] = set()
        with self.ctx.sessions() as s:
            ids = list(s.scalars(select(Incident.id).where(Incident.state.in_(ACTIVE)).order_by(Incident.id)))
            for inc_id in ids:
                try:
                    with s.begin_nested():
                        inc = s.get(Incident, inc_id)
                        if inc is not None and inc.state in ACTIVE and self._tick_one(s, inc, now, previous,
                                                                                      teams):
                            changed[inc.id] = inc
                except Exception:
                    log.exception("patrol jobs: incident %s failed; the others go on", inc_id)
                    previous.pop(inc_id, None)
            s.commit()
            # the team that timed out gets the task message too, so its leader's page drops it
            self.ctx.notify.incidents(s, list(changed.values()), previous)
            self.ctx.notify.teams(s, teams)
        return sorted(changed)

    def _tick_one(self, s: Session, inc: Incident, now: datetime, previous: dict[int, int | None],
                  teams: set[int]) -> bool:
        pinc, d = self.to_patrol(s, inc), self.dispatcher(s)
        if pinc is None or d is None or self.site is None:
            return False
        changed = False
        level, entries = patrol.escalation_step(pinc, now, self.site, inc.escalation_level, self.policy,
                                                deadline=inc.deadline_at)
        for e in entries:
            record(s, inc, e.actor, e.kind, e.message, data={**e.data, "target": e.target}, at=e.at)
        if entries:
            # past the deadline: people are called (吹哨); a team on it keeps it (lifecycle.py)
            if inc.escalation_level < patrol.Level.GRID <= level:
                apply_action(s, inc, "escalate", "system", "system", entries[-1].message)
            # the people the clock has reached are called: the grid worker; past the office level the
            # office and the category's departments (街乡吹哨、部门报到)
            upto = "department" if level >= patrol.Level.OFFICE else "grid"
            if level >= patrol.Level.GRID:
                whistle.escalate(s, self.ctx.policy, inc, "system", self.grid_of(inc), upto=upto, now=now)
            inc.escalation_level = int(patrol.Level.capped(max(int(level), inc.escalation_level)))
            changed = True
        if inc.state == "dispatched" and inc.dispatched_at and inc.team_id is not None \
                and d.ack_overdue(pinc, inc.dispatched_at, now):
            done = apply_action(s, inc, "decline", "system", "system",
                                "not acknowledged in time (ack_timeout)")
            previous[inc.id] = done.previous_team
            teams.update(t.id for t in done.teams)
            self.redecide(s, inc, now)
            if inc.team_id is not None:
                teams.add(inc.team_id)
            changed = True
        return changed
