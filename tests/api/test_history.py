"""Incident history for operators: search by text, date range, source and grid, paged past the newest 200
(X-Total-Count), and several false alarms closed at once with one reason."""

from __future__ import annotations

from datetime import timedelta

from api.db.models import Incident, utcnow
from tests.api.conftest import Harness


def make(api: Harness, title: str, place: str | None = None, category: str = "crowd") -> int:
    body = {"title": title, "category": category, **({"place": place} if place else {})}
    r = api.client.post("/api/incidents", headers=api.auth("op"), json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def ids(r: object) -> list[int]:
    return [i["id"] for i in r.json()]  # type: ignore[attr-defined]


def test_search_by_text_date_source_and_grid_paged_past_the_newest(api: Harness) -> None:
    a = make(api, "东门堆放纸箱", "p1")
    b = make(api, "广场 100% 聚集", "p4")
    c = api.client.post("/api/public/reports", data={"category": "crowd", "text": "晚上有人在广场聚集喧哗",
                                                     "place": "p3"})
    assert c.status_code == 201
    with api.ctx.sessions() as s:
        old = s.get(Incident, a)
        assert old is not None
        old.created_at = utcnow() - timedelta(days=40)
        s.commit()
    get = lambda q: api.client.get("/api/incidents?" + q, headers=api.auth("op"))  # noqa: E731
    assert ids(get("text=纸箱")) == [a]
    assert ids(get("text=100%25")) == [b]           # % is a character, not a wildcard
    assert len(ids(get("text=聚集"))) == 2           # b's title, the report's description
    since = (utcnow() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert a not in ids(get(f"since={since}")) and len(ids(get(f"since={since}"))) == 2
    assert ids(get(f"until={since}")) == [a]
    assert len(ids(get("source=resident"))) == 1 and b in ids(get("source=manual"))
    assert ids(get("grid=W")) == [a] and len(ids(get("grid=E"))) == 2
    for i in range(205):
        make(api, f"批量{i}")
    r = get("limit=200&offset=200")
    assert r.headers["X-Total-Count"] == "208" and len(r.json()) == 8 and r.json()[-1]["id"] == a
    assert get("source=drone").status_code == 422


def test_several_false_alarms_closed_at_once_with_a_reason(api: Harness) -> None:
    one, two, busy = make(api, "一"), make(api, "二"), make(api, "忙")
    for who, action, extra in (("op", "dispatch", {"team_id": api.teams["t1"]}), ("lead1", "accept", {})):
        assert api.client.post(f"/api/incidents/{busy}/actions", headers=api.auth(who),
                               json={"action": action, **extra}).status_code == 200
    r = api.client.post("/api/incidents/false-alarms", headers=api.auth("op"),
                        json={"ids": [one, two, busy, 999999], "reason": "演练，非真实事件"})
    assert r.status_code == 200, r.text
    assert r.json()["closed"] == [one, two]
    assert "'accepted'" in r.json()["refused"][str(busy)] and "no incident" in r.json()["refused"]["999999"]
    for i in (one, two):
        d = api.client.get(f"/api/incidents/{i}", headers=api.auth("op")).json()
        assert d["state"] == "closed"
        steps = [(t["action"], t["reason"]) for t in d["timeline"]][-2:]
        assert steps == [("false_alarm", "演练，非真实事件"), ("close", "演练，非真实事件")]
    assert api.client.get(f"/api/incidents/{busy}", headers=api.auth("op")).json()["state"] == "accepted"
    assert api.client.post("/api/incidents/false-alarms", headers=api.auth("op"),
                           json={"ids": [one], "reason": ""}).status_code == 422
    assert api.client.post("/api/incidents/false-alarms", headers=api.auth("lead1"),
                           json={"ids": [one], "reason": "x"}).status_code == 403
