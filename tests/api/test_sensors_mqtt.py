"""Sensors over the real Mosquitto (127.0.0.1:1883): an alarm reaches the api and the control room's websocket
within 2 s, the care rules on a published history, a leak, a silent device, and junk that cannot stop the
consumer (api/cluster/sensors_mqtt.py)."""

from __future__ import annotations

import json
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import select

from api.db.models import Incident
from tests.api.conftest import Harness, build
from tests.api.sensor_data import history, zone_with_local_hour

pytestmark = pytest.mark.slow
KEY = "mqtt-device-key-0123456789"


def _broker() -> tuple[str, int]:
    with socket.socket() as s:
        s.settimeout(1)
        if s.connect_ex(("127.0.0.1", 1883)) != 0:
            pytest.skip("Mosquitto is not running on 127.0.0.1:1883")
    return "127.0.0.1", 1883


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Harness, str, mqtt.Client]]:
    """The api with the sensor consumer on a prefix of its own, and a device-side MQTT client."""
    host, port = _broker()
    prefix = f"test-{uuid.uuid4().hex[:10]}/sharpeyes"
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, site=True, mqtt_host=host, mqtt_port=port,
              mqtt_prefix=prefix, sensors_mqtt=True, sensor_sweep_s=0.5)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect(host, port)
    pub.loop_start()
    with h.client:
        h.login("op")
        yield h, prefix, pub
    pub.loop_stop()
    pub.disconnect()
    h.ctx.engine.dispose()


def add(h: Harness, hid: str, tz: str, devices: dict[str, str], silence_s: int = 6 * 3600) -> None:
    r = h.client.post("/api/sensors/households", headers=h.auth("op"), json={
        "id": hid, "name": f"老人 {hid}", "place": "p3", "care": True, "contact_name": "张网格",
        "contact_phone": "13900000000", "timezone": tz})
    assert r.status_code == 201, r.text
    for did, kind in devices.items():
        r = h.client.post("/api/sensors/devices", headers=h.auth("op"), json={
            "id": did, "kind": kind, "place": "p3", "household": hid, "key": KEY, "silence_s": silence_s})
        assert r.status_code == 201, r.text


def send(pub: mqtt.Client, prefix: str, device: str, kind: str, at: datetime, value: float | None = None,
         **kw: Any) -> None:
    body: dict[str, Any] = {"key": KEY, "time": at.isoformat(), **kw}
    if value is not None:
        body["value"] = value
    pub.publish(f"{prefix}/sensors/{device}/{kind}", json.dumps(body), qos=1).wait_for_publish(5)


def wait(what: Callable[[], Any], timeout: float, step: float = 0.1) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"not within {timeout} s")


def device(h: Harness, did: str) -> dict[str, Any]:
    found = h.client.get("/api/sensors/devices", headers=h.auth("op")).json()
    return next(d for d in found if d["id"] == did)


def incidents(h: Harness, category: str) -> list[Incident]:
    with h.ctx.sessions() as s:
        return list(s.scalars(select(Incident).where(Incident.category == category)).all())


def ready(h: Harness, pub: mqtt.Client, prefix: str, did: str) -> None:
    """Publish until the consumer has subscribed and stored one reading."""
    def probe() -> bool:
        send(pub, prefix, did, "reading", datetime.now(UTC), 0.0)
        return device(h, did)["readings"] > 0
    wait(probe, 15, step=0.3)


def test_smoke_alarm_reaches_api_and_control_room_within_2s(live: tuple[Harness, str, mqtt.Client]) -> None:
    h, prefix, pub = live
    add(h, "h1", "Asia/Shanghai", {"smoke1": "smoke"})
    ready(h, pub, prefix, "smoke1")
    with h.client.websocket_connect(f"/ws?token={h.tokens['op']}") as ws, ThreadPoolExecutor(1) as pool:
        while ws.receive_json()["topic"] != "ready":
            pass
        t0 = time.monotonic()
        send(pub, prefix, "smoke1", "alarm", datetime.now(UTC), 8.0, battery=77)
        while True:
            msg = pool.submit(ws.receive_json).result(timeout=max(0.01, 2.0 - (time.monotonic() - t0)))
            if msg["topic"] == "incidents" and msg["payload"]["category"] == "fire_alarm":
                break
        elapsed = time.monotonic() - t0
    assert elapsed < 2.0
    assert msg["payload"]["severity"] == 5 and msg["payload"]["source"] == "sensor"
    got = h.client.get(f"/api/incidents/{msg['payload']['id']}", headers=h.auth("op")).json()
    assert got["category"] == "fire_alarm" and got["place"] == "p3"
    print(f"smoke alarm -> websocket in {elapsed:.3f} s")


