"""Media limits and access, path traversal, sign-in, roles, tokens and the default-secret refusal."""

from __future__ import annotations

import pytest

from api.errors import ApiError
from api.settings import Settings
from tests.api.conftest import PASSWORD, Harness, event, jpeg_bytes


def _dispatched(api: Harness) -> int:
    api.register("cam1")
    inc = int(api.post_events(event(kind="crowd")).json()["incidents"][0])
    r = api.client.post(f"/api/incidents/{inc}/actions", headers=api.auth("op"),
                        json={"action": "dispatch", "team_id": api.teams["t1"]})
    assert r.status_code == 200
    return inc


def test_snapshot_upload_and_access(api: Harness) -> None:
    inc = _dispatched(api)
    jpg = jpeg_bytes()
    r = api.client.post("/api/ingest/media", headers=api.wk, data={"event_id": "ev1", "kind": "snapshot"},
                        files={"file": ("../../etc/passwd", jpg, "image/jpeg")})
    assert r.status_code == 201, r.text
    media = r.json()
    again = api.client.post("/api/ingest/media", headers=api.wk, data={"event_id": "ev1", "kind": "snapshot"},
                            files={"file": ("x.jpg", jpg, "image/jpeg")})
    assert again.json()["id"] == media["id"] and api.count("media") == 1     # a resend is not a second file
    stored = list((api.tmp / "media").rglob("*.jpg"))
    assert len(stored) == 1 and "passwd" not in str(stored[0])              # the client's name is never used
    assert api.client.get(f"{media['url']}?token={api.tokens['lead1']}").content == jpg
    assert api.client.get(media["url"], headers=api.auth("lead2")).status_code == 404   # not his team's
    detail = api.client.get(f"/api/incidents/{inc}", headers=api.auth("op")).json()
    assert detail["snapshot_url"] == media["url"]


def test_bad_uploads_change_nothing(api: Harness) -> None:
    inc = _dispatched(api)
    big = b"\xff\xd8" + b"0" * (10 * 1024 * 1024 + 10)
    r = api.client.post(f"/api/incidents/{inc}/photos", headers=api.auth("lead1"),
                        files={"file": ("p.jpg", big, "image/jpeg")})
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    r = api.client.post(f"/api/incidents/{inc}/photos", headers=api.auth("lead1"),
                        files={"file": ("evil.jpg", b"#!/bin/sh\nrm -rf /\n", "image/jpeg")})
    assert r.status_code == 415 and "not an image" in r.json()["detail"]
    r = api.client.post("/api/ingest/media", headers=api.wk, data={"event_id": "nope", "kind": "snapshot"},
                        files={"file": ("x.jpg", jpeg_bytes(), "image/jpeg")})
    assert r.status_code == 404
    assert api.count("media") == 0 and not list((api.tmp / "media").rglob("*.*"))
    r = api.client.post(f"/api/incidents/{inc}/photos", headers=api.auth("lead1"),
                        files={"file": ("ok.png", jpeg_bytes(), "image/png")}, data={"note": "cleared"})
    assert r.status_code == 201 and r.json()["kind"] == "photo"
    assert api.client.get(f"/api/incidents/{inc}",
                          headers=api.auth("lead1")).json()["timeline"][-1]["reason"] == "cleared"


@pytest.mark.parametrize("path", ["/api/media/..%2F..%2Fetc%2Fpasswd", "/api/media/../../etc/passwd",
                                  "/api/cameras/..%2F..%2Fetc%2Fpasswd/latest.jpg"])
def test_path_traversal_is_a_clear_4xx(api: Harness, path: str) -> None:
    r = api.client.get(path, headers=api.auth("op"))
    assert 400 <= r.status_code < 500
    assert "root:" not in r.text


def test_login_rate_limit_and_tokens(api: Harness) -> None:
    assert api.login("op") and api.client.get("/api/auth/me",
                                              headers=api.auth("op")).json()["role"] == "operator"
    for _ in range(10):
        r = api.client.post("/api/auth/login", json={"username": "op", "password": "wrong"})
        assert r.status_code == 401
    r = api.client.post("/api/auth/login", json={"username": "op", "password": PASSWORD})
    assert r.status_code == 429 and "Retry-After" in r.headers
    bad = api.tokens["op"][:-2] + ("AA" if not api.tokens["op"].endswith("AA") else "BB")
    assert api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {bad}"}).status_code == 401
    assert api.client.get("/api/auth/me").status_code == 401
    assert api.client.get("/api/users", headers=api.auth("op")).status_code == 403
    r = api.client.post("/api/users", headers=api.auth("admin"),
                        json={"name": "op2", "password": "longenough", "role": "operator"})
    assert r.status_code == 201
    r = api.client.post("/api/users", headers=api.auth("admin"),
                        json={"name": "op2", "password": "longenough", "role": "operator"})
    assert r.status_code == 409 and "user 'op2' exists already" in r.text
    r = api.client.post("/api/workers", headers=api.auth("admin"), json={"name": "w2"})
    key = r.json()["key"]
    r2 = api.client.post("/api/workers", headers=api.auth("admin"), json={"name": "w2"})
    assert r2.status_code == 409 and "worker 'w2' exists already" in r2.text
    assert api.client.post("/api/ingest/cameras", headers={"X-API-Key": key},
                           json=[{"id": "c9"}]).status_code == 200
    wid = r.json()["id"]
    assert api.client.delete(f"/api/workers/{wid}", headers=api.auth("admin")).status_code == 200
    assert api.client.post("/api/ingest/cameras", headers={"X-API-Key": key},
                           json=[{"id": "c9"}]).status_code == 401


def test_default_secret_refused_outside_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHARPEYES_SECRET_KEY", raising=False)
    monkeypatch.delenv("SHARPEYES_DEV", raising=False)
    with pytest.raises(ApiError, match="SHARPEYES_SECRET_KEY"):
        Settings()
    assert Settings(secret_key="x" * 32).dev is False
    assert Settings(dev=True).dev is True
