"""A simulated elevator controller (梯控) for the demo and the tests: subscribes to
`<prefix>/elevator/<id>/hold`, "holds" the car (it only remembers the command and prints the prompt) and
acknowledges on `<prefix>/elevator/<id>/ack` (docs/sensors.md)."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class SimulatedElevator:
    def __init__(self, host: str, port: int, prefix: str = "sharpeyes", elevator: str = "+") -> None:
        import paho.mqtt.client as mqtt

        self.host, self.port = host, port
        self.prefix = prefix.rstrip("/")
        self.elevator = elevator
        self.commands: list[dict[str, Any]] = []
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_message = self._on_message

    def _on_connect(self, client: Any, *_a: Any) -> None:
        client.subscribe(f"{self.prefix}/elevator/{self.elevator}/hold", qos=1)

    def _on_message(self, client: Any, _userdata: Any, msg: Any) -> None:
        try:
            cmd = json.loads(msg.payload)
            elevator = str(msg.topic).split("/")[-2]
            action_id = cmd["action_id"]
        except (ValueError, KeyError, TypeError, IndexError):
            log.warning("simulated elevator: malformed command on %s", msg.topic)
            return
        with self._lock:
            self.commands.append(cmd)
        log.info("elevator %s: holding %ss, saying %r", elevator, cmd.get("hold_s"), cmd.get("say"))
        client.publish(f"{self.prefix}/elevator/{elevator}/ack",
                       json.dumps({"action_id": action_id, "status": "holding"}), qos=1)

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.commands)

    def start(self) -> SimulatedElevator:
        self.client.connect_async(self.host, self.port, keepalive=15)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