def test_care_silence_day_and_night_and_a_leak(live: tuple[Harness, str, mqtt.Client]) -> None:
    h, prefix, pub = live
    now = datetime.now(UTC)
    day_tz, night_tz = zone_with_local_hour(now, 20), zone_with_local_hour(now, 8)
    add(h, "day", day_tz, {"wm_day": "water_meter"})
    add(h, "night", night_tz, {"wm_night": "water_meter"})
    add(h, "leaky", "Asia/Shanghai", {"wm_leak": "water_meter"})
    ready(h, pub, prefix, "wm_leak")
    for did, tz in (("wm_day", day_tz), ("wm_night", night_tz)):
        for at, v in history(now, tz, silent_hours=12):
            send(pub, prefix, did, "reading", at, v)
    # a leak: 2 L every quarter hour for 5 hours, up to now
    index = 5000.0
    for i in range(21):
        send(pub, prefix, "wm_leak", "reading", now - timedelta(minutes=15 * (20 - i)), index + 2.0 * i)
    expected = {"wm_day": 673, "wm_night": 673, "wm_leak": 21}
    wait(lambda: all(device(h, d)["readings"] >= n for d, n in expected.items()), 60, 0.5)
    care = wait(lambda: [i for i in incidents(h, "elderly_care") if i.event_type == "care_water_silence"], 10)
    assert len(care) == 1 and care[0].title.startswith("关爱") and "13900000000" in care[0].description
    ev = h.client.get(f"/api/sensors/incidents/{care[0].id}", headers=h.auth("op")).json()
    assert ev["household"] == "day" and ev["evidence"]["silent_hours"] >= 11.9
    # every reading is in: the leak is found by the next sweeps (slower on a loaded machine than the silence)
    leaks = wait(lambda: [i for i in incidents(h, "elderly_care") if i.event_type == "care_water_leak"], 10)
    assert len(leaks) == 1
    leak = h.client.get(f"/api/sensors/incidents/{leaks[0].id}", headers=h.auth("op")).json()
    assert leak["household"] == "leaky" and leak["anomaly"] == "leak"
    time.sleep(1.5)   # three more sweeps: the night household's silence stays no incident
    silences = [i for i in incidents(h, "elderly_care") if i.event_type == "care_water_silence"]
    assert [i.id for i in silences] == [care[0].id]
    assert incidents(h, "device_maintenance") == []


def test_silent_device_opens_a_maintenance_incident(live: tuple[Harness, str, mqtt.Client]) -> None:
    h, prefix, pub = live
    add(h, "h2", "Asia/Shanghai", {"gas1": "gas"}, silence_s=2)
    ready(h, pub, prefix, "gas1")
    found = wait(lambda: incidents(h, "device_maintenance"), 8)
    assert len(found) == 1 and "gas1" in found[0].description and found[0].event_type == "device_silent"


JUNK: list[bytes] = [b"", b"\xff\xfe\x00", b"null", b"[]", b"42", b'"str"', b"{", b'{"time": NaN}',
                     b'{"key": 1}', b"[" * 5000 + b"]" * 5000, b'{"time": 1e400, "value": 1}',
                     b'{"time": -1e20, "value": 1}', b"x" * 70000]


def test_junk_cannot_stop_the_consumer(live: tuple[Harness, str, mqtt.Client]) -> None:
    h, prefix, pub = live
    add(h, "h3", "Asia/Shanghai", {"smoke9": "smoke"})
    ready(h, pub, prefix, "smoke9")
    rng = random.Random(int(os.environ.get("FUZZ_SEED", "14")))
    now = datetime.now(UTC)
    # (no NUL in a topic: the broker would drop the sender, not our consumer)
    devices = ["smoke9", "ghost", "", "a/b", "+", "x" * 300, "smoke9 ", "ü"]
    sent = 0
    for i in range(400):
        did = rng.choice(devices)
        kind = rng.choice(["reading", "alarm", "reading/extra", "nope"])
        if i % 3 == 0:
            body = rng.choice(JUNK)
        elif i % 3 == 1:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
        else:
            fields = {"key": rng.choice([KEY, "bad", None, 5]), "time": rng.choice(
                [now.isoformat(), (now + timedelta(days=3)).isoformat(), "yesterday", None, 1e12, -5]),
                "value": rng.choice([1, -1, 1e30, "high", None, True]), "battery": rng.choice([50, 500, -1])}
            kept = {k: v for k, v in fields.items() if v is not None or rng.random() < 0.3}
            body = json.dumps(kept).encode()
        topic = f"{prefix}/sensors/{did}/{kind}" if did and "+" not in did else f"{prefix}/sensors/_/{kind}"
        pub.publish(topic, body, qos=1)
        sent += 1
    # the consumer goes on: a valid alarm after the junk still opens its incident
    send(pub, prefix, "smoke9", "alarm", datetime.now(UTC), 20.0)
    wait(lambda: incidents(h, "fire_alarm"), 20, 0.3)
    refusals = {r["device"]: r["count"] for r in h.client.get("/api/sensors/refusals",
                                                              headers=h.auth("op")).json()}
    assert refusals.get("smoke9", 0) > 10 and refusals.get("ghost", 0) > 10
    assert device(h, "smoke9")["refused"] == refusals["smoke9"]
    print(f"{sent} junk messages; refusals: {refusals}")
