"""The incident state machine over HTTP: legal paths, 409 on illegal steps, roles, and the timeline."""

from __future__ import annotations

import pytest

from tests.api.conftest import Harness, event


def _incident(api: Harness, kind: str = "crowd", eid: str = "ev1") -> int:
    # crowd is a "propose" category: nobody is dispatched automatically
    api.register("cam1")
    r = api.post_events(event(eid, kind=kind))
    assert r.status_code == 200, r.text
    return int(r.json()["incidents"][0])


def act(api: Harness, who: str, inc: int, action: str, **kw: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = api.client.post(f"/api/incidents/{inc}/actions", headers=api.auth(who), json={"action": action, **kw})
    return r.status_code, r.json()


def test_full_lifecycle_records_who_when_why(api: Harness) -> None:
    inc = _incident(api)
    t1 = api.teams["t1"]
    assert act(api, "op", inc, "dispatch", team_id=t1, reason="nearest")[0] == 200
    assert act(api, "lead1", inc, "accept")[0] == 200
    assert act(api, "lead1", inc, "arrive")[0] == 200
    code, body = act(api, "lead1", inc, "resolve", reason="dispersed")
    assert code == 200 and body["state"] == "resolved"
    assert act(api, "op", inc, "close", reason="done")[1]["state"] == "closed"
    detail = api.client.get(f"/api/incidents/{inc}", headers=api.auth("op")).json()
    steps = [(t["action"], t["actor"], t["from_state"],
              t["to_state"]) for t in detail["timeline"] if t["to_state"]]
    assert steps == [
        ("opened", "worker:w1", None, "open"), ("dispatch", "op", "open", "dispatched"),
        ("accept", "lead1", "dispatched", "accepted"), ("arrive", "lead1", "accepted", "on_site"),
        ("resolve", "lead1", "on_site", "resolved"), ("close", "op", "resolved", "closed"),
    ]
    assert any(t["action"] == "dispatch" and t["reason"] == "nearest" for t in detail["timeline"])
    # points went to the team's members for the resolved task
    pts = api.client.get(f"/api/teams/{t1}/points", headers=api.auth("lead1")).json()
    assert pts["balance"]["t1_lead"] > 0 and pts["balance"]["t1_m"] == pts["balance"]["t1_lead"]


@pytest.mark.parametrize("action, setup, message", [
    ("accept", [], "'open': cannot accept"),
    ("resolve", ["dispatch"], "'dispatched': cannot resolve"),
    ("close", ["dispatch"], "'dispatched': cannot close"),
    ("reopen", [], "'open': cannot reopen"),
])
def test_illegal_transition_is_409_naming_state(api: Harness, action: str, setup: list[str],
                                                message: str) -> None:
    inc = _incident(api)
    for step in setup:
        assert act(api, "op", inc, step, team_id=api.teams["t1"])[0] == 200
    before = api.client.get(f"/api/incidents/{inc}", headers=api.auth("op")).json()
    code, body = act(api, "op", inc, action, team_id=api.teams["t1"], reason="x")
    assert code == 409 and message in body["detail"]
    after = api.client.get(f"/api/incidents/{inc}", headers=api.auth("op")).json()
    assert after["state"] == before["state"] and len(after["timeline"]) == len(before["timeline"])


def test_reason_and_team_required(api: Harness) -> None:
    inc = _incident(api)
    code, body = act(api, "op", inc, "dispatch")
    assert code == 422 and "team" in body["detail"]
    code, body = act(api, "op", inc, "false_alarm")
    assert code == 422 and "reason" in body["detail"]
    assert act(api, "op", inc, "false_alarm", reason="shadow")[1]["state"] == "false_alarm"
    assert act(api, "op", inc, "reopen", reason="it was real")[1]["state"] == "reopened"


def test_leader_rights(api: Harness) -> None:
    inc = _incident(api)
    assert act(api, "lead1", inc, "accept")[0] == 404          # not his team's (yet)
    assert act(api, "op", inc, "dispatch", team_id=api.teams["t1"])[0] == 200
    assert act(api, "lead2", inc, "accept")[0] == 404          # another team's task
    assert api.client.get(f"/api/incidents/{inc}", headers=api.auth("lead2")).status_code == 404
    assert act(api, "lead1", inc, "close")[0] == 403           # operators' action
    code, body = act(api, "lead1", inc, "decline", reason="too far")
    assert code == 200 and body["state"] in ("declined", "dispatched")  # patrol may ask the next team at once
    assert [i["id"] for i in api.client.get("/api/tasks", headers=api.auth("lead1")).json()] == []
    assert api.client.post("/api/incidents", headers=api.auth("lead1"),
                           json={"title": "x"}).status_code == 403


def test_manual_incident_and_note(api: Harness) -> None:
    r = api.client.post("/api/incidents", headers=api.auth("op"),
                        json={"title": "Bags piled on stairs", "event_type": "stairwell_clutter",
                              "place": "p3"})
    assert r.status_code == 201, r.text
    inc = r.json()
    assert inc["source"] == "manual" and inc["category"] == "stairwell_clutter" and inc["created_by"] == "op"
    r = api.client.post(f"/api/incidents/{inc['id']}/notes", headers=api.auth("op"),
                        json={"note": "called owner"})
    assert r.status_code == 201 and r.json()["actor"] == "op"
    listed = api.client.get("/api/incidents?active=true&category=stairwell_clutter",
                            headers=api.auth("op")).json()
    assert [i["id"] for i in listed] == [inc["id"]]
    assert api.client.get("/api/incidents/999999", headers=api.auth("op")).status_code == 404


def test_auto_dispatch_for_auto_category(api: Harness) -> None:
    inc = _incident(api, "fire_lane_blocked")    # mode auto: nearest free team on shift goes
    detail = api.client.get(f"/api/incidents/{inc}", headers=api.auth("op")).json()
    assert detail["state"] == "dispatched" and detail["team_id"] == api.teams["t1"]  # p1 is nearer p2 than p4
    disp = [t for t in detail["timeline"] if t["action"] == "dispatch"][0]
    assert disp["actor"] == "patrol" and disp["reason"].startswith("auto:")
    # the proposal for another, proposed-mode incident lists teams with reasons
    other = _incident(api, "crowd", "ev2")
    props = api.client.get(f"/api/incidents/{other}/proposal", headers=api.auth("op")).json()
    assert props and all(p["reasons"] for p in props)
