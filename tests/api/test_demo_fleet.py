"""The demo's simulated sensor fleet (api/demo/fleet.py): within its first minute each kind shows up."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from api.db.models import Incident
from api.demo.fleet import SensorFleet
from api.services import sensor_rules
from tests.api.conftest import Harness


def test_fleet_shows_an_alarm_a_care_silence_a_leak_and_parking(api: Harness) -> None:
    fleet = SensorFleet(api.ctx, days=8)
    fleet.seed()
    fleet.tick(first=True)
    sensor_rules.sweep(api.ctx)
    with api.ctx.sessions() as s:
        got = {(i.category, i.event_type) for i in s.scalars(select(Incident))}
    assert ("fire_alarm", "smoke_alarm") in got
    assert ("elderly_care", "care_water_silence") in got and ("elderly_care", "care_water_leak") in got
    assert ("device_maintenance", "device_silent") not in got
    assert len([e for e in got if e[0] == "elderly_care"]) == 2     # 王奶奶's ordinary days: nothing
    pk = api.client.get("/api/parking", headers=api.auth("op")).json()
    assert pk["capacity"] == 12 and 0 <= pk["free"] <= 12
    devices = api.client.get("/api/sensors/devices", headers=api.auth("op")).json()
    assert len(devices) == 5 and all(d["refused"] == 0 for d in devices)
    SensorFleet(api.ctx, days=8).seed()     # a restarted demo keeps what it has
    assert len(api.client.get("/api/sensors/devices", headers=api.auth("op")).json()) == 5


def test_demo_elevator_camera_carries_the_elevator_action(tmp_path: Path) -> None:
    from api.demo.run import write_camera_config
    from vision.config import load_config

    config = load_config(write_camera_config(tmp_path / "cameras.yaml", cameras=6))
    assert len(config.cameras) == 6
    rule = config.cameras["b2_elevator"].zones["car"].rules[0]
    assert rule.event == "ebike_in_elevator"
    assert [(a.kind, a.elevator) for a in rule.actions] == [("elevator_hold", "b2-lift1")]
    four = load_config(write_camera_config(tmp_path / "four.yaml"))
    assert "b2_elevator" not in four.cameras      # the default demo stays at 4 cameras
