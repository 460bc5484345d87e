"""Dispatch: rank teams for an incident, assign many waiting incidents jointly, handle declines.

Cost of sending team t to incident i, in seconds (lower is better):
    walking time from the team's position to the incident's place
  + missing_skill_s per category skill the team lacks
  + per_task_this_shift_s * tasks done this shift + per_busy_minute_s * busy minutes this shift
  - home_grid_bonus_s when the incident lies in the team's home grid (网格 responsibility)
  + preempt_s when the team must leave a lower-severity task; on_patrol_s when on a patrol round.
A team is eligible when it is on shift, not excluded for this incident (declined / no acknowledgement),
and available, on patrol, or busy with a task of strictly lower severity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from patrol.errors import PatrolError
from patrol.policy import Policy, default_policy
from patrol.site import Site
from patrol.teams import Team, TeamState
from patrol.timeline import TimelineEntry

INFEASIBLE = 1e9
PRIORITY_S = 3600.0  # joint assignment: one severity level outweighs an hour of walking


@dataclass(frozen=True)
class Incident:
    """An incident to dispatch, as patrol sees it (the api maps its row onto this)."""

    id: str
    category: str
    place: str
    opened_at: datetime
    severity: int | None = None                  # None: the category's severity
    excluded_teams: frozenset[str] = frozenset()  # declined or did not acknowledge: never asked again


@dataclass
class Candidate:
    """One team proposed for one incident, with the reasons the operator sees."""

    team_id: str
    cost_s: float
    travel_s: float
    reasons: list[str]
    preempts: str | None = None   # incident id the team would leave


@dataclass
class Decision:
    """The outcome for one incident: in auto mode `chosen` is set; in propose mode the operator picks."""

    incident_id: str
    mode: Literal["auto", "propose"]
    candidates: list[Candidate]
    chosen: Candidate | None
    timeline: list[TimelineEntry] = field(default_factory=list)


@dataclass
class Assignment:
    """A joint assignment of waiting incidents to teams."""

    pairs: dict[str, Candidate]     # incident id -> chosen team
    unassigned: list[str]           # incident ids left waiting (no eligible team left)
    total_cost_s: float


def _fmt_min(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


class Dispatcher:
    """Ranks and assigns teams on one site. Build it once per site/teams/policy change; it is cheap to
    call."""

    def __init__(self, site: Site, teams: Mapping[str, Team], policy: Policy | None = None) -> None:
        self.site = site
        self.teams = dict(teams)
        self.policy = policy or default_policy()
        self.team_ids = list(self.teams)
        self._tindex = {t: i for i, t in enumerate(self.team_ids)}
        for tid, team in self.teams.items():
            if team.base is not None and team.base not in site.index:
                raise PatrolError(f"team {tid}: base '{team.base}' is not a place of site {site.source}")
        grids = sorted(
            {g for g in site.grid_of.values() if g}
            | {t.home_grid for t in self.teams.values() if t.home_grid}
        )
        self._grid_code = {g: i for i, g in enumerate(grids)}
        self._place_grid = np.array([self._grid_code.get(site.grid_of[p] or "", -1) for p in site.ids])
        self._team_grid = np.array([self._grid_code.get(t.home_grid or "", -2) for t in self.teams.values()])
        skills = sorted({s for c in self.policy.categories.values() for s in c.skills})
        self._skill_code = {s: i for i, s in enumerate(skills)}
        self._has_skill = np.zeros((len(skills), len(self.team_ids)), dtype=float)
        for j, team in enumerate(self.teams.values()):
            for s in team.skills:
                if s in self._skill_code:
                    self._has_skill[self._skill_code[s], j] = 1.0
        self._windows: dict[tuple[str, date], list[tuple[datetime, datetime]]] = {}

    # --- team eligibility -------------------------------------------------------------------------
    def shift_at(self, team_id: str, when: datetime) -> tuple[datetime, datetime] | None:
        team = self.teams[team_id]
        local = team._local(when)
        for day in (local.date(), local.date() - timedelta(days=1)):
            key = (team_id, day)
            wins = self._windows.get(key)
            if wins is None:
                wins = self._windows[key] = team.windows_on(day)
            for start, end in wins:
                if start <= local < end:
                    return start, end
        return None

    def _team_vectors(self, states: Mapping[str, TeamState], now: datetime) -> dict[str, np.ndarray]:
        """Per team: eligible at all, position index, busy task severity (-1 free), fixed cost."""
        n = len(self.team_ids)
        ok = np.zeros(n, dtype=bool)
        pos = np.zeros(n, dtype=np.int64)
        task_sev = np.full(n, -1, dtype=np.int64)
        fixed = np.zeros(n, dtype=float)
        w = self.policy.weights
        for j, tid in enumerate(self.team_ids):
            st = states.get(tid)
            team = self.teams[tid]
            if st is None or st.status == "off_duty" or self.shift_at(tid, now) is None:
                continue
            where = st.position or team.base
            if where is None or where not in self.site.index:
                continue
            pos[j] = self.site.index[where]
            if st.status in ("dispatched", "on_site"):
                task_sev[j] = st.task.severity if st.task else 99
            fixed[j] = (
                w.per_task_this_shift_s * st.tasks_this_shift
                + w.per_busy_minute_s * st.busy_minutes_this_shift
                + (w.on_patrol_s if st.status == "on_patrol" else 0.0)
            )
            ok[j] = True
        return {"ok": ok, "pos": pos, "task_sev": task_sev, "fixed": fixed}

    def _severity(self, inc: Incident) -> int:
        return inc.severity if inc.severity is not None else self.policy.category(inc.category).severity

    def _cost(self, incidents: Sequence[Incident], tv: dict[str, np.ndarray],
              cols: np.ndarray) -> dict[str, np.ndarray]:
        """Cost matrix (incidents x teams[cols]) and its parts."""
        w = self.policy.weights
        rows = np.array([self.site.idx(i.place) for i in incidents], dtype=np.int64)
        sev = np.array([self._severity(i) for i in incidents], dtype=np.int64)
        travel = self.site.travel_s[np.ix_(rows, tv["pos"][cols])]
        need = np.zeros((len(incidents), len(self._skill_code)))
        for r, inc in enumerate(incidents):
            for s in self.policy.category(inc.category).skills:
                need[r, self._skill_code[s]] = 1.0
        missing = need.sum(axis=1, keepdims=True) - need @ self._has_skill[:, cols]
        home = self._place_grid[rows][:, None] == self._team_grid[cols][None, :]
        tsev = tv["task_sev"][cols][None, :]
        busy = tsev >= 0
        preempt = busy & (tsev < sev[:, None])
        cost = (travel + w.missing_skill_s * missing + tv["fixed"][cols][None, :]
                - w.home_grid_bonus_s * home + w.preempt_s * preempt)
        feasible = ~busy | preempt
        for r, inc in enumerate(incidents):
            for tid in inc.excluded_teams:
                j = self._tindex.get(tid)
                if j is not None:
                    hit = np.nonzero(cols == j)[0]
                    feasible[r, hit] = False
        return {"cost": cost, "feasible": feasible, "travel": travel, "missing": missing, "home": home,
                "preempt": preempt, "rows": rows, "sev": sev}

    def _candidate(self, inc: Incident, j: int, parts: dict[str, np.ndarray], r: int, c: int,
                   states: Mapping[str, TeamState]) -> Candidate:
        tid = self.team_ids[j]
        team = self.teams[tid]
        st = states[tid]
        w = self.policy.weights
        travel = float(parts["travel"][r, c])
        where = st.position or team.base or "?"
        dist = travel * self.site.speed
        reasons = [f"{_fmt_min(travel)} walk ({dist:.0f} m) from {self.site.place(where).name or where}"]
        cat = self.policy.category(inc.category)
        lacking = [s for s in cat.skills if s not in team.skills]
        have = [s for s in cat.skills if s in team.skills]
        if have:
            reasons.append("skills: " + ", ".join(have))
        if lacking:
            reasons.append(f"lacks {', '.join(lacking)} (+{_fmt_min(w.missing_skill_s * len(lacking))})")
        if parts["home"][r, c]:
            reasons.append(f"responsible for grid {team.home_grid} (-{_fmt_min(w.home_grid_bonus_s)})")
        reasons.append(f"{st.tasks_this_shift} tasks, {st.busy_minutes_this_shift:.0f} busy min this shift")
        preempts = None
        if parts["preempt"][r, c]:
            preempts = st.task.incident_id if st.task else None
            sev = st.task.severity if st.task else "?"
            reasons.append(
                f"would leave lower-severity task {preempts} (severity {sev}) (+{_fmt_min(w.preempt_s)})"
            )
        elif st.status == "on_patrol":
            reasons.append("on a routine patrol round")
        else:
            reasons.append("available")
        return Candidate(team_id=tid, cost_s=round(float(parts["cost"][r, c]), 1), travel_s=round(travel, 1),
                         reasons=reasons, preempts=preempts)

    # --- public API --------------------------------------------------------------------------------
    def rank(self, incident: Incident, states: Mapping[str, TeamState], now: datetime,
             limit: int | None = None) -> list[Candidate]:
        """Eligible teams for one incident, best first, each with its reasons."""
        tv = self._team_vectors(states, now)
        cols = np.nonzero(tv["ok"])[0]
        if len(cols) == 0:
            return []
        parts = self._cost([incident], tv, cols)
        cost = np.where(parts["feasible"][0], parts["cost"][0], np.inf)
        order = np.argsort(cost, kind="stable")
        order = order[np.isfinite(cost[order])]
        if limit is not None:
            order = order[:limit]
        return [self._candidate(incident, int(cols[c]), parts, 0, int(c), states) for c in order]

    def decide(self, incident: Incident, states: Mapping[str, TeamState], now: datetime) -> Decision:
        """Auto-dispatch the best team, or propose the top N, per the category's mode."""
        cat = self.policy.category(incident.category)
        cands = self.rank(incident, states, now, limit=self.policy.propose_top)
        if not cands:
            entry = TimelineEntry(now, "no_team",
                                  "no eligible team on shift; waiting (operator may override)")
            return Decision(incident.id, cat.mode, [], None, [entry])
        if cat.mode == "auto":
            best = cands[0]
            entry = TimelineEntry(now, "dispatched",
                                  f"auto-dispatched to {best.team_id}: " + "; ".join(best.reasons),
                                  target=best.team_id, data={"cost_s": best.cost_s, "travel_s": best.travel_s,
                                                             "ack_seconds": cat.ack_seconds})
            return Decision(incident.id, "auto", cands, best, [entry])
        entry = TimelineEntry(now, "dispatch_proposed", "proposed: " + ", ".join(c.team_id for c in cands),
                              data={"candidates": [c.team_id for c in cands]})
        return Decision(incident.id, "propose", cands, None, [entry])

    def ack_deadline(self, incident: Incident, dispatched_at: datetime) -> datetime:
        return dispatched_at + timedelta(seconds=self.policy.category(incident.category).ack_seconds)

    def ack_overdue(self, incident: Incident, dispatched_at: datetime, now: datetime) -> bool:
        return now >= self.ack_deadline(incident, dispatched_at)

    def after_decline(self, incident: Incident, team_id: str, states: Mapping[str, TeamState], now: datetime,
                      why: Literal["declined",
                                   "ack_timeout"] = "declined", reason: str = "") -> tuple[Incident,
                                                                                           Decision]:
        """The team declined (or did not acknowledge in time): exclude it for good and ask the next."""
        updated = replace(incident, excluded_teams=incident.excluded_teams | {team_id})
        msg = (
            f"{team_id} declined" + (f": {reason}" if reason else "")
            if why == "declined"
            else f"{team_id} did not acknowledge within "
            f"{self.policy.category(incident.category).ack_seconds:.0f} s"
        )
        first = TimelineEntry(now, why, msg, actor=team_id if why == "declined" else "system", target=team_id)
        decision = self.decide(updated, states, now)
        decision.timeline.insert(0, first)
        return updated, decision

    def _prepare_joint(self, incidents: Sequence[Incident], states: Mapping[str, TeamState],
                       now: datetime) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        tv = self._team_vectors(states, now)
        cols = np.nonzero(tv["ok"])[0]
        parts = self._cost(incidents, tv, cols)
        return cols, parts, tv["ok"]

    def _result(self, incidents: Sequence[Incident], pairs: Iterable[tuple[int, int]], cols: np.ndarray,
                parts: dict[str, np.ndarray], states: Mapping[str, TeamState]) -> Assignment:
        out: dict[str, Candidate] = {}
        total = 0.0
        for r, c in pairs:
            if not parts["feasible"][r, c]:
                continue
            cand = self._candidate(incidents[r], int(cols[c]), parts, r, c, states)
            out[incidents[r].id] = cand
            total += float(parts["cost"][r, c])
        return Assignment(out, [i.id for i in incidents if i.id not in out], round(total, 1))

    def assign(self, incidents: Sequence[Incident], states: Mapping[str, TeamState],
               now: datetime) -> Assignment:
        """Assign waiting incidents to eligible teams together (scipy linear_sum_assignment).

        When incidents outnumber teams, higher severity wins first (PRIORITY_S per level), then the older one.
        """
        if not incidents:
            return Assignment({}, [], 0.0)
        ids = [i.id for i in incidents]
        if len(set(ids)) != len(ids):
            raise PatrolError("assign: the same incident id appears twice in the waiting list")
        cols, parts, _ = self._prepare_joint(incidents, states, now)
        if len(cols) == 0:
            return Assignment({}, ids, 0.0)
        age = np.array([(now - i.opened_at).total_seconds() for i in incidents])
        priority = PRIORITY_S * parts["sev"] + np.minimum(age, PRIORITY_S - 1) * 0.5
        matrix = np.where(parts["feasible"], parts["cost"] - priority[:, None], INFEASIBLE)
        r_idx, c_idx = linear_sum_assignment(matrix)
        return self._result(incidents, zip(r_idx.tolist(), c_idx.tolist(), strict=True), cols, parts, states)

    def assign_greedy(self, incidents: Sequence[Incident], states: Mapping[str, TeamState],
                      now: datetime) -> Assignment:
        """Baseline: one incident at a time (most severe, then oldest first), each taking its best free
        team."""
        if not incidents:
            return Assignment({}, [], 0.0)
        cols, parts, _ = self._prepare_joint(incidents, states, now)
        order = sorted(range(len(incidents)), key=lambda r: (-parts["sev"][r], incidents[r].opened_at))
        taken = np.zeros(len(cols), dtype=bool)
        pairs = []
        for r in order:
            cost = np.where(parts["feasible"][r] & ~taken, parts["cost"][r], np.inf)
            if len(cost) == 0 or not np.isfinite(cost.min()):
                continue
            c = int(np.argmin(cost))
            taken[c] = True
            pairs.append((r, c))
        return self._result(incidents, pairs, cols, parts, states)
