"""Ingest: single and batch posts, idempotency on (id, seq), merge windows, and bad input refused cleanly."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api.conftest import Harness, event


def test_single_event_opens_incident_with_policy(api: Harness) -> None:
    api.register("cam1")
    r = api.post_events(event())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stored"] == 1 and body["duplicates"] == 0 and len(body["incidents"]) == 1
    inc = api.client.get(f"/api/incidents/{body['incidents'][0]}", headers=api.auth("op")).json()
    assert inc["category"] == "fire_lane_blocked" and inc["severity"] == 5
    assert inc["camera_id"] == "cam1" and inc["place"] == "p2"
    assert inc["events"][0]["id"] == "ev1"
    assert inc["timeline"][0]["action"] == "opened"


def test_batch_retry_is_idempotent(api: Harness) -> None:
    api.register("cam1")
    batch = [event("a", 0), event("a", 1, "update", max_score=0.95), event("a", 2, "end", end_s=90.0)]
    first = api.post_events(batch).json()
    assert first["stored"] == 3
    again = api.post_events(batch).json()
    assert again == {"stored": 0, "duplicates": 3, "incidents": []}
    assert api.count("event_steps") == 3 and api.count("events") == 1 and api.count("incidents") == 1
    ev = api.client.get(f"/api/incidents/{first['incidents'][0]}", headers=api.auth("op")).json()["events"][0]
    assert (
        ev["lifecycle"] == "end" and ev["end_s"] == 90.0 and ev["max_score"] == 0.95 and ev["last_seq"] == 2
    )


def test_merge_window_extends_one_incident(api: Harness) -> None:
    api.register("cam1")
    t0 = time.time() - 3000   # in the past: a step from the server's future is held to its clock
    a = api.post_events(event("a", wall_time=t0)).json()
    b = api.post_events(event("b", wall_time=t0 + 120)).json()      # within 900 s: same incident
    c = api.post_events(event("c", wall_time=t0 + 120 + 1000)).json()  # after the window: a new one
    other_zone = api.post_events(event("d", zone="gate", wall_time=t0 + 130)).json()
    assert a["incidents"] == b["incidents"]
    assert c["incidents"] != a["incidents"] and other_zone["incidents"] != a["incidents"]
    inc = api.client.get(f"/api/incidents/{a['incidents'][0]}", headers=api.auth("op")).json()
    assert inc["event_count"] == 2 and [t["action"] for t in inc["timeline"]].count("event_merged") == 1


def test_unknown_camera_refused_and_nothing_stored(api: Harness) -> None:
    api.register("cam1")
    r = api.post_events([event("a"), event("b", camera="nope")])
    assert r.status_code == 404
    assert "unknown camera 'nope'" in r.json()["detail"]
    assert r.json()["code"] == "unknown_camera"   # what the worker acts on
    assert api.count("event_steps") == 0 and api.count("incidents") == 0


def test_wrong_key_and_malformed_json(api: Harness) -> None:
    api.register("cam1")
    r = api.client.post("/api/ingest/events", headers={"X-API-Key": "swk_wrong"}, json=event())
    assert r.status_code == 401 and "key" in r.json()["detail"]
    r = api.client.post("/api/ingest/events", headers={**api.wk, "Content-Type": "application/json"},
                        content=b'{"id": "x", "lifecycle": ')
    assert r.status_code == 422 and "JSON" in r.json()["message"]
    r = api.post_events({**event(), "bbox": [1, 2]})
    assert r.status_code == 422 and "bbox" in r.json()["message"]
    r = api.client.post("/api/ingest/events", headers=api.auth("op"), json=event())
    assert r.status_code == 401   # a person's token is not a worker key
    assert api.count("event_steps") == 0 and api.count("incidents") == 0


def test_camera_state_and_live_frame(api: Harness) -> None:
    from tests.api.conftest import jpeg_bytes

    api.register("cam1")
    r = api.client.post("/api/ingest/cameras/state", headers=api.wk, json=[{"camera": "cam1",
                                                                            "state": "online", "fps": 4.5}])
    assert r.status_code == 200 and r.json()[0]["state"] == "online"
    r = api.client.post("/api/ingest/cameras/state", headers=api.wk, json=[{"camera": "ghost",
                                                                            "state": "online"}])
    assert r.status_code == 404
    assert api.client.get("/api/cameras/cam1/latest.jpg", headers=api.auth("op")).status_code == 404
    jpg = jpeg_bytes()
    r = api.client.put("/api/ingest/cameras/cam1/frame", headers={**api.wk, "Content-Type": "image/jpeg"},
                       content=jpg)
    assert r.status_code == 204
    r = api.client.get(f"/api/cameras/cam1/latest.jpg?token={api.tokens['op']}")
    assert r.status_code == 200 and r.content == jpg and r.headers["content-type"] == "image/jpeg"
    r = api.client.put("/api/ingest/cameras/cam1/frame", headers=api.wk, content=b"not a jpeg")
    assert r.status_code == 415
    cams = api.client.get("/api/cameras", headers=api.auth("op")).json()
    assert cams[0]["id"] == "cam1" and cams[0]["fps"] == 4.5
    assert api.client.get("/api/cameras", headers=api.auth("lead1")).status_code == 403


def test_camera_registration_race_is_retried_not_500(api: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pool workers registering the same new camera at once: the one that loses the insert race
    retries."""
    from sqlalchemy.orm import Session

    from api.db.models import Camera

    real_get = Session.get
    raced = []

    def get_after_other_worker_inserted(self: Session, entity: Any, ident: Any, **kw: Any) -> Any:
        if entity is Camera and not raced:
            raced.append(ident)
            with api.ctx.sessions() as other:          # the other worker's insert lands first ...
                other.add(Camera(id=ident, name="OTHER", place=None, zones={}, worker="other"))
                other.commit()
            return None                                # ... after this one looked and saw no row
        return real_get(self, entity, ident, **kw)

    monkeypatch.setattr(Session, "get", get_after_other_worker_inserted)
    r = api.client.post("/api/ingest/cameras", headers=api.wk,
                        json=[{"id": "camX", "name": "CAMX", "place": "p2", "zones": {}}])
    assert raced == ["camX"]
    assert r.status_code == 200, r.text
    assert r.json()[0]["name"] == "CAMX"
    assert api.count("cameras") == 1
