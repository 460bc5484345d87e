"""Parking occupancy in the api: samples from a worker, stored per zone; GET /api/parking."""

from __future__ import annotations

import time

from tests.api.conftest import Harness


def sample(zone: str, count: int, capacity: int, wall: float | None = None) -> dict[str, object]:
    return {"camera": "lot_cam", "zone": zone, "t": 0.0, "wall_time": wall, "count": count,
            "capacity": capacity}


def test_samples_stored_and_current_figures(api: Harness) -> None:
    api.register("lot_cam")
    now = time.time()
    r = api.client.post("/api/ingest/occupancy", headers=api.wk,
                        json=[sample("near", 3, 10, now - 20), sample("back", 6, 6, now - 20)])
    assert r.status_code == 200 and r.json() == {"stored": 2}
    api.client.post("/api/ingest/occupancy", headers=api.wk, json=[sample("near", 5, 10, now - 10)])
    got = api.client.get("/api/parking", headers=api.auth("lead1")).json()
    zones = {z["zone"]: z for z in got["zones"]}
    assert zones["near"]["count"] == 5 and zones["near"]["free"] == 5 and not zones["near"]["full"]
    assert zones["back"]["full"] and zones["back"]["free"] == 0
    assert (got["capacity"], got["occupied"], got["free"]) == (16, 11, 5)
    assert api.count("occupancy") == 3


def test_bad_samples_refused(api: Harness) -> None:
    api.register("lot_cam")
    r = api.client.post("/api/ingest/occupancy", headers=api.wk,
                        json=[{**sample("near", 1, 10), "camera": "nope"}])
    assert r.status_code == 404 and r.json()["code"] == "unknown_camera"
    r = api.client.post("/api/ingest/occupancy", headers=api.wk, json=[sample("near", -1, 10)])
    assert r.status_code == 422
    later = time.time() + 3600
    r = api.client.post("/api/ingest/occupancy", headers=api.wk, json=[sample("near", 1, 10, later)])
    assert r.status_code == 422 and "future" in r.json()["detail"]
    assert api.client.post("/api/ingest/occupancy", json=[sample("near", 1, 10)]).status_code == 401
    assert api.count("occupancy") == 0
