"""MQTT publishing for integrations (home automation, city platforms), Frigate-style topics.

Optional, by config (`SHARPEYES_MQTT_HOST`,
                     see `MqttSettings`). Topics under the prefix (default `sharpeyes`):

- `sharpeyes/available`        `online` (retained) while the api runs; the broker sends the last-will
                               `offline` (retained) when the connection drops without a goodbye
- `sharpeyes/events`           `{"type": "new|update|end", "before": {...} | null, "after": {...}}`
- `sharpeyes/incidents`        `{"type": "<incident topic event>", "after": {...}}` for every incident change
- `sharpeyes/<camera>/<label>` number of active events of that label on that camera (retained)
- `sharpeyes/elevator/<id>/hold` a rule action's command to an elevator controller (docs/sensors.md)

Publishing never blocks the api: paho queues while the broker is away (up to `max_queued`) and the network
loop runs in its own thread.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vision.events import EventMessage

log = logging.getLogger(__name__)


class MqttSettings(BaseModel):
    """Where and how to publish; disabled unless `host` is set."""

    model_config = ConfigDict(extra="forbid")

    host: str | None = Field(default=None, description="Broker host, e.g. 127.0.0.1; None disables MQTT")
    port: int = Field(default=1883, description="Broker port")
    prefix: str = Field(default="sharpeyes", description="Topic prefix")
    client_id: str = Field(default="", description="Client id; empty: chosen by the broker (one per replica)")
    username: str | None = Field(default=None, description="Broker user")
    password: str | None = Field(default=None, description="Broker password")
    qos: int = Field(default=1, ge=0, le=2, description="QoS of every message")
    max_queued: int = Field(default=10000, gt=0, description="Messages kept while the broker is away")


def _topic_part(name: str) -> str:
    # '+', '#' and '/' have meanings in MQTT topics; a camera or label never should.
    return "".join("_" if ch in "+#/" else ch for ch in name) or "_"


class MqttPublisher:
    """One broker connection with a last-will; thread-safe."""

    def __init__(self, settings: MqttSettings) -> None:
        import paho.mqtt.client as mqtt

        if not settings.host:
            raise ValueError("MqttPublisher needs settings.host")
        self.settings = settings
        self.prefix = settings.prefix.rstrip("/")
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id)
        self.client.max_queued_messages_set(settings.max_queued)
        if settings.username:
            self.client.username_pw_set(settings.username, settings.password)
        self.client.will_set(self.topic("available"), "offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._lock = threading.Lock()
        self._last: dict[str, dict[str, Any]] = {}
        self._active: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.connected = threading.Event()

    def topic(self, *parts: str) -> str:
        return "/".join([self.prefix, *parts])

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT broker refused the connection: %s", reason)
            return
        client.publish(self.topic("available"), "online", qos=1, retain=True)
        self.connected.set()
        log.info("MQTT connected to %s:%d", self.settings.host, self.settings.port)

    def start(self) -> None:
        assert self.settings.host is not None
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=15)
        self.client.loop_start()

    def stop(self) -> None:
        """Clean goodbye: `offline` by hand (the broker does not send the will on a clean disconnect)."""
        info = self.client.publish(self.topic("available"), "offline", qos=1, retain=True)
        if self.connected.is_set():
            try:
                info.wait_for_publish(timeout=2)
            except RuntimeError:
                pass
        self.client.disconnect()
        self.client.loop_stop()

    def _publish(self, topic: str, payload: Any, retain: bool = False) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"),
                                                                   default=str)
        self.client.publish(topic, data, qos=self.settings.qos, retain=retain)

    def publish_event(self, event: EventMessage | dict[str, Any]) -> None:
        """An event's lifecycle step on `events`, and the camera/label count when it changes."""
        msg = event if isinstance(event, EventMessage) else EventMessage.model_validate(event)
        after = msg.model_dump()
        with self._lock:
            before = self._last.get(msg.id)
            if msg.lifecycle == "end":
                self._last.pop(msg.id, None)
            else:
                self._last[msg.id] = after
            key = (msg.camera, msg.label)
            active = self._active[key]
            count_before = len(active)
            if msg.lifecycle == "end":
                active.discard(msg.id)
            else:
                active.add(msg.id)
            count = len(active)
        self._publish(self.topic("events"), {"type": msg.lifecycle, "before": before, "after": after})
        if count != count_before:
            self._publish(self.topic(_topic_part(msg.camera), _topic_part(msg.label)), str(count),
                          retain=True)

    def wants(self, topic: str) -> bool:
        return topic in ("incidents", "events") or topic.startswith("elevator/")

    def emit(self, topic: str, payload: dict[str, Any], team_id: int | None = None) -> None:
        """A publisher of the api's list: incident changes and event steps (what this replica changed)."""
        if topic == "events":
            self.publish_event(payload)
        elif topic == "incidents":
            self.publish_incident(str(payload.get("state", "changed")), payload)
        elif topic.startswith("elevator/"):   # a rule action's command (api/services/actions.py)
            self._publish(self.topic(*topic.split("/")), payload)

    def publish_incident(self, kind: str, incident: dict[str, Any]) -> None:
        """An incident change (opened, dispatched, resolved, ...) on `incidents`."""
        self._publish(self.topic("incidents"), {"type": kind, "after": incident})

