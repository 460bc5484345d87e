"""Routine patrol routes (OR-Tools routing), checkpoint check-in codes, and coverage per checkpoint per day.

Each team starts its shift at a place, walks through checkpoints and ends where told (by default where it
started), within its shift length. A hotspot checkpoint (many recent incidents) gets several visits, spread
over the shift: visit k of n must start in the k-th n-th of the shift (or of its own time window).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time as _time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from patrol.errors import PatrolError
from patrol.site import Site
from patrol.teams import Team

FIRST_VISIT_PENALTY = 100_000_000   # dropping a required checkpoint is a last resort
EXTRA_VISIT_PENALTY = 1_000_000     # dropping a hotspot's repeat visit is cheaper


@dataclass(frozen=True)
class RouteTeam:
    team_id: str
    start: str                    # place id where the shift starts
    shift_minutes: float
    end: str | None = None        # default: back to start


@dataclass(frozen=True)
class PatrolCheckpoint:
    place: str
    visits: int = 1                              # >1 for hotspots
    dwell_min: float = 2.0                       # time spent checking in / looking around
    window: tuple[float, float] | None = None    # minutes from shift start
    teams: tuple[str, ...] | None = None         # only these teams may cover it (e.g. its grid's team)


@dataclass(frozen=True)
class RouteStop:
    place: str
    visit: int            # 0 for the first visit of this checkpoint, 1 for the second, ...
    arrive_min: float     # minutes from shift start (after any waiting for a time window)
    depart_min: float


@dataclass
class PatrolRoute:
    team_id: str
    start: str
    end: str
    stops: list[RouteStop]
    duration_min: float
    distance_m: float


@dataclass
class RoutePlan:
    routes: dict[str, PatrolRoute]
    unvisited: list[tuple[str, int]] = field(default_factory=list)   # (place, visit) the solver had to drop
    feasible: bool = True          # every checkpoint's first visit is planned
    solve_s: float = 0.0

    def required_visits(self) -> dict[str, int]:
        """Planned visits per checkpoint (for coverage)."""
        out: dict[str, int] = {}
        for route in self.routes.values():
            for s in route.stops:
                out[s.place] = out.get(s.place, 0) + 1
        return out


def hotspot_visits(counts: Mapping[str, int], checkpoints: Iterable[str], base: int = 1,
                   per_incidents: int = 3,
                   max_visits: int = 3) -> dict[str, int]:
    """Visits per checkpoint: `base`, plus one per `per_incidents` recent incidents there, at most
    `max_visits`."""
    return {c: min(max_visits, base + counts.get(c, 0) // per_incidents) for c in checkpoints}


def plan_routes(site: Site, teams: Sequence[RouteTeam], checkpoints: Sequence[PatrolCheckpoint],
                time_limit_s: float = 2.0) -> RoutePlan:
    """Plan every team's route for one shift. Infeasible parts are reported in `unvisited`, never hidden."""
    t0 = _time.perf_counter()
    if not teams:
        raise PatrolError("plan_routes: no teams given")
    team_index = {t.team_id: v for v, t in enumerate(teams)}
    for t in teams:
        site.idx(t.start)
        if t.end:
            site.idx(t.end)
        if t.shift_minutes <= 0:
            raise PatrolError(
                f"plan_routes: team {t.team_id} has shift_minutes {t.shift_minutes}; must be > 0"
            )
    seen = set()
    for cp in checkpoints:
        site.idx(cp.place)
        if cp.place in seen:
            raise PatrolError(f"plan_routes: checkpoint '{cp.place}' listed twice; use visits: N instead")
        seen.add(cp.place)
        if cp.visits < 1:
            raise PatrolError(f"plan_routes: checkpoint '{cp.place}' has visits {cp.visits}; must be >= 1")
        for tid in cp.teams or ():
            if tid not in team_index:
                raise PatrolError(
                    f"plan_routes: checkpoint '{cp.place}' names team '{tid}', which is not planned"
                )

    # Nodes: one start and one end per team, then one node per checkpoint visit.
    places: list[str] = []
    dwell: list[int] = []
    for t in teams:
        places.append(t.start)
        dwell.append(0)
    for t in teams:
        places.append(t.end or t.start)
        dwell.append(0)
    visits: list[tuple[PatrolCheckpoint, int]] = []
    for cp in checkpoints:
        for k in range(cp.visits):
            visits.append((cp, k))
            places.append(cp.place)
            dwell.append(int(round(cp.dwell_min * 60)))
    n_teams = len(teams)
    idx = [site.idx(p) for p in places]
    travel = site.travel_s
    n = len(places)
    transit = [[dwell[i] + (int(math.ceil(travel[idx[i], idx[j]])) if i != j else 0) for j in range(n)]
               for i in range(n)]

    manager = pywrapcp.RoutingIndexManager(n, n_teams, list(range(n_teams)), list(range(n_teams,
                                                                                        2 * n_teams)))
    routing = pywrapcp.RoutingModel(manager)

    def cb(from_index: int, to_index: int) -> int:
        return transit[manager.IndexToNode(from_index)][manager.IndexToNode(to_index)]

    cb_index = routing.RegisterTransitCallback(cb)
    routing.SetArcCostEvaluatorOfAllVehicles(cb_index)
    longest = int(max(t.shift_minutes for t in teams) * 60)
    routing.AddDimension(cb_index, longest, longest, True, "time")
    tdim = routing.GetDimensionOrDie("time")
    tdim.SetGlobalSpanCostCoefficient(2)
    for v, t in enumerate(teams):
        tdim.CumulVar(routing.End(v)).SetMax(int(t.shift_minutes * 60))
    for off, (cp, k) in enumerate(visits):
        node = 2 * n_teams + off
        index = manager.NodeToIndex(node)
        allowed = [team_index[tid] for tid in cp.teams] if cp.teams else list(range(n_teams))
        span = min(teams[v].shift_minutes for v in allowed) * 60
        lo, hi = (cp.window[0] * 60, cp.window[1] * 60) if cp.window else (0.0, span)
        if hi <= lo:
            raise PatrolError(
                f"plan_routes: checkpoint '{cp.place}' window {cp.window} ends before it starts"
            )
        part = (hi - lo) / cp.visits
        w_lo, w_hi = int(lo + k * part), int(lo + (k + 1) * part)
        tdim.CumulVar(index).SetRange(w_lo, max(w_lo, w_hi))
        if cp.teams:
            routing.VehicleVar(index).SetValues([-1, *allowed])
        routing.AddDisjunction([index], FIRST_VISIT_PENALTY if k == 0 else EXTRA_VISIT_PENALTY)
    for v in range(n_teams):
        routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(routing.End(v)))

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(time_limit_s * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        raise PatrolError("plan_routes: no route plan found; check shift lengths and time windows")

    routes: dict[str, PatrolRoute] = {}
    planned: set[int] = set()
    for v, t in enumerate(teams):
        index = routing.Start(v)
        stops: list[RouteStop] = []
        dist = 0.0
        prev = manager.IndexToNode(index)
        index = solution.Value(routing.NextVar(index))
        while True:
            node = manager.IndexToNode(index)
            dist += float(site.distance_m[idx[prev], idx[node]])
            if routing.IsEnd(index):
                duration = solution.Value(tdim.CumulVar(index)) / 60
                break
            arrive = solution.Value(tdim.CumulVar(index)) / 60
            cp, k = visits[node - 2 * n_teams]
            stops.append(RouteStop(cp.place, k, round(arrive, 2), round(arrive + dwell[node] / 60, 2)))
            planned.add(node)
            prev = node
            index = solution.Value(routing.NextVar(index))
        routes[t.team_id] = PatrolRoute(t.team_id, t.start, t.end or t.start, stops, round(duration, 2),
                                        round(dist, 1))
    unvisited = [(cp.place, k) for off, (cp, k) in enumerate(visits) if 2 * n_teams + off not in planned]
    feasible = not any(k == 0 for _, k in unvisited)
    return RoutePlan(routes, unvisited, feasible, round(_time.perf_counter() - t0, 3))


# --- check-in codes ------------------------------------------------------------------------------------
def checkin_code(secret: str | bytes, checkpoint: str, day: date | None = None, digits: int = 6) -> str:
    """Short numeric code for a checkpoint: printed there (day=None) or rotated daily on a screen."""
    key = secret.encode() if isinstance(secret, str) else secret
    msg = f"{checkpoint}|{day.isoformat() if day else ''}".encode()
    mac = hmac.new(key, msg, hashlib.sha256).digest()
    return str(int.from_bytes(mac[:8], "big") % 10**digits).zfill(digits)


def verify_checkin(secret: str | bytes, checkpoint: str, code: str, day: date | None = None) -> bool:
    expected = checkin_code(secret, checkpoint, day, digits=len(code) if code.isdigit() else 6)
    return hmac.compare_digest(expected, code.strip())


@dataclass(frozen=True)
class CheckIn:
    checkpoint: str
    team_id: str
    person: str
    at: datetime


@dataclass(frozen=True)
class Coverage:
    required: int
    done: int
    share: float      # min(done, required) / required; 1.0 when nothing was required


def coverage(required_visits: Mapping[str, int], checkins: Iterable[CheckIn], day: date,
             min_gap_minutes: float = 10.0) -> dict[str, Coverage]:
    """Coverage of each checkpoint on `day`. Check-ins at one checkpoint less than `min_gap_minutes` apart
    count once (a leader pressing twice is one visit)."""
    times: dict[str, list[datetime]] = {}
    for c in checkins:
        if c.at.date() == day:
            times.setdefault(c.checkpoint, []).append(c.at)
    out: dict[str, Coverage] = {}
    for place in sorted(set(required_visits) | set(times)):
        req = int(required_visits.get(place, 0))
        done = 0
        last: datetime | None = None
        for t in sorted(times.get(place, [])):
            if last is None or (t - last).total_seconds() >= min_gap_minutes * 60:
                done += 1
                last = t
        share = 1.0 if req == 0 else min(done, req) / req
        out[place] = Coverage(req, done, round(share, 3))
    return out


def plan_shift_routes(site: Site, teams: Mapping[str, Team], now: datetime,
                      hotspot_counts: Mapping[str, int] | None = None,
                      positions: Mapping[str, str] | None = None, round_minutes: float = 120.0,
                      dwell_min: float = 2.0, time_limit_s: float = 2.0) -> RoutePlan:
    """One patrol round for the teams on shift at `now`, through every checkpoint of the site.

    A checkpoint in a grid cell whose team is on shift is that team's; the others go to whoever fits.
    Each round lasts `round_minutes` or what is left of the team's shift, if less. Teams start from
    `positions[team]` (a place id), else their base; a team with neither is left out.
    """
    on: list[RouteTeam] = []
    grid_team: dict[str, list[str]] = {}
    for tid, team in teams.items():
        window = team.shift_at(now)
        start = (positions or {}).get(tid) or team.base
        if window is None or start is None:
            continue
        left = (window[1] - team._local(now)).total_seconds() / 60
        on.append(RouteTeam(tid, start, min(round_minutes, left)))
        if team.home_grid:
            grid_team.setdefault(team.home_grid, []).append(tid)
    if not on:
        raise PatrolError("plan_shift_routes: no team with a base or position is on shift now")
    places = site.places_of_kind("checkpoint")
    visits = hotspot_visits(hotspot_counts or {}, places)
    cps = [PatrolCheckpoint(p, visits=visits[p], dwell_min=dwell_min,
                            teams=tuple(grid_team[g]) if (g := site.grid_of.get(p)) in grid_team else None)
           for p in places]
    return plan_routes(site, on, cps, time_limit_s=time_limit_s)
