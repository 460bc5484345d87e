from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from patrol import CurrentTask, Dispatcher, Incident, PatrolError, site_from_dict

from .conftest import MONDAY_10, line_site_dict, make_team, state


def inc(iid: str, place: str, category: str = "plain", at: datetime = MONDAY_10, **kw) -> Incident:
    return Incident(id=iid, category=category, place=place, opened_at=at, **kw)


def test_nearest_free_team_wins(line_site, policy):
    teams = {t: make_team(t) for t in ("a", "b", "c")}
    d = Dispatcher(line_site, teams, policy)
    states = {"a": state("a", "p0"), "b": state("b", "p3"), "c": state("c", "p4")}
    ranked = d.rank(inc("i1", "p2"), states, MONDAY_10)
    assert [c.team_id for c in ranked] == ["b", "a", "c"]
    assert ranked[0].travel_s == pytest.approx(100.0)
    assert any("walk" in r for r in ranked[0].reasons)
    decision = d.decide(inc("i1", "p2"), states, MONDAY_10)
    assert decision.mode == "auto" and decision.chosen is not None and decision.chosen.team_id == "b"
    assert decision.timeline[0].kind == "dispatched" and decision.timeline[0].target == "b"


def test_team_off_shift_is_never_chosen(line_site, policy):
    teams = {"near": make_team("near", start="18:00", end="23:00"), "far": make_team("far")}
    d = Dispatcher(line_site, teams, policy)
    states = {"near": state("near", "p2"), "far": state("far", "p0")}
    for minute in range(0, 8 * 60, 30):       # all through the far team's day shift
        now = MONDAY_10.replace(hour=8) + timedelta(minutes=minute)
        assert [c.team_id for c in d.rank(inc("i", "p2", at=now), states, now)] == ["far"]
    states["near"].status = "off_duty"
    night = MONDAY_10.replace(hour=20)
    assert d.rank(inc("i", "p2", at=night), states, night) == []


def test_declined_team_is_skipped_and_never_asked_again(line_site, policy):
    teams = {t: make_team(t) for t in ("a", "b", "c")}
    d = Dispatcher(line_site, teams, policy)
    states = {"a": state("a", "p2"), "b": state("b", "p3"), "c": state("c", "p0")}
    i = inc("i1", "p2")
    assert d.decide(i, states, MONDAY_10).chosen.team_id == "a"
    i, dec = d.after_decline(i, "a", states, MONDAY_10, reason="blocked")
    assert dec.chosen.team_id == "b" and dec.timeline[0].kind == "declined"
    assert "a" not in [c.team_id for c in d.rank(i, states, MONDAY_10)]
    later = MONDAY_10 + timedelta(seconds=61)
    assert d.ack_overdue(i, MONDAY_10, later) and not d.ack_overdue(i, MONDAY_10,
                                                                    MONDAY_10 + timedelta(seconds=30))
    i, dec = d.after_decline(i, "b", states, later, why="ack_timeout")
    assert dec.chosen.team_id == "c" and dec.timeline[0].kind == "ack_timeout"
    i, dec = d.after_decline(i, "c", states, later)
    assert dec.chosen is None and dec.timeline[-1].kind == "no_team"
    assert i.excluded_teams == {"a", "b", "c"}


def test_busy_team_only_leaves_a_lower_severity_task(policy):
    # free team 1000 s away; pulling the busy one off its minor task costs preempt_s = 600 s
    site = site_from_dict(line_site_dict(step=500))
    teams = {t: make_team(t, skills=["fire_safety"]) for t in ("busy", "free")}
    d = Dispatcher(site, teams, policy)
    states = {"busy": state("busy", "p2", "on_site", task=CurrentTask("old", severity=1)),
              "free": state("free", "p4")}
    fire = d.rank(inc("f", "p2", "fire"), states, MONDAY_10)
    assert fire[0].team_id == "busy" and fire[0].preempts == "old"
    assert any("lower-severity task old" in r for r in fire[0].reasons)
    states["busy"].task = CurrentTask("old", severity=5)
    assert [c.team_id for c in d.rank(inc("f", "p2", "fire"), states, MONDAY_10)] == ["free"]


