"""Patrol's periodic jobs through the api: escalation past the deadline, and a dispatch nobody
acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import Harness, event


def _detail(api: Harness, inc: int) -> dict:  # type: ignore[type-arg]
    return api.client.get(f"/api/incidents/{inc}", headers=api.auth("op")).json()  # type: ignore[no-any-return]


def test_deadline_escalates_to_grid_worker(api: Harness) -> None:
    api.register("cam1")
    inc = api.post_events(event("a", kind="crowd")).json()["incidents"][0]   # crowd: 20 min deadline, propose
    changed = api.ctx.patrol.tick(datetime.now(UTC) + timedelta(minutes=25))
    assert inc in changed
    d = _detail(api, inc)
    assert d["state"] == "escalated" and d["escalation_level"] >= 2
    kinds = [t["action"] for t in d["timeline"]]
    assert "escalated_grid" in kinds and "escalate" in kinds
    grid = next(t for t in d["timeline"] if t["action"] == "escalated_grid")
    assert grid["data"]["target"] == "gw_w" and grid["actor"] == "system"   # p2 (x = 200 m) lies in grid W
    assert api.ctx.patrol.tick(datetime.now(UTC) + timedelta(minutes=26)) == []   # nothing new: no repeat


def test_unacknowledged_dispatch_goes_to_the_next_team(api: Harness) -> None:
    api.register("cam1")
    inc = api.post_events(event("a", kind="fire_lane_blocked")).json()["incidents"][0]   # auto: t1 goes
    assert _detail(api, inc)["team_id"] == api.teams["t1"]
    api.ctx.patrol.tick(datetime.now(UTC) + timedelta(seconds=90))            # ack_seconds is 60
    d = _detail(api, inc)
    assert d["state"] == "dispatched" and d["team_id"] == api.teams["t2"]
    assert any(t["action"] == "decline" and "ack_timeout" in t["reason"] for t in d["timeline"])
    assert api.client.get("/api/tasks", headers=api.auth("lead1")).json() == []
    assert [t["id"] for t in api.client.get("/api/tasks", headers=api.auth("lead2")).json()] == [inc]
