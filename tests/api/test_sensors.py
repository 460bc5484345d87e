"""Sensors over HTTP (api/routes/sensors.py, api/services/sensors.py): registration, readings and alarms,
refusals counted per device, the alarm and care rules, silent devices (MQTT: test_sensors_mqtt.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.services import sensor_rules
from tests.api.conftest import Harness
from tests.api.sensor_data import history, zone_with_local_hour

KEY = "k" * 24


def setup(api: Harness, tz: str = "Asia/Shanghai") -> None:
    r = api.client.post("/api/sensors/households", headers=api.auth("op"), json={
        "id": "b3-1201", "name": "王奶奶", "place": "p3", "care": True, "contact_name": "王小明",
        "contact_phone": "13800000000", "timezone": tz})
    assert r.status_code == 201, r.text
    for did, kind in (("wm1", "water_meter"), ("smoke1", "smoke")):
        r = api.client.post("/api/sensors/devices", headers=api.auth("op"), json={
            "id": did, "kind": kind, "place": "p3", "household": "b3-1201", "key": KEY})
        assert r.status_code == 201, r.text
        assert r.json()["key"] == KEY


def post(api: Harness, device: str, kind: str, body: Any, key: str | None = KEY) -> Any:
    headers = {"X-Device-Key": key} if key else {}
    return api.client.post(f"/api/sensors/{device}/{kind}", headers=headers,
                           content=body if isinstance(body, bytes | str) else None,
                           json=None if isinstance(body, bytes | str) else body)


def devices(api: Harness) -> dict[str, Any]:
    """GET /api/sensors/devices, by device id."""
    return {d["id"]: d for d in api.client.get("/api/sensors/devices", headers=api.auth("op")).json()}


def seen_at(dev: dict[str, Any]) -> datetime:
    seen = datetime.fromisoformat(dev["last_seen_at"].replace("Z", "+00:00"))
    return seen if seen.tzinfo else seen.replace(tzinfo=UTC)


def test_readings_stored_once_and_device_health(api: Harness) -> None:
    setup(api)
    now = datetime.now(UTC).replace(microsecond=0)
    body = {"time": now.isoformat(), "value": 1.25, "unit": "m3", "battery": 81}
    r = post(api, "wm1", "reading", body)
    assert r.status_code == 202 and r.json()["stored"] is True
    first = seen_at(devices(api)["wm1"])
    resent = datetime.now(UTC)
    assert post(api, "wm1", "reading", body).json()["stored"] is False      # a resent message
    heard = datetime.now(UTC)
    devs = devices(api)
    assert devs["wm1"]["last_value"] == 1250.0 and devs["wm1"]["battery"] == 81
    # last seen is when the server last heard the device (the resent message too: it is alive), not the
    # time the device wrote in it
    assert devs["wm1"]["readings"] == 1 and first < resent <= seen_at(devs["wm1"]) <= heard
    assert api.count("readings") == 1


@pytest.mark.parametrize(("device", "body", "key", "expect"), [
    ("nobody", {"time": 0, "value": 1}, KEY, "unknown device"),
    ("wm1", {"time": "NOW", "value": 1}, "wrong-key-wrong-key", "wrong or missing key"),
    ("wm1", {"time": "NOW", "value": 1}, None, "wrong or missing key"),
    ("wm1", b"{not json", KEY, "not JSON"),
    ("wm1", b"[1, 2]", KEY, "a JSON object is needed"),
    ("wm1", {"value": 1}, KEY, "time: Field required"),
    ("wm1", {"time": "NOW", "value": 1, "extra": 2}, KEY, "extra: Extra inputs"),
    ("wm1", {"time": "NOW", "value": -5}, KEY, "outside 0..1e+09"),
    ("wm1", {"time": "NOW", "value": 5, "unit": "gallon"}, KEY, "unit 'gallon'"),
    ("wm1", {"time": "NOW", "value": 5, "battery": 140}, KEY, "battery 140"),
    ("wm1", {"time": "FUTURE", "value": 5}, KEY, "in the future"),
    ("wm1", {"time": "2026-12-01T08:00:00", "value": 5}, KEY, "no zone"),
    ("wm1", {"time": "NOW"}, KEY, "needs a value"),
])
def test_bad_messages_refused_logged_and_counted(api: Harness, caplog: pytest.LogCaptureFixture, device: str,
                                                 body: Any, key: str | None, expect: str) -> None:
    setup(api)
    now = datetime.now(UTC)
    if isinstance(body, dict):
        stamp = {"NOW": now.isoformat(), "FUTURE": (now + timedelta(hours=1)).isoformat()}
        body = {k: stamp.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    with caplog.at_level("WARNING", logger="api.services.sensors"):
        r = post(api, device, "reading", body, key)
    assert r.status_code == 422 and expect in r.json()["detail"], r.text
    assert any("refused" in rec.message and device in rec.message for rec in caplog.records)
    counts = {x["device"]: x["count"] for x in api.client.get("/api/sensors/refusals",
                                                              headers=api.auth("op")).json()}
    assert counts == {device: 1}
    assert api.count("readings") == 0


def test_meter_index_running_backwards_is_refused(api: Harness) -> None:
    setup(api)
    now = datetime.now(UTC)
    assert post(api, "wm1", "reading", {"time": (now - timedelta(hours=1)).isoformat(), "value": 100}
                ).status_code == 202
    r = post(api, "wm1", "reading", {"time": now.isoformat(), "value": 90})
    assert r.status_code == 422 and "below the earlier" in r.json()["detail"]
    devs = devices(api)
    assert devs["wm1"]["refused"] == 1


def test_smoke_alarm_opens_a_top_severity_incident_once(api: Harness) -> None:
    setup(api)
    now = datetime.now(UTC)
    r = post(api, "smoke1", "alarm", {"time": now.timestamp(), "value": 12.5, "battery": 90})
    assert r.status_code == 202 and len(r.json()["incidents"]) == 1
    inc = api.client.get(f"/api/incidents/{r.json()['incidents'][0]}", headers=api.auth("op")).json()
    assert inc["severity"] == 5 and inc["category"] == "fire_alarm" and inc["place"] == "p3"
    again = post(api, "smoke1", "alarm", {"time": now.timestamp() + 5})
    assert again.json()["incidents"] == []    # the open incident gets a timeline line instead
    tl = api.client.get(f"/api/incidents/{inc['id']}", headers=api.auth("op")).json()["timeline"]
    actions = [e["action"] for e in tl]
    assert actions[0] == "opened" and actions.count("sensor_repeat") == 1 and "dispatch" in actions  # auto


def test_care_silence_opens_an_elderly_care_incident_with_contact_and_evidence(api: Harness) -> None:
    now = datetime.now(UTC)
    tz = zone_with_local_hour(now, 20)
    setup(api, tz)
    series = history(now, tz, silent_hours=12)
    for at, v in series:
        assert post(api, "wm1", "reading", {"time": at.isoformat(), "value": v}).status_code == 202
    opened = sensor_rules.sweep(api.ctx, now)
    assert len(opened) == 1
    inc = api.client.get(f"/api/incidents/{opened[0]}", headers=api.auth("op")).json()
    assert inc["category"] == "elderly_care" and "13800000000" in inc["description"]
    ev = api.client.get(f"/api/sensors/incidents/{opened[0]}", headers=api.auth("op")).json()
    assert ev["anomaly"] == "silence" and ev["household"] == "b3-1201"
    assert ev["evidence"]["household"]["contact_name"] == "王小明"
    assert len(ev["evidence"]["series"]["hours"]) >= 48
    assert sensor_rules.sweep(api.ctx, now + timedelta(minutes=1)) == []     # one incident per silence


@pytest.mark.parametrize(("silent_hours", "opened", "read_weeks"), [(2, 0, False), (12, 1, True)])
def test_sweep_reads_weeks_of_history_only_for_a_quiet_meter(api: Harness, monkeypatch: pytest.MonkeyPatch,
                                                             silent_hours: int, opened: int, read_weeks: bool
                                                             ) -> None:
    """Every minute the sweep looks at every 关爱 meter: one that rose in the last hours cannot be silent, so
    its weeks of history are not read; a quiet one's are, and its silence opens an incident."""
    now = datetime.now(UTC)
    tz = zone_with_local_hour(now, 20)
    setup(api, tz)
    for at, v in history(now, tz, silent_hours=silent_hours):
        assert post(api, "wm1", "reading", {"time": at.isoformat(), "value": v}).status_code == 202
    spans: list[timedelta] = []
    real = sensor_rules.water_series
    monkeypatch.setattr(sensor_rules, "water_series", lambda s, d, since, until: (
        spans.append(until - since), real(s, d, since, until))[1])
    assert len(sensor_rules.sweep(api.ctx, now)) == opened
    assert spans and (max(spans) >= timedelta(weeks=4)) is read_weeks, spans


def test_silent_device_makes_one_maintenance_incident(api: Harness) -> None:
    setup(api)
    now = datetime.now(UTC)
    r = post(api, "smoke1", "reading", {"time": now.isoformat(), "value": 0, "battery": 12})
    assert r.status_code == 202
    assert sensor_rules.sweep(api.ctx, now + timedelta(hours=1)) == []
    later = now + timedelta(hours=7)
    opened = sensor_rules.sweep(api.ctx, later)
    kinds = {}
    for i in opened:
        inc = api.client.get(f"/api/incidents/{i}", headers=api.auth("op")).json()
        kinds[inc["title"].split(" @ ")[0]] = inc
    assert len(opened) == 2   # both devices (the water meter never reported)
    assert all(v["category"] == "device_maintenance" for v in kinds.values())
    assert sensor_rules.sweep(api.ctx, later + timedelta(minutes=5)) == []
