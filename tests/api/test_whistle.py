"""吹哨报到 through the real app: the escalation ladder (grid worker -> community office -> the category's
departments), a department user's queue, 报到 then a written answer, 转办 with a reason, all in the timeline;
and the deadline job calling the rungs the clock has reached."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from api.db.models import Incident, User, utcnow
from api.services.accounts import make_token
from tests.api.conftest import PASSWORD_HASH, Harness


def setup_bodies(api: Harness) -> dict[str, int]:
    ids = {}
    for key, name, kind, grid in (("grid:W", "第一网格", "grid", "W"),
                                  ("office", "社区居委会", "office", None),
                                  ("wuye", "物业", "department", None),
                                  ("xiaofang", "消防", "department", None),
                                  ("yuanlin", "园林", "department", None)):
        r = api.client.post("/api/bodies", headers=api.auth("admin"),
                            json={"key": key, "name": name, "kind": kind, "grid": grid})
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    with api.ctx.sessions() as s:
        for user, key in (("gw_w", "grid:W"), ("wuye1", "wuye"), ("xf1", "xiaofang"), ("yl1", "yuanlin")):
            role = "grid" if key.startswith("grid") else "department"
            u = User(name=user, password_hash=PASSWORD_HASH, role=role, body_id=ids[key])
            s.add(u)
            s.flush()
            api.tokens[user] = make_token(api.ctx.settings.secret_key, u.id, role, None, 3600)
        s.commit()
    return ids


def incident(api: Harness, place: str = "p2") -> int:
    r = api.client.post("/api/incidents", headers=api.auth("op"),
                        json={"title": "楼道堆物", "category": "stairwell_clutter", "place": place})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def escalate(api: Harness, inc: int) -> Any:
    r = api.client.post(f"/api/incidents/{inc}/actions", headers=api.auth("op"),
                        json={"action": "escalate"})
    assert r.status_code == 200, r.text
    return api.client.get(f"/api/calls?incident_id={inc}", headers=api.auth("op")).json()


def test_the_ladder_calls_grid_worker_then_office_then_the_category_departments(api: Harness) -> None:
    ids = setup_bodies(api)
    inc = incident(api)
    assert [c["body_id"] for c in escalate(api, inc)] == [ids["grid:W"]]
    assert [c["body_id"] for c in escalate(api, inc)] == [ids["office"], ids["grid:W"]]
    calls = escalate(api, inc)       # stairwell_clutter names wuye, xiaofang (api/services/policy.yaml)
    assert sorted(c["body_id"] for c in calls if c["rung"] == "department") == [ids["wuye"], ids["xiaofang"]]
    assert len(escalate(api, inc)) == 4       # nobody left to call: nothing more
    due = {c["due_at"] for c in calls}
    assert all(c["state"] == "called" and not c["overdue"] for c in calls) and len(due) >= 1
    tl = api.client.get(f"/api/incidents/{inc}", headers=api.auth("op")).json()["timeline"]
    called = [t["data"]["body"] for t in tl if t["action"] == "call"]
    assert called == ["grid:W", "office", "wuye", "xiaofang"]


def test_a_department_receives_the_whistle_reports_and_answers(api: Harness) -> None:
    setup_bodies(api)
    inc = incident(api)
    for _ in range(3):
        escalate(api, inc)
    mine = api.client.get("/api/calls?open=true", headers=api.auth("wuye1")).json()
    assert [(c["incident_id"], c["body"]) for c in mine] == [(inc, "物业")]
    assert mine[0]["incident_title"] == "楼道堆物"
    cid = mine[0]["id"]
    # another department cannot touch it; an answer before 报到 is refused
    assert api.client.post(f"/api/calls/{cid}/ack", headers=api.auth("xf1")).status_code == 404
    r = api.client.post(f"/api/calls/{cid}/answer", headers=api.auth("wuye1"), json={"text": "已清理"})
    assert r.status_code == 409 and "报到" in r.json()["detail"]
    # a department user is no operator: the incident routes are closed to it
    assert api.client.get(f"/api/incidents/{inc}", headers=api.auth("wuye1")).status_code == 403
    r = api.client.post(f"/api/calls/{cid}/ack", headers=api.auth("wuye1"))
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    assert r.json()["acknowledged_by"] == "wuye1"
    r = api.client.post(f"/api/calls/{cid}/answer", headers=api.auth("wuye1"),
                        json={"text": "纸箱已清走，已通知住户"})
    assert r.status_code == 200 and r.json()["state"] == "answered"
    assert api.client.get("/api/calls?open=true", headers=api.auth("wuye1")).json() == []
    tl = api.client.get(f"/api/incidents/{inc}", headers=api.auth("op")).json()["timeline"]
    steps = [(t["action"], t["actor"]) for t in tl if t["action"].startswith("call_")]
    assert steps == [("call_ack", "wuye1"), ("call_answer", "wuye1")]
    assert tl[-1]["reason"] == "纸箱已清走，已通知住户" and tl[-1]["data"]["late"] is False


def test_transfer_needs_a_reason_and_reaches_the_other_body(api: Harness) -> None:
    ids = setup_bodies(api)
    inc = incident(api)
    r = api.client.post(f"/api/incidents/{inc}/calls", headers=api.auth("op"),
                        json={"body_id": ids["xiaofang"]})
    cid = r.json()["id"]
    r = api.client.post(f"/api/calls/{cid}/transfer", headers=api.auth("xf1"),
                        json={"body_id": ids["yuanlin"], "reason": " "})
    assert r.status_code == 422
    r = api.client.post(f"/api/calls/{cid}/transfer", headers=api.auth("xf1"),
                        json={"body_id": ids["yuanlin"], "reason": "是树枝不是杂物，归园林"})
    assert r.status_code == 200 and r.json()["body_id"] == ids["yuanlin"] and r.json()["rung"] == "transfer"
    assert "是树枝不是杂物" in r.json()["reason"]
    assert api.client.get("/api/calls?open=true", headers=api.auth("xf1")).json() == []
    theirs = api.client.get("/api/calls?open=true", headers=api.auth("yl1")).json()
    assert [c["id"] for c in theirs] == [r.json()["id"]]
    tl = api.client.get(f"/api/incidents/{inc}", headers=api.auth("op")).json()["timeline"]
    assert [t["action"] for t in tl][-3:] == ["call", "call", "call_transfer"]


def test_the_deadline_job_calls_the_rungs_the_clock_has_reached(api: Harness) -> None:
    ids = setup_bodies(api)
    inc = incident(api)
    with api.ctx.sessions() as s:
        row = s.get(Incident, inc)
        assert row is not None
        deadline, opened = row.deadline_at, row.created_at
    api.ctx.patrol.tick(deadline + timedelta(seconds=1))
    calls = api.client.get(f"/api/calls?incident_id={inc}", headers=api.auth("op")).json()
    assert [c["body_id"] for c in calls] == [ids["grid:W"]]
    api.ctx.patrol.tick(deadline + (deadline - opened))      # far past it: office level
    calls = api.client.get(f"/api/calls?incident_id={inc}", headers=api.auth("op")).json()
    assert {c["body_id"] for c in calls} == {ids["grid:W"], ids["office"], ids["wuye"], ids["xiaofang"]}
    with api.ctx.sessions() as s:
        assert s.scalars(select(Incident.state).where(Incident.id == inc)).one() == "escalated"
    assert utcnow() < deadline


def test_a_call_not_answered_in_time_is_flagged_once(api: Harness) -> None:
    from api.services import whistle

    ids = setup_bodies(api)
    inc = incident(api)
    cid = api.client.post(f"/api/incidents/{inc}/calls", headers=api.auth("op"),
                          json={"body_id": ids["wuye"]}).json()["id"]
    due = api.client.get("/api/calls", headers=api.auth("wuye1")).json()[0]["due_at"]
    with api.ctx.sessions() as s:
        assert whistle.flag_overdue(s) == []
        later = datetime.fromisoformat(due) + timedelta(minutes=1)
        assert [i.id for i in whistle.flag_overdue(s, later)] == [inc]
        s.commit()
        assert whistle.flag_overdue(s, later + timedelta(hours=1)) == []     # once
    tl = api.client.get(f"/api/incidents/{inc}", headers=api.auth("op")).json()["timeline"]
    flags = [t for t in tl if t["action"] == "call_overdue"]
    assert len(flags) == 1 and flags[0]["reason"].startswith("物业 未按时报到")
    assert flags[0]["data"]["call_id"] == cid


def test_each_call_carries_what_it_allows_and_the_routes_refuse_the_rest(api: Harness) -> None:
    """The departments' page draws its buttons from `allowed_actions`: in every state of a call, each action
    listed is accepted and each one not listed is refused 409, saying what is allowed now."""
    ids = setup_bodies(api)
    inc = incident(api)
    cid = api.client.post(f"/api/incidents/{inc}/calls", headers=api.auth("op"),
                          json={"body_id": ids["xiaofang"]}).json()["id"]
    bodies = {"ack": None, "answer": {"text": "已处理"},
              "transfer": {"body_id": ids["yuanlin"], "reason": "归园林"}}
    seen = []
    for expected in (["ack", "transfer"], ["answer", "transfer"], []):
        c = next(c for c in api.client.get("/api/calls", headers=api.auth("xf1")).json() if c["id"] == cid)
        assert c["allowed_actions"] == expected and c["needs_text"] == [a for a in expected if a != "ack"]
        seen.append(c["state"])
        for action in set(bodies) - set(expected):
            r = api.client.post(f"/api/calls/{cid}/{action}", headers=api.auth("xf1"), json=bodies[action])
            assert r.status_code == 409, (c["state"], action, r.text)
            assert f"allowed now: {', '.join(expected) or 'none'}" in r.json()["detail"]
        if expected:
            r = api.client.post(f"/api/calls/{cid}/{expected[0]}", headers=api.auth("xf1"),
                                json=bodies[expected[0]])
            assert r.status_code == 200, r.text
    assert seen == ["called", "acknowledged", "answered"]
