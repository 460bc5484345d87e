"""MQTT publishing against the real Mosquitto: topics, retained counts, and the last-will of a killed
publisher."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import time

import paho.mqtt.client as mqtt
import pytest

from api.cluster.mqtt import MqttPublisher, MqttSettings
from vision.events import EventMessage

pytestmark = pytest.mark.slow


def _subscriber(host: str, port: int, topic: str) -> tuple[mqtt.Client, queue.Queue[tuple[str, str, bool]]]:
    got: queue.Queue[tuple[str, str, bool]] = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, m: got.put((m.topic, m.payload.decode(), bool(m.retain)))
    client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
    client.connect(host, port)
    client.loop_start()
    return client, got


def _wait_for(got: queue.Queue[tuple[str, str, bool]], topic: str, payload: str | None = None,
              timeout: float = 10) -> tuple[str, str, bool]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            item = got.get(timeout=max(0.01, end - time.monotonic()))
        except queue.Empty:
            break
        if item[0] == topic and (payload is None or item[1] == payload):
            return item
    raise AssertionError(f"no message {payload!r} on {topic} within {timeout} s")


def _event(eid: str, lifecycle: str, seq: int, label: str = "car") -> EventMessage:
    return EventMessage(id=eid, lifecycle=lifecycle, seq=seq, camera="gate/1", zone="fire_lane",  # type: ignore[arg-type]
                        event="fire_lane_blocked", label=label, first_seen_s=1, start_s=61, max_score=0.8,
                        bbox=[1, 2, 3, 4])


def test_events_incidents_and_counts(mqtt_addr: tuple[str, int], unique: str) -> None:
    host, port = mqtt_addr
    sub, got = _subscriber(host, port, f"{unique}/#")
    pub = MqttPublisher(MqttSettings(host=host, port=port, prefix=unique))
    pub.start()
    try:
        _wait_for(got, f"{unique}/available", "online")
        pub.publish_event(_event("e1", "new", 0))
        msg = json.loads(_wait_for(got, f"{unique}/events")[1])
        assert msg["type"] == "new" and msg["before"] is None and msg["after"]["id"] == "e1"
        _wait_for(got, f"{unique}/gate_1/car", "1")  # '/' in a camera name does not split the topic
        pub.publish_event(_event("e2", "new", 0))
        _wait_for(got, f"{unique}/gate_1/car", "2")
        pub.publish_event(_event("e1", "update", 1))
        upd = json.loads(_wait_for(got, f"{unique}/events")[1])
        while upd["type"] != "update":
            upd = json.loads(_wait_for(got, f"{unique}/events")[1])
        assert upd["before"]["seq"] == 0 and upd["after"]["seq"] == 1
        pub.publish_event(_event("e1", "end", 2))
        _wait_for(got, f"{unique}/gate_1/car", "1")
        pub.publish_incident("opened", {"id": 7, "state": "open"})
        inc = json.loads(_wait_for(got, f"{unique}/incidents")[1])
        assert inc == {"type": "opened", "after": {"id": 7, "state": "open"}}
    finally:
        pub.stop()
    _wait_for(got, f"{unique}/available", "offline")
    sub.loop_stop()
    sub.disconnect()
    _clear_retained(host, port, [f"{unique}/available", f"{unique}/gate_1/car"])


_CHILD = """
import sys, time
from api.cluster.mqtt import MqttPublisher, MqttSettings
pub = MqttPublisher(MqttSettings(host=sys.argv[1], port=int(sys.argv[2]), prefix=sys.argv[3]))
pub.start()
pub.connected.wait(10)
print("up", flush=True)
time.sleep(60)
"""


def test_last_will_when_the_publisher_is_killed(mqtt_addr: tuple[str, int], unique: str) -> None:
    host, port = mqtt_addr
    sub, got = _subscriber(host, port, f"{unique}/available")
    child = subprocess.Popen([sys.executable, "-c", _CHILD, host, str(port), unique], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "up"
        _wait_for(got, f"{unique}/available", "online")
        child.kill()  # no goodbye: the broker must send the will (keepalive 15 s, socket closed at once)
        child.wait()
        _wait_for(got, f"{unique}/available", "offline", timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        sub.loop_stop()
        sub.disconnect()
    # Retained: a late subscriber learns the state too.
    late, got2 = _subscriber(host, port, f"{unique}/available")
    topic, payload, retained = _wait_for(got2, f"{unique}/available")
    assert (payload, retained) == ("offline", True)
    late.loop_stop()
    late.disconnect()
    _clear_retained(host, port, [f"{unique}/available"])


def _clear_retained(host: str, port: int, topics: list[str]) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.connect(host, port)
    c.loop_start()
    for t in topics:
        c.publish(t, b"", qos=1, retain=True).wait_for_publish(5)
    c.loop_stop()
    c.disconnect()


