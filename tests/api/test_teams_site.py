"""Teams, the site, routes, check-ins and points, through the api with the test site loaded."""

from __future__ import annotations

from typing import Any

import patrol
from tests.api.conftest import Harness


def test_site_and_path(api: Harness) -> None:
    site = api.client.get("/api/site", headers=api.auth("lead1")).json()
    assert set(site["places"]) == {"p0", "p1", "p2", "p3", "p4"} and site["simulation"] is False
    assert site["places"]["p0"]["grid"] == "W"
    r = api.client.get("/api/site/path?from=p0&to=p3", headers=api.auth("lead1")).json()
    assert r["path"] == ["p0", "p1", "p2", "p3"] and r["travel_s"] == 300.0
    assert api.client.get("/api/site/path?from=p0&to=zz", headers=api.auth("op")).status_code == 404
    assert api.client.get("/api/site").status_code == 401


def test_teams_roles_and_status(api: Harness) -> None:
    t1, t2 = api.teams["t1"], api.teams["t2"]
    assert len(api.client.get("/api/teams", headers=api.auth("op")).json()) == 2
    mine = api.client.get("/api/teams/mine", headers=api.auth("lead1")).json()
    assert mine["id"] == t1 and mine["on_shift"] is True
    assert [t["id"] for t in api.client.get("/api/teams", headers=api.auth("lead1")).json()] == [t1]
    r = api.client.patch(f"/api/teams/{t1}/status", headers=api.auth("lead1"), json={"status": "on_patrol",
                                                                                     "position": [390, 12]})
    assert r.status_code == 200 and r.json()["status"] == "on_patrol" and r.json()["place"] == "p4"
    assert api.client.patch(f"/api/teams/{t2}/status", headers=api.auth("lead1"),
                            json={"status": "on_site"}).status_code == 404
    assert api.client.patch(f"/api/teams/{t1}/status", headers=api.auth("op"),
                            json={"place": "nowhere"}).status_code == 422


def test_create_team_validates_with_patrol(api: Harness) -> None:
    body: dict[str, Any] = {"key": "t3", "name": "第三巡逻队", "leader": "x", "members": ["y"]}
    r = api.client.post("/api/teams", headers=api.auth("admin"), json=body)
    assert r.status_code == 422 and "leader 'x' is not among members" in r.json()["detail"]
    body = {**body, "members": ["x", "y"], "roster": [{"days": ["mon"], "start": "18:00", "end": "08:00"}]}
    r = api.client.post("/api/teams", headers=api.auth("admin"), json=body)
    assert r.status_code == 422 and "ends before it starts" in r.json()["detail"]
    body["roster"][0]["crosses_midnight"] = True
    r = api.client.post("/api/teams", headers=api.auth("admin"), json=body)
    assert r.status_code == 201, r.text
    assert api.client.post("/api/teams", headers=api.auth("op"), json=body).status_code == 403
    assert api.client.post("/api/teams", headers=api.auth("admin"), json=body).status_code == 409


