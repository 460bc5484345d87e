"""`sharpeyes bench dispatch`: ranking, joint assignment and route planning on a synthetic street office.

The synthetic site is a jittered lattice of places (default 500) with roads between neighbours and some
diagonal paths, cut into grid cells; teams (default 300) get random positions, skills, home grids, statuses
and rosters (some off shift). Everything is seeded, so two runs measure the same work.
"""

from __future__ import annotations

import math
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from patrol.dispatch import Dispatcher, Incident
from patrol.policy import default_policy
from patrol.routes import PatrolCheckpoint, RouteTeam, plan_routes
from patrol.site import Site, site_from_dict
from patrol.teams import CurrentTask, Team, TeamState, team_from_dict

NOW = datetime(2024, 6, 5, 10, 0)   # a Wednesday morning
KINDS = ["junction", "entrance", "lobby", "bike_shed", "fire_lane", "checkpoint", "stairwell", "gate"]
SKILLS = ["fire_safety", "security", "mediation", "elderly_care", "first_aid"]


def synthetic_site(n_places: int = 500, spacing: float = 25.0, seed: int = 1) -> Site:
    rng = random.Random(seed)
    cols = math.ceil(math.sqrt(n_places * 1.25))
    rows = math.ceil(n_places / cols)
    places: dict[str, Any] = {}
    for k in range(n_places):
        r, c = divmod(k, cols)
        places[f"s{k}"] = {"kind": rng.choice(KINDS),
                           "xy": [c * spacing + rng.uniform(-5, 5) + 10, r * spacing + rng.uniform(-5,
                                                                                                   5) + 10]}
    links: list[list[str]] = []
    for k in range(n_places):
        r, c = divmod(k, cols)
        if c + 1 < cols and k + 1 < n_places:
            links.append([f"s{k}", f"s{k + 1}"])
        if k + cols < n_places:
            links.append([f"s{k}", f"s{k + cols}"])
        if c + 1 < cols and k + cols + 1 < n_places and rng.random() < 0.2:
            links.append([f"s{k}", f"s{k + cols + 1}"])
    width, height = cols * spacing + 20, rows * spacing + 20
    grids = {}
    gx, gy = 4, 4
    for i in range(gx):
        for j in range(gy):
            x0, x1 = width * i / gx, width * (i + 1) / gx
            y0, y1 = height * j / gy, height * (j + 1) / gy
            grids[f"G{i}{j}"] = {"worker": f"gw{i}{j}", "polygon": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]}
    return site_from_dict({"name": "synthetic", "plan": {"width_m": width, "height_m": height},
                           "places": places, "links": links, "grids": grids}, "<synthetic>")


def synthetic_teams(site: Site, n_teams: int = 300, seed: int = 2) -> tuple[dict[str, Team], dict[str,
                                                                                                  TeamState]]:
    rng = random.Random(seed)
    teams: dict[str, Team] = {}
    states: dict[str, TeamState] = {}
    grids = list(site.config.grids)
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    for k in range(n_teams):
        tid = f"t{k}"
        shift = rng.random()
        roster = ([{"days": days, "start": "07:00", "end": "19:00"}] if shift < 0.8
                  else [{"days": days, "start": "19:00", "end": "07:00", "crosses_midnight": True}])
        teams[tid] = team_from_dict(tid, {
            "name": tid, "leader": f"{tid}a", "members": [f"{tid}a", f"{tid}b", f"{tid}c"],
            "skills": rng.sample(SKILLS, rng.randint(0,
                                                     2)), "home_grid": rng.choice(grids), "roster": roster})
        status = rng.choices(["available", "on_patrol", "dispatched", "on_site", "off_duty"], [5, 3, 1, 1,
                                                                                               0.5])[0]
        task = CurrentTask(f"old{k}", rng.randint(1, 4)) if status in ("dispatched", "on_site") else None
        states[tid] = TeamState(tid, status, rng.choice(site.ids), task,  # type: ignore[arg-type]
                                rng.randint(0, 5), rng.uniform(0, 120))
    return teams, states


