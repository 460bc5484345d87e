"""Rule actions (api/services/actions.py): an elevator hold fires once per event, is logged in the timeline,
and reaches the simulated controller exactly once per event over the real Mosquitto (slow)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from api.demo.elevator import SimulatedElevator
from tests.api.conftest import Harness, build, event
from tests.api.test_sensors_mqtt import _broker
from vision.config import Zone

SAY = "电动车禁止进入电梯，请推出电梯"


def zones() -> dict[str, Any]:
    """The zones as a worker registers them (the camera config's own model)."""
    z = Zone.model_validate({"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "rules": [
        {"kind": "presence", "labels": ["bicycle", "motorcycle"], "min_seconds": 2,
         "event": "ebike_in_elevator",
         "actions": [{"kind": "elevator_hold", "elevator": "lift1", "hold_s": 45, "say": SAY}]},
        {"kind": "presence", "labels": ["person"], "min_seconds": 60, "event": "loitering"}]})
    return {"car": z.model_dump(mode="json")}


def register(h: Harness) -> None:
    r = h.client.post("/api/ingest/cameras", headers=h.wk,
                      json=[{"id": "lift_cam", "name": "Lift 1", "place": "p2", "zones": zones()}])
    assert r.status_code == 200, r.text


def steps(eid: str, kind: str = "ebike_in_elevator") -> list[dict[str, Any]]:
    base = {"camera": "lift_cam", "zone": "car", "kind": kind, "rule": "presence", "label": "bicycle"}
    return [event(eid, 0, "new", **base), event(eid, 1, "update", **base), event(eid, 2, "end", end_s=70.0,
                                                                                  **base)]


def timeline(h: Harness, inc: int) -> list[dict[str, Any]]:
    return list(h.client.get(f"/api/incidents/{inc}", headers=h.auth("op")).json()["timeline"])


def test_action_fires_once_per_event_and_is_logged_without_a_broker(api: Harness) -> None:
    register(api)
    first = api.post_events(steps("e1")[:1]).json()["incidents"][0]
    api.post_events(steps("e1"))           # the same event again, and its later steps
    api.post_events(steps("e1")[:1])
    fired = [e for e in timeline(api, first) if e["action"] == "action_fired"]
    assert len(fired) == 1
    assert fired[0]["data"]["sent"] is False and "not sent" in fired[0]["reason"]
    assert fired[0]["data"]["say"] == SAY and fired[0]["data"]["elevator"] == "lift1"
    api.post_events(steps("e2")[:1])       # a second event: a second hold
    api.post_events(steps("p1", kind="loitering")[:1])   # a rule without actions: none
    assert api.count("fired_actions") == 2


def test_a_camera_whose_rules_gain_an_action_fires_it_at_once(api: Harness) -> None:
    # ingest looks actions up only for cameras whose zones have some (the camera cache says which), so a
    # camera registered again with an action must not be served from what was cached before
    plain = {"car": {**zones()["car"], "rules": [{**r, "actions": []} for r in zones()["car"]["rules"]]}}
    r = api.client.post("/api/ingest/cameras", headers=api.wk,
                        json=[{"id": "lift_cam", "name": "Lift 1", "place": "p2", "zones": plain}])
    assert r.status_code == 200, r.text
    api.post_events(steps("before")[:1])
    assert api.count("fired_actions") == 0
    register(api)                          # the same camera, now with the elevator hold
    api.post_events(steps("after")[:1])
    assert api.count("fired_actions") == 1


def test_config_refuses_a_bad_action() -> None:
    with pytest.raises(ValueError, match="elevator"):
        Zone.model_validate({"polygon": [[0, 0], [1, 0], [1, 1]], "rules": [
            {"kind": "presence", "labels": ["bicycle"], "min_seconds": 1, "event": "x",
             "actions": [{"kind": "elevator_hold", "elevator": "a/b"}]}]})


@pytest.mark.slow
def test_the_simulated_controller_gets_one_command_per_event(tmp_path: Path) -> None:
    host, port = _broker()
    prefix = f"test-{uuid.uuid4().hex[:10]}/sharpeyes"
    lift = SimulatedElevator(host, port, prefix).start()
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, site=True, mqtt_host=host, mqtt_port=port,
              mqtt_prefix=prefix, sensors_mqtt=True)
    try:
        with h.client:
            h.login("op")
            assert lift.subscribed.wait(10)
            register(h)
            time.sleep(1.0)   # the api's publisher and consumer connect
            inc = h.post_events(steps("e1")).json()["incidents"][0]
            h.post_events(steps("e1"))                     # resent: nothing more
            h.post_events(steps("e2")[:2])
            end = time.monotonic() + 10
            while time.monotonic() < end and (len(lift.received()) < 2 or sum(
                    e["action"] == "action_acked" for e in timeline(h, inc)) < 2):
                time.sleep(0.1)
            time.sleep(1.0)   # anything extra would arrive by now
            got = lift.received()
            assert sorted(c["event_id"] for c in got) == ["e1", "e2"]
            assert all(c["command"] == "hold" and c["hold_s"] == 45 and c["say"] == SAY for c in got)
            tl = timeline(h, inc)
            assert sum(e["action"] == "action_fired" and e["data"]["sent"] for e in tl) == 2
            assert sum(e["action"] == "action_acked" for e in tl) == 2
    finally:
        lift.stop()
        h.ctx.engine.dispose()