def test_skills_grid_and_workload_shape_the_ranking(line_site, policy):
    teams = {"skilled": make_team("skilled", skills=["fire_safety"]), "plain": make_team("plain")}
    d = Dispatcher(line_site, teams, policy)
    # plain is 100 m (100 s) nearer but lacks fire_safety (300 s penalty)
    states = {"skilled": state("skilled", "p0"), "plain": state("plain", "p1")}
    ranked = d.rank(inc("f", "p2", "fire"), states, MONDAY_10)
    assert [c.team_id for c in ranked] == ["skilled", "plain"]
    assert any("lacks fire_safety" in r for r in ranked[1].reasons)
    # equal distance: the team responsible for the grid wins; then the one with less work so far
    teams = {"w": make_team("w", home_grid="W"), "e": make_team("e", home_grid="E")}
    d = Dispatcher(line_site, teams, policy)
    states = {"w": state("w", "p1"), "e": state("e", "p3")}
    assert d.rank(inc("g", "p2"), states, MONDAY_10)[0].team_id == "w"      # p2 (x=200) is in grid W
    states["w"].tasks_this_shift = 4
    assert d.rank(inc("g", "p2"), states, MONDAY_10)[0].team_id == "e"


def test_propose_mode_shows_top_three(line_site, policy):
    teams = {t: make_team(t) for t in "abcde"}
    d = Dispatcher(line_site, teams, policy)
    states = {t: state(t, f"p{i}") for i, t in enumerate("abcde")}
    dec = d.decide(inc("m", "p0", "minor"), states, MONDAY_10)
    assert dec.mode == "propose" and dec.chosen is None
    assert [c.team_id for c in dec.candidates] == ["a", "b", "c"]


def test_joint_assignment_beats_greedy_on_a_known_case(line_site, policy):
    # i1 at p2 is first in line; greedy gives it x (100 s away), leaving i2 at p4 to y at p0 (400 s): 500 s.
    # Jointly: y -> i1 (200 s), x -> i2 (100 s): 300 s.
    teams = {"x": make_team("x"), "y": make_team("y")}
    d = Dispatcher(line_site, teams, policy)
    states = {"x": state("x", "p3"), "y": state("y", "p0")}
    waiting = [inc("i1", "p2", at=MONDAY_10 - timedelta(minutes=2)), inc("i2", "p4",
                                                                         at=MONDAY_10 - timedelta(minutes=1))]
    greedy = d.assign_greedy(waiting, states, MONDAY_10)
    joint = d.assign(waiting, states, MONDAY_10)
    assert {k: v.team_id for k, v in greedy.pairs.items()} == {"i1": "x", "i2": "y"}
    assert {k: v.team_id for k, v in joint.pairs.items()} == {"i1": "y", "i2": "x"}
    assert greedy.total_cost_s == pytest.approx(500.0) and joint.total_cost_s == pytest.approx(300.0)


def test_joint_assignment_serves_the_most_severe_when_teams_run_out(line_site, policy):
    teams = {"x": make_team("x", skills=["fire_safety"])}
    d = Dispatcher(line_site, teams, policy)
    states = {"x": state("x", "p0")}
    waiting = [inc("minor1", "p0", "minor"), inc("fire1", "p4", "fire"), inc("plain1", "p1")]
    a = d.assign(waiting, states, MONDAY_10)
    assert list(a.pairs) == ["fire1"] and sorted(a.unassigned) == ["minor1", "plain1"]


def test_joint_assignment_respects_exclusions_and_duplicates(line_site, policy):
    teams = {"x": make_team("x"), "y": make_team("y")}
    d = Dispatcher(line_site, teams, policy)
    states = {"x": state("x", "p2"), "y": state("y", "p4")}
    a = d.assign([inc("i", "p2", excluded_teams=frozenset({"x"}))], states, MONDAY_10)
    assert a.pairs["i"].team_id == "y"
    with pytest.raises(PatrolError, match="same incident id"):
        d.assign([inc("i", "p2"), inc("i", "p3")], states, MONDAY_10)


def test_unknown_category_and_place_are_named(line_site, policy):
    d = Dispatcher(line_site, {"a": make_team("a")}, policy)
    states = {"a": state("a", "p0")}
    with pytest.raises(PatrolError, match="unknown incident category 'meteor'"):
        d.rank(inc("i", "p1", "meteor"), states, MONDAY_10)
    with pytest.raises(PatrolError, match="unknown place 'p99'"):
        d.rank(inc("i", "p99"), states, MONDAY_10)
    with pytest.raises(PatrolError, match="team b: base 'nowhere'"):
        Dispatcher(line_site, {"b": make_team("b", base="nowhere")}, policy)
