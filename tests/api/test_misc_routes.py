"""The remaining routes: health, docs, lists for admins, one camera, the MJPEG stream, a team's own routes."""

from __future__ import annotations

import patrol
from tests.api.conftest import Harness, jpeg_bytes


def test_health_and_docs(api: Harness) -> None:
    assert api.client.get("/api/health").json()["status"] == "ok"
    assert api.client.get("/docs").status_code == 200
    spec = api.client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op["responses"], f"{method} {path} documents no response"
            if "requestBody" in op:
                assert op["requestBody"]["content"], f"{method} {path} documents no request body"
    r = api.client.request("DELETE", "/api/incidents", headers=api.auth("op"))
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
    assert api.client.get("/api/nope", headers=api.auth("op")).json()["detail"] == "Not Found"


def test_admin_lists(api: Harness) -> None:
    users = api.client.get("/api/users", headers=api.auth("admin")).json()
    assert {u["name"] for u in users} == {"admin", "op", "lead1", "lead2"}
    assert [w["name"] for w in api.client.get("/api/workers", headers=api.auth("admin")).json()] == ["w1"]
    assert all(w["key"] is None for w in api.client.get("/api/workers", headers=api.auth("admin")).json())
    assert api.client.get("/api/workers", headers=api.auth("op")).status_code == 403


def test_camera_and_live_view(api: Harness) -> None:
    api.register("cam1")
    assert api.client.get("/api/cameras/cam1", headers=api.auth("op")).json()["name"] == "CAM1"
    assert api.client.get("/api/cameras/nope", headers=api.auth("op")).status_code == 404
    assert api.client.get("/api/cameras/cam1/live.mjpeg",
                          headers=api.auth("op")).status_code == 404   # no frame yet
    jpg = jpeg_bytes()
    api.client.put("/api/ingest/cameras/cam1/frame", headers={**api.wk, "Content-Type": "image/jpeg"},
                   content=jpg)
    with api.client.stream("GET", f"/api/cameras/cam1/live.mjpeg?token={api.tokens['op']}") as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("multipart/x-mixed-replace")
        chunk = next(r.iter_bytes())
        assert chunk.startswith(b"--frame\r\nContent-Type: image/jpeg") and jpg in chunk


def test_team_routes(api: Harness) -> None:
    t1 = api.teams["t1"]
    assert api.client.get(f"/api/teams/{t1}", headers=api.auth("lead1")).json()["key"] == "t1"
    assert api.client.get(f"/api/teams/{api.teams['t2']}", headers=api.auth("lead1")).status_code == 404
    route = api.client.get(f"/api/teams/{t1}/route", headers=api.auth("op")).json()
    assert {s["place"] for s in route["stops"]} == {"p1", "p3"} and route["path_xy"]
    code = patrol.checkin_code(api.ctx.settings.secret_key, "p1")
    r = api.client.post(f"/api/teams/{t1}/checkins", headers=api.auth("op"), json={"checkpoint": "p1",
                                                                                   "code": code})
    assert r.status_code == 201 and r.json()["person"] == "t1_lead"     # an operator checks in for the leader
    assert [c["checkpoint"] for c in api.client.get(f"/api/teams/{t1}/checkins",
                                                    headers=api.auth("lead1")).json()] == ["p1"]
    assert api.client.get("/api/site/plan.png").status_code == 404      # the test site has no plan image
