from __future__ import annotations

from datetime import date, datetime

import pytest

from patrol import (
    DEMO_SITE,
    CheckIn,
    PatrolCheckpoint,
    PatrolError,
    RouteTeam,
    checkin_code,
    coverage,
    hotspot_visits,
    load_site,
    plan_routes,
    verify_checkin,
)


def _walked_minutes(site, route, dwell_by_place):
    """Recompute a route's length independently: walking plus dwell, waiting ignored (so a lower bound)."""
    places = [route.start] + [s.place for s in route.stops] + [route.end]
    walk = sum(site.travel_time_s(a, b) for a, b in zip(places, places[1:], strict=False)) / 60
    return walk + sum(dwell_by_place[s.place] for s in route.stops)


def test_routes_visit_every_checkpoint_within_the_shift():
    site = load_site(DEMO_SITE)
    cps = [PatrolCheckpoint(p, dwell_min=3, visits=2 if p == "cp_fire_east" else 1)
           for p in site.places_of_kind("checkpoint")]
    teams = [RouteTeam("t1", "b1_entrance", 30), RouteTeam("t2", "square", 30)]
    plan = plan_routes(site, teams, cps, time_limit_s=0.5)
    assert plan.feasible and plan.unvisited == []
    seen = [(s.place, s.visit) for r in plan.routes.values() for s in r.stops]
    assert sorted(seen) == sorted((c.place, k) for c in cps for k in range(c.visits))
    dwell = {c.place: c.dwell_min for c in cps}
    for team in teams:
        route = plan.routes[team.team_id]
        assert route.duration_min <= team.shift_minutes
        assert _walked_minutes(site, route, dwell) <= route.duration_min + 0.1
        arrivals = [s.arrive_min for s in route.stops]
        assert arrivals == sorted(arrivals)
    # the hotspot's two visits are spread: the second in the second half of the shift
    second = next(
        s for r in plan.routes.values() for s in r.stops if s.place == "cp_fire_east" and s.visit == 1
    )
    assert second.arrive_min >= 15


def test_a_checkpoint_only_its_team_may_cover_and_time_windows():
    site = load_site(DEMO_SITE)
    cps = [PatrolCheckpoint("cp_north_gate", teams=("south",)),
           PatrolCheckpoint("cp_south_gate", window=(20, 40))]
    teams = [RouteTeam("north", "gate_north", 60), RouteTeam("south", "gate_south", 60)]
    plan = plan_routes(site, teams, cps, time_limit_s=0.3)
    assert [s.place for s in plan.routes["south"].stops].count("cp_north_gate") == 1
    stop = next(s for r in plan.routes.values() for s in r.stops if s.place == "cp_south_gate")
    assert 20 <= stop.arrive_min <= 40


def test_too_short_a_shift_is_reported_not_hidden():
    site = load_site(DEMO_SITE)
    cps = [PatrolCheckpoint(p) for p in site.places_of_kind("checkpoint")]
    plan = plan_routes(site, [RouteTeam("t", "gate_south", 5)], cps, time_limit_s=0.3)
    assert not plan.feasible and plan.unvisited
    assert plan.routes["t"].duration_min <= 5


@pytest.mark.parametrize("cps, teams, message", [
    ([PatrolCheckpoint("nowhere")], [RouteTeam("t", "gate_south", 60)], "unknown place 'nowhere'"),
    ([PatrolCheckpoint("cp_square"), PatrolCheckpoint("cp_square")], [RouteTeam("t", "gate_south", 60)],
     "listed twice"),
    ([PatrolCheckpoint("cp_square", teams=("ghost",))], [RouteTeam("t", "gate_south", 60)], "team 'ghost'"),
    ([PatrolCheckpoint("cp_square")], [RouteTeam("t", "gate_south", 0)], "shift_minutes 0"),
    ([PatrolCheckpoint("cp_square", window=(30, 10))], [RouteTeam("t", "gate_south", 60)],
     "ends before it starts"),
])
def test_bad_route_input(cps, teams, message):
    with pytest.raises(PatrolError, match=message):
        plan_routes(load_site(DEMO_SITE), teams, cps, time_limit_s=0.2)


def test_hotspot_visits():
    assert hotspot_visits({"a": 7, "b": 2}, ["a", "b", "c"]) == {"a": 3, "b": 1, "c": 1}


def test_checkin_codes():
    code = checkin_code("s3cret", "cp_square")
    assert len(code) == 6 and code.isdigit()
    assert verify_checkin("s3cret", "cp_square", code)
    assert not verify_checkin("s3cret", "cp_parking", code)
    assert not verify_checkin("other", "cp_square", code)
    d1, d2 = date(2024, 6, 3), date(2024, 6, 4)
    assert checkin_code("s3cret", "cp_square", d1) != checkin_code("s3cret", "cp_square", d2)
    assert verify_checkin("s3cret", "cp_square", checkin_code("s3cret", "cp_square", d1), d1)


def test_coverage_counts_visits_per_day():
    day = date(2024, 6, 3)
    ins = [CheckIn("a", "t1", "p", datetime(2024, 6, 3, 9, 0)), CheckIn("a", "t1", "p", datetime(2024, 6, 3,
                                                                                                 9, 2)),
           CheckIn("a", "t1", "p", datetime(2024, 6, 3, 14, 0)), CheckIn("b", "t1", "p", datetime(2024, 6, 4,
                                                                                                  9, 0))]
    cov = coverage({"a": 3, "b": 1}, ins, day)
    assert (cov["a"].done, cov["a"].share) == (2, pytest.approx(0.667))   # 9:00 and 9:02 are one visit
    assert (cov["b"].done, cov["b"].share) == (0, 0.0)


def test_shift_round_for_the_demo_teams_on_shift():
    from patrol import DEMO_TEAMS, load_teams, plan_shift_routes

    site = load_site(DEMO_SITE)
    teams = load_teams(DEMO_TEAMS).teams
    now = datetime(2024, 6, 5, 18, 0)       # day teams t1, t2 have one hour left; t5 is on all day
    plan = plan_shift_routes(site, teams, now, hotspot_counts={"cp_fire_east": 6}, round_minutes=90,
                             time_limit_s=0.5)
    assert set(plan.routes) == {"t1", "t2", "t5"} and plan.feasible
    assert plan.routes["t1"].duration_min <= 60 and plan.routes["t5"].duration_min <= 90
    assert sum(1 for r in plan.routes.values() for s in r.stops if s.place == "cp_fire_east") == 3
    # checkpoints of grid G1 (t1's) are t1's
    g1 = {p for p in site.places_of_kind("checkpoint") if site.grid_of[p] == "G1"}
    assert g1 and g1 <= {s.place for s in plan.routes["t1"].stops}