def test_an_admin_edits_a_team_checked_whole_and_the_control_room_hears_it(api: Harness) -> None:
    t1 = api.teams["t1"]
    before = api.client.get(f"/api/teams/{t1}", headers=api.auth("op")).json()
    # a refused change names what is wrong and leaves the team as it was
    r = api.client.patch(f"/api/teams/{t1}", headers=api.auth("admin"), json={"leader": "nobody"})
    assert r.status_code == 422 and "leader 'nobody' is not among members" in r.json()["detail"]
    r = api.client.patch(f"/api/teams/{t1}", headers=api.auth("admin"), json={"base": "nowhere"})
    assert r.status_code == 422 and "no place 'nowhere'" in r.json()["detail"]
    r = api.client.patch(f"/api/teams/{t1}", headers=api.auth("admin"), json={"name": None})
    assert r.status_code == 422 and "cannot be null" in r.json()["detail"]
    assert api.client.get(f"/api/teams/{t1}", headers=api.auth("op")).json() == before
    # roles: operators and leaders may not
    for who in ("op", "lead1"):
        r = api.client.patch(f"/api/teams/{t1}", headers=api.auth(who), json={"name": "x"})
        assert r.status_code == 403
    r = api.client.patch("/api/teams/999", headers=api.auth("admin"), json={"name": "x"})
    assert r.status_code == 404
    # a new member, a new evening roster, another timezone
    members = [*before["members"], "t1_new"]
    roster = [{"days": ["mon", "tue"], "start": "18:00", "end": "22:00"}]
    with api.client.websocket_connect(f"/ws?token={api.tokens['op']}") as ws:
        while ws.receive_json()["topic"] != "ready":
            pass
        r = api.client.patch(f"/api/teams/{t1}", headers=api.auth("admin"),
                             json={"name": "第一巡逻队（夜）", "members": members, "roster": roster,
                                   "timezone": "Asia/Urumqi"})
        assert r.status_code == 200, r.text
        msg = ws.receive_json()
        while msg["topic"] != "teams":
            msg = ws.receive_json()
        assert msg["payload"]["id"] == t1 and msg["payload"]["name"] == "第一巡逻队（夜）"
    after = api.client.get(f"/api/teams/{t1}", headers=api.auth("op")).json()
    assert after["members"] == members and after["roster"] == roster and after["timezone"] == "Asia/Urumqi"
    assert after["leader"] == before["leader"] and after["key"] == before["key"]
    # a member who leaves takes his entry in people with him
    r = api.client.patch(f"/api/teams/{t1}", headers=api.auth("admin"), json={"members": [before["leader"]]})
    assert r.status_code == 200 and set(r.json()["people"]) <= {before["leader"]}
    assert api.client.patch(f"/api/teams/{t1}", headers=api.auth("admin"),
                            json={"timezone": "Mars/Phobos"}).status_code == 422


def test_route_checkin_and_points(api: Harness) -> None:
    route = api.client.get("/api/patrol/route/mine", headers=api.auth("lead1")).json()
    places = [s["place"] for s in route["stops"]]
    assert set(places) == {"p1", "p3"} and route["duration_min"] > 0 and route["checked_in"] == []
    r = api.client.post("/api/patrol/checkins", headers=api.auth("lead1"), json={"checkpoint": "p3",
                                                                                 "code": "000000"})
    assert r.status_code == 422 and "wrong code" in r.json()["detail"]
    code = patrol.checkin_code(api.ctx.settings.secret_key, "p3")
    r = api.client.post("/api/patrol/checkins", headers=api.auth("lead1"), json={"checkpoint": "p3",
                                                                                 "code": code})
    assert r.status_code == 201 and r.json()["person"] == "t1_lead"
    route = api.client.get("/api/patrol/route/mine", headers=api.auth("lead1")).json()
    assert route["checked_in"] == ["p3"] and route["coverage"]["p3"]["done"] == 1
    pts = api.client.get("/api/points/mine", headers=api.auth("lead1")).json()
    assert pts["balance"]["t1_lead"] == 1 and pts["history"][0]["kind"] == "checkin"
    t1 = api.teams["t1"]
    r = api.client.post(f"/api/teams/{t1}/points/redeem", headers=api.auth("op"),
                        json={"person": "t1_lead", "points": 5, "item": "soap"})
    assert r.status_code == 422 and "1 points, 5 needed" in r.json()["detail"]
    r = api.client.post(f"/api/teams/{t1}/points/redeem", headers=api.auth("op"),
                        json={"person": "t1_lead", "points": 1, "item": "soap"})
    assert r.status_code == 201 and r.json()["delta"] == -1
    assert api.client.post(f"/api/teams/{t1}/points/redeem", headers=api.auth("lead1"),
                           json={"person": "t1_lead", "points": 1, "item": "x"}).status_code == 403


def test_stats(api: Harness) -> None:
    from tests.api.conftest import event

    api.register("cam1")
    api.post_events(event(kind="crowd"))
    s = api.client.get("/api/stats/today", headers=api.auth("op")).json()
    assert s["open"] == 1 and s["today_created"] == 1 and s["by_category"] == {"crowd": 1}
    assert api.client.get("/api/stats/summary", headers=api.auth("lead1")).status_code == 403
