"""The one state machine through the api: what each caller may do travels with every incident, deadlines and
escalation never take a working team's task away, and a periodic job survives a bad incident."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.conftest import Harness, event

OPERATOR_OPEN = ["dispatch", "escalate", "false_alarm"]


def act(api: Harness, who: str, inc: int, action: str, **kw: object) -> tuple[int, dict[str, Any]]:
    r = api.client.post(f"/api/incidents/{inc}/actions", headers=api.auth(who), json={"action": action, **kw})
    return r.status_code, r.json()


def detail(api: Harness, inc: int, who: str = "op") -> dict[str, Any]:
    r = api.client.get(f"/api/incidents/{inc}", headers=api.auth(who))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def crowd(api: Harness, eid: str = "ev1", camera: str = "cam1") -> int:
    api.register(camera)
    r = api.post_events(event(eid, camera=camera, kind="crowd"))   # propose: nobody is sent automatically
    assert r.status_code == 200, r.text
    return int(r.json()["incidents"][0])


def test_every_answer_says_what_this_caller_may_do(api: Harness) -> None:
    inc = crowd(api)
    d = detail(api, inc)
    assert d["allowed_actions"] == OPERATOR_OPEN and d["needs_reason"] == ["false_alarm"]
    listed = api.client.get("/api/incidents", headers=api.auth("op")).json()
    assert listed[0]["allowed_actions"] == OPERATOR_OPEN
    code, body = act(api, "op", inc, "dispatch", team_id=api.teams["t1"])
    assert code == 200 and "accept" in body["allowed_actions"] and "override" in body["needs_reason"]
    task = api.client.get("/api/tasks", headers=api.auth("lead1")).json()[0]
    assert task["allowed_actions"] == ["accept", "decline"] and task["needs_reason"] == ["decline"]
    # the phone's offline view of the steps ahead: accept -> arrive -> resolve
    assert task["next_state"] == {"accept": "accepted", "decline": "declined"}
    assert task["ahead"]["accepted"]["allowed_actions"] == ["arrive"]
    assert task["ahead"]["on_site"]["next_state"] == {"resolve": "resolved"}
    for action in ("accept", "arrive"):
        assert act(api, "lead1", inc, action)[0] == 200
    code, body = act(api, "lead1", inc, "resolve", reason="dispersed")
    assert code == 200 and body["allowed_actions"] == [] and body["active"] is False
    assert detail(api, inc)["allowed_actions"] == ["close", "reopen"]


def test_websocket_messages_carry_the_actions_of_their_audience(api: Harness) -> None:
    inc = crowd(api)
    with api.client.websocket_connect(f"/ws?token={api.tokens['op']}") as ws:
        while ws.receive_json()["topic"] != "ready":
            pass
        assert act(api, "op", inc, "dispatch", team_id=api.teams["t1"])[0] == 200
        seen: dict[str, dict[str, Any]] = {}
        while len(seen) < 2:
            msg = ws.receive_json()
            if msg["topic"] in ("incidents", "tasks") and msg["payload"].get("id") == inc:
                seen[msg["topic"]] = msg["payload"]
    assert "override" in seen["incidents"]["allowed_actions"]             # the control room's
    assert seen["tasks"]["allowed_actions"] == ["accept", "decline"]      # the team's phone's


def test_five_escalations_then_dispatch_and_other_timeouts_still_fire(api: Harness) -> None:
    a = crowd(api)
    for _ in range(5):
        code, body = act(api, "op", a, "escalate", reason="no answer")
        assert code == 200, body
    assert detail(api, a)["escalation_level"] == 3                          # the top of the ladder
    code, body = act(api, "op", a, "dispatch", team_id=api.teams["t2"])
    assert code == 200 and body["state"] == "dispatched"
    b = api.post_events(event("b", kind="fire_lane_blocked")).json()["incidents"][0]   # auto: t1 goes
    assert detail(api, b)["team_id"] == api.teams["t1"]
    api.ctx.patrol.tick(datetime.now(UTC) + timedelta(seconds=90))          # b's ack_seconds is 60
    d = detail(api, b)
    assert any(t["action"] == "decline" and "ack_timeout" in t["reason"] for t in d["timeline"])
    assert d["team_id"] != api.teams["t1"]


def test_overdue_accepted_incident_is_arrived_at_and_resolved(api: Harness) -> None:
    inc = crowd(api)                                                        # crowd: 20 min deadline
    assert act(api, "op", inc, "dispatch", team_id=api.teams["t1"])[0] == 200
    assert act(api, "lead1", inc, "accept")[0] == 200
    api.ctx.patrol.tick(datetime.now(UTC) + timedelta(minutes=25))
    d = detail(api, inc)
    assert d["state"] == "accepted" and d["team_id"] == api.teams["t1"] and d["escalation_level"] >= 2
    assert "escalated_grid" in [t["action"] for t in d["timeline"]]         # the grid worker is called
    assert act(api, "lead1", inc, "arrive")[0] == 200
    api.ctx.patrol.tick(datetime.now(UTC) + timedelta(minutes=40))
    assert detail(api, inc)["state"] == "on_site"
    code, body = act(api, "lead1", inc, "resolve", reason="dispersed")
    assert code == 200 and body["state"] == "resolved"
    team = api.client.get(f"/api/teams/{api.teams['t1']}", headers=api.auth("op")).json()
    assert team["status"] == "available"


def test_overdue_redispatch_is_not_undone(api: Harness) -> None:
    inc = crowd(api)
    api.ctx.patrol.tick(datetime.now(UTC) + timedelta(minutes=25))
    assert detail(api, inc)["state"] == "escalated"                         # nobody on it: escalated
    assert act(api, "op", inc, "dispatch", team_id=api.teams["t2"])[0] == 200
    assert act(api, "lead2", inc, "accept")[0] == 200
    api.ctx.patrol.tick(datetime.now(UTC) + timedelta(minutes=26))
    api.ctx.patrol.tick(datetime.now(UTC) + timedelta(minutes=60))         # the office is called now
    d = detail(api, inc)
    assert d["state"] == "accepted" and d["team_id"] == api.teams["t2"] and d["escalation_level"] == 3


def test_dispatch_without_a_proposal(api: Harness) -> None:
    r = api.client.post("/api/incidents", headers=api.auth("op"),
                        json={"title": "Noise in the yard"})   # no place
    inc = r.json()
    assert r.status_code == 201 and inc["place"] is None
    assert api.client.get(f"/api/incidents/{inc['id']}/proposal", headers=api.auth("op")).json() == []
    assert "dispatch" in inc["allowed_actions"]
    code, body = act(api, "op", inc["id"], "dispatch", team_id=api.teams["t2"])
    assert code == 200 and body["team_id"] == api.teams["t2"]


def test_false_alarm_frees_the_team(api: Harness) -> None:
    inc = crowd(api)
    assert act(api, "op", inc, "dispatch", team_id=api.teams["t1"])[0] == 200
    assert act(api, "op", inc, "false_alarm", reason="a shadow")[0] == 200
    team = api.client.get(f"/api/teams/{api.teams['t1']}", headers=api.auth("op")).json()
    assert team["status"] == "available"


def test_a_failing_incident_does_not_stop_the_job(api: Harness, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    import patrol

    bad = crowd(api, "ev1", "cam1")
    good = crowd(api, "ev2", "cam2")
    real = patrol.escalation_step

    def step(incident: Any, *args: Any, **kw: Any) -> Any:
        if incident.id == str(bad):
            raise RuntimeError("broken row")
        return real(incident, *args, **kw)

    monkeypatch.setattr(patrol, "escalation_step", step)
    with caplog.at_level(logging.ERROR):
        changed = api.ctx.patrol.tick(datetime.now(UTC) + timedelta(minutes=25))
    assert good in changed and bad not in changed
    assert detail(api, good)["state"] == "escalated"
    assert f"incident {bad}" in caplog.text


def test_a_failing_incident_does_not_stop_auto_dispatch_of_the_others(
    api: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import patrol

    real = patrol.Dispatcher.decide
    first: list[str] = []

    def decide(self: Any, incident: Any, *args: Any, **kw: Any) -> Any:
        first.append(incident.id)
        if len(first) == 1:
            raise RuntimeError("broken row")
        return real(self, incident, *args, **kw)

    monkeypatch.setattr(patrol.Dispatcher, "decide", decide)
    api.register("cam1", "cam2")
    with caplog.at_level(logging.ERROR):
        r = api.post_events([event("a", camera="cam1"), event("b", camera="cam2")])   # fire lane: auto
    incs = r.json()["incidents"]
    states = {i: detail(api, i)["state"] for i in incs}
    assert sorted(states.values()) == ["dispatched", "open"], states
    assert f"incident {first[0]}" in caplog.text


def test_dispatch_when_every_team_is_off_shift(api: Harness) -> None:
    from api.db.models import Team

    with api.ctx.sessions() as s:
        for team in s.query(Team):
            team.roster, team.exceptions = [], []       # nobody on shift now
        s.commit()
    api.ctx.patrol.teams_changed()
    inc = crowd(api)
    assert api.client.get(f"/api/incidents/{inc}/proposal", headers=api.auth("op")).json() == []
    assert "dispatch" in detail(api, inc)["allowed_actions"]
    code, body = act(api, "op", inc, "dispatch", team_id=api.teams["t1"], reason="called them in")
    assert code == 200 and body["state"] == "dispatched" and body["team_id"] == api.teams["t1"]
