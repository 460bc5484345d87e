"""Bad input is refused at the edge with a clear 422 (never a 500), on SQLite and PostgreSQL, and nothing of
it is stored; values stored before the checks cannot break the service."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.api.conftest import Harness, event

SMALL = 64 * 1024
BIG = 2**63
NAN, INF = float("nan"), float("inf")


def _post_raw(api: Harness, path: str, body: Any, headers: dict[str, str]) -> Any:
    return api.client.post(path, content=json.dumps(body, allow_nan=True),
                           headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("field, value", [
    ("seq", BIG), ("seq", 2**31), ("track_id", BIG), ("count", BIG), ("count", 2**31),
    ("wall_time", NAN), ("wall_time", INF), ("wall_time", 0), ("wall_time", 1e20),
    ("start_s", NAN), ("start_s", 1e20), ("first_seen_s", -INF), ("end_s", INF),
    ("bbox", [NAN, 1, 2, 3]), ("bbox", [1e20, 1, 2, 3]), ("max_score", NAN),
    ("id", "x" * 101), ("id", "x" * 1_000_000), ("label", "l" * 51), ("zone", "z" * 101),
    ("event", "e" * 101), ("rule", "r" * 51), ("camera", "c" * 101),
    ("zone", "a\x00b"), ("label", "car\x00"), ("id", "\x00"), ("snapshot", "s" * 1001),
])
def test_bad_event_step_is_422_and_stores_nothing(api: Harness, field: str, value: Any) -> None:
    api.register("cam1")
    r = _post_raw(api, "/api/ingest/events", [event("ok1"), event("bad", **{field: value})], api.wk)
    assert r.status_code == 422, r.text[:300]
    assert len(r.content) < SMALL and field in r.json()["message"]
    assert api.count("event_steps") == 0 and api.count("events") == 0


def test_event_steps_at_the_bounds_are_stored(api: Harness) -> None:
    api.register("cam1")
    r = api.post_events([event("b1", seq=0, track_id=2**31 - 1, count=2**31 - 1, wall_time=time.time() - 5,
                               label="l" * 50, zone="z" * 100),
                         event("b1", seq=2**31 - 1, lifecycle="end", label="l" * 50, zone="z" * 100,
                               end_s=99.0)])
    assert r.status_code == 200 and r.json()["stored"] == 2


@pytest.mark.parametrize("path, body, who", [
    ("/api/incidents/1/actions", {"action": "dispatch", "team_id": BIG}, "op"),
    ("/api/incidents/1/actions", {"action": "dispatch", "team_id": 2**31}, "op"),
    ("/api/incidents/1/notes", {"note": "a\x00b"}, "op"),
    ("/api/incidents", {"title": "t\x00"}, "op"),
    ("/api/incidents", {"title": "t", "severity": NAN}, "op"),
    ("/api/users", {"name": "n", "password": "12345678", "role": "leader", "team_id": BIG}, "admin"),
    ("/api/teams", {"key": "tz", "name": "T", "leader": "a", "members": ["a"], "timezone": "Mars/Phobos"},
     "admin"),
    ("/api/teams", {"key": "tz", "name": "T", "leader": "a", "members": ["a"], "skills": [NAN]}, "admin"),
    ("/api/teams", {"key": "tz", "name": "T", "leader": "a\x00", "members": ["a\x00"]}, "admin"),
])
def test_bad_body_is_422(api: Harness, path: str, body: dict[str, Any], who: str) -> None:
    api.client.post("/api/incidents", headers=api.auth("op"), json={"title": "first"})
    before = api.count("incidents"), api.count("timeline"), api.count("teams")
    r = _post_raw(api, path, body, api.auth(who))
    assert r.status_code == 422, r.text[:300]
    assert len(r.content) < SMALL
    assert (api.count("incidents"), api.count("timeline"), api.count("teams")) == before


@pytest.mark.parametrize("position", [[NAN, 1.0], [INF, 1.0], [1e20, 0.0]])
def test_bad_team_position_is_422(api: Harness, position: list[float]) -> None:
    r = api.client.patch(f"/api/teams/{api.teams['t1']}/status",
                         headers={**api.auth("op"), "Content-Type": "application/json"},
                         content=json.dumps({"position": position}, allow_nan=True))
    assert r.status_code == 422
    assert api.client.get("/api/teams", headers=api.auth("op")).status_code == 200


def test_stored_bad_timezone_breaks_neither_teams_nor_ingest(api: Harness) -> None:
    with api.ctx.engine.begin() as conn:   # stored before timezones were checked
        conn.execute(text("UPDATE teams SET timezone = 'Mars/Phobos'"))
    api.ctx.patrol.teams_changed()
    r = api.client.get("/api/teams", headers=api.auth("op"))
    assert r.status_code == 200 and len(r.json()) == 2
    assert api.client.get(f"/api/teams/{api.teams['t1']}", headers=api.auth("op")).status_code == 200
    api.register("cam1")
    r = api.post_events(event("fire1", wall_time=time.time() - 5))
    assert r.status_code == 200 and r.json()["stored"] == 1
    r = api.client.post("/api/incidents", headers=api.auth("op"), json={"title": "by hand"})
    assert r.status_code == 201
    inc = r.json()["id"]
    r = api.client.post(f"/api/incidents/{inc}/actions", headers=api.auth("op"),
                        json={"action": "dispatch", "team_id": api.teams["t1"]})
    assert r.status_code == 200


def test_wall_time_from_the_future_is_held_to_the_server_clock(api: Harness) -> None:
    api.register("cam1")
    r = api.post_events(event("future", wall_time=4070908800.0))   # 2099
    assert r.status_code == 200
    inc = api.client.get(f"/api/incidents/{r.json()['incidents'][0]}", headers=api.auth("op")).json()
    deadline = datetime.fromisoformat(inc["deadline_at"].replace("Z", "+00:00"))
    assert deadline < datetime.now(UTC) + timedelta(days=30)
    # a later step at the present time does not merge into an incident 'in 2099': it is the same present
    later = api.post_events(event("now", wall_time=time.time())).json()
    assert later["incidents"] == r.json()["incidents"]


def test_old_wall_time_does_not_merge_into_a_current_incident(api: Harness) -> None:
    api.register("cam1")
    now = api.post_events(event("current", wall_time=time.time())).json()
    old = api.post_events(event("old", wall_time=time.time() - 30 * 86400)).json()
    assert old["incidents"] != now["incidents"]


def test_manual_incident_is_201_even_when_dispatch_fails_after_storing(
        api: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ids: list[int]) -> None:
        raise RuntimeError("dispatch exploded")

    monkeypatch.setattr(api.ctx.patrol, "on_new_incidents", broken)
    r = api.client.post("/api/incidents", headers=api.auth("op"), json={"title": "stored once"})
    assert r.status_code == 201 and r.json()["title"] == "stored once"
    assert api.count("incidents") == 1
