"""Inputs schemathesis found on the camera-config, sensor, public-report and report routes: each is refused
with a clear 4xx saying what was wrong (never a 500), and valid input is not refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import Harness

SMALL = 64 * 1024


@pytest.mark.parametrize("source", ["~nosuchuser" + "a" * 900, "/" + "a" * 999, "b" * 1000])
def test_probe_of_an_unreadable_path_is_a_422_at_the_source_field(api: Harness, source: str) -> None:
    r = api.client.post("/api/camera-configs/probe", json={"source": source}, headers=api.auth("admin"))
    assert r.status_code == 422, r.text[:300]
    body = r.json()
    assert body["errors"][0]["field"] == "source" and "path" in body["errors"][0]["message"]
    assert len(r.content) < SMALL


@pytest.mark.parametrize("path, body, word", [
    ("/api/camera-configs/probe", {"source": "a\x00b"}, "NUL"),
    ("/api/camera-configs", {"name": "gate", "config": {"source": "x", "n": 2**64}}, "out of range"),
    ("/api/camera-configs", {"name": "gate", "config": {"fps": float("nan")}}, "finite"),
    ("/api/sensors/households", {"id": "h1", "name": "a\x00"}, "NUL"),
    ("/api/sensors/households", {"id": "h1", "timezone": "Mars/Olympus"}, "timezone"),
    ("/api/sensors/devices", {"id": "d1", "kind": "smoke", "silence_s": 2**40}, "less than or equal"),
])
def test_camera_and_sensor_bodies_get_the_shared_request_checks(api: Harness, path: str, body: Any,
                                                                word: str) -> None:
    r = api.client.post(path, content=json.dumps(body, allow_nan=True),
                        headers={**api.auth("admin"), "Content-Type": "application/json"})
    assert r.status_code == 422, r.text[:300]
    assert word in r.json()["message"], r.json()["message"]


@pytest.mark.parametrize("incident_id", [0, 2**31, 2**63, 2**64])
def test_sensor_evidence_of_an_id_no_column_holds_is_422(api: Harness, incident_id: int) -> None:
    r = api.client.get(f"/api/sensors/incidents/{incident_id}", headers=api.auth("admin"))
    assert r.status_code == 422, r.text[:300]
    assert r.json()["detail"][0]["loc"] == ["path", "incident_id"]
    assert api.client.get("/api/sensors/incidents/5", headers=api.auth("admin")).status_code == 404


@pytest.mark.parametrize("path", ["/api/reports", "/api/reports.csv", "/api/reports.xlsx"])
@pytest.mark.parametrize("start", ["0", "1700000000", "2026-11-25T00:00:00", "2026-1-5", "20261125",
                                   "2026-13-01"])
def test_report_start_must_be_a_day_as_yyyy_mm_dd(api: Harness, path: str, start: str) -> None:
    r = api.client.get(path, params={"start": start}, headers=api.auth("op"))
    assert r.status_code == 422, (start, r.status_code)
    assert r.json()["detail"][0]["loc"] == ["query", "start"]
    assert api.client.get(path, params={"start": "2026-11-25"}, headers=api.auth("op")).status_code == 200


@pytest.mark.parametrize("field", ["category", "text"])
def test_public_report_with_an_empty_required_field_is_422_naming_it(api: Harness, field: str) -> None:
    form = {"category": "x", "text": "the lamp is out", "building": "b3", field: ""}
    r = api.client.post("/api/public/reports", data=form)
    assert r.status_code == 422, r.text[:300]
    assert r.json()["detail"][0]["loc"] == ["body", field]
    schema = api.client.get("/openapi.json").json()
    ref = schema["paths"]["/api/public/reports"]["post"]["requestBody"]["content"]["multipart/form-data"]
    name = ref["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][name]["properties"][field]["minLength"] >= 1


def test_public_report_with_a_point_sent_as_null_or_empty_is_taken_without_it(api: Harness) -> None:
    form = {"category": "stairwell_clutter", "text": "3号楼2单元楼道堆了很多纸箱", "place": "p2"}
    r = api.client.post("/api/public/reports", data={**form, "x": "null", "y": ""})
    assert r.status_code == 201, r.text[:300]
    r = api.client.post("/api/public/reports", data={**form, "x": "east", "y": "1"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "x"]


@pytest.mark.parametrize("field, value", [("count", False), ("capacity", True), ("t", True), ("count", "3")])
def test_occupancy_numbers_must_be_numbers(api: Harness, field: str, value: Any) -> None:
    sample = {"camera": "cam1", "zone": "lot", "t": 1.0, "count": 3, "capacity": 10, field: value}
    r = api.client.post("/api/ingest/occupancy", json=[sample], headers=api.wk)
    assert r.status_code == 422, r.text[:300]
    assert field in r.json()["message"]


def test_occupancy_takes_a_whole_number_written_as_a_float(api: Harness) -> None:
    api.register("cam1")
    sample = {"camera": "cam1", "zone": "lot", "t": 1, "count": 3.0, "capacity": 10}
    r = api.client.post("/api/ingest/occupancy", json=[sample], headers=api.wk)
    assert r.status_code == 200, r.text[:300]
    assert api.client.post("/api/ingest/occupancy", json=[{**sample, "count": 3.5}],
                           headers=api.wk).status_code == 422