def synthetic_incidents(site: Site, n: int, seed: int = 3) -> list[Incident]:
    rng = random.Random(seed)
    cats = list(default_policy().categories)
    return [Incident(f"i{k}", rng.choice(cats), rng.choice(site.ids),
                     NOW - timedelta(seconds=rng.uniform(0, 1800)))
            for k in range(n)]


def _timeit(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _summary(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)
    return {"median_ms": round(statistics.median(s), 3), "p95_ms": round(s[min(len(s) - 1,
                                                                               int(0.95 * len(s)))], 3),
            "max_ms": round(s[-1], 3), "runs": len(s)}


def run(
    places: int = 500,
    teams: int = 300,
    incidents: int = 1000,
    route_teams: int = 10,
    checkpoints: int = 40,
    route_time_limit_s: float = 2.0,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                                       "processor": platform.processor() or platform.machine()}}
    t0 = time.perf_counter()
    site = synthetic_site(places)
    out["site"] = {"places": places, "links": site.graph.number_of_edges() // 2,
                   "load_and_all_pairs_ms": round((time.perf_counter() - t0) * 1000, 1)}
    log(f"site: {places} places loaded, all-pairs travel times in {out['site']['load_and_all_pairs_ms']} ms")
    tdict, states = synthetic_teams(site, teams)
    d = Dispatcher(site, tdict, default_policy())
    incs = synthetic_incidents(site, incidents)
    d.rank(incs[0], states, NOW)  # warm the roster cache
    eligible = len(d.rank(incs[0], states, NOW))
    it = iter(range(10**9))
    rank_ms = _timeit(lambda: d.rank(incs[next(it) % len(incs)], states, NOW), 200)
    it2 = iter(range(10**9))
    decide_ms = _timeit(lambda: d.decide(incs[next(it2) % len(incs)], states, NOW), 200)
    out["rank_one_incident"] = {
        "teams": teams,
        "eligible_teams": eligible,
        "target_ms": 5.0,
        "full_ranking_with_reasons": _summary(rank_ms),
        "decide_top3": _summary(decide_ms),
    }
    log(
        f"rank: {teams} teams ({eligible} eligible): median "
        f"{out['rank_one_incident']['full_ranking_with_reasons']['median_ms']} ms"
    )
    result = d.assign(incs, states, NOW)
    joint_ms = _timeit(lambda: d.assign(incs, states, NOW), 5)
    greedy = d.assign_greedy(incs, states, NOW)
    out["joint_assignment"] = {
        "incidents": incidents,
        "teams": teams,
        "target_ms": 500.0,
        **_summary(joint_ms),
        "assigned": len(result.pairs),
        "total_cost_s": result.total_cost_s,
        "greedy_total_cost_s": greedy.total_cost_s,
        "greedy_assigned": len(greedy.pairs),
    }
    log(
        f"joint: {incidents} x {teams}: median "
        f"{out['joint_assignment']['median_ms']} ms, {len(result.pairs)} assigned"
    )
    rng = random.Random(4)
    cps = rng.sample(site.places_of_kind("checkpoint") or site.ids, min(checkpoints, len(site.ids)))
    while len(cps) < checkpoints:
        extra = rng.choice(site.ids)
        if extra not in cps:
            cps.append(extra)
    rteams = [RouteTeam(f"r{k}", rng.choice(site.ids), 240) for k in range(route_teams)]
    cpl = [PatrolCheckpoint(c, visits=2 if k < checkpoints // 5 else 1, dwell_min=2) for k,
           c in enumerate(cps)]
    t0 = time.perf_counter()
    plan = plan_routes(site, rteams, cpl, time_limit_s=route_time_limit_s)
    route_ms = (time.perf_counter() - t0) * 1000
    out["routes"] = {"teams": route_teams, "checkpoints": checkpoints, "visits": sum(c.visits for c in cpl),
                     "shift_minutes": 240, "time_limit_s": route_time_limit_s, "target_ms": 5000.0,
                     "wall_ms": round(route_ms,
                                      1), "feasible": plan.feasible, "unvisited": len(plan.unvisited),
                     "longest_route_min": max(r.duration_min for r in plan.routes.values())}
    log(
        f"routes: {route_teams} teams x {checkpoints} checkpoints in "
        f"{route_ms:.0f} ms, feasible={plan.feasible}"
    )
    return out
