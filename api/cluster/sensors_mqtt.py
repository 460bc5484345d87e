"""The MQTT consumer of sensor messages (docs/sensors.md): runs only when configured
(`SHARPEYES_SENSORS_MQTT=true` with `SHARPEYES_MQTT_HOST`), like every MQTT piece of the api.

Subscribes to `<prefix>/sensors/+/reading`, `<prefix>/sensors/+/alarm` and `<prefix>/elevator/+/ack`, as the
shared subscription `$share/sharpeyes-api/...`: with several api replicas, each message reaches one of them.
paho's network thread only queues what arrives; one thread of ours hands each message to its handler
(`Sensors.accept`, or the elevator acknowledgement), so a slow database never stalls the connection. No
message can stop the consumer: a refused one is logged and counted by the service, anything else that goes
wrong is logged and counted here (`errors`), and the next message is read.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from api.errors import DomainError

log = logging.getLogger(__name__)
SHARE_GROUP = "sharpeyes-api"
Handler = Callable[[str, bytes], object]   # (device or elevator id, raw payload)


class SensorConsumer:
    MAX_QUEUED = 10000

    def __init__(self, host: str, port: int, prefix: str, handlers: dict[str, Handler],
                 client_id: str = "") -> None:
        """`handlers`: topic pattern after the prefix (`+`: the id) -> handler, e.g. `sensors/+/reading`."""
        import paho.mqtt.client as mqtt

        self.host, self.port = host, port
        self.prefix = prefix.rstrip("/")
        self.handlers = handlers
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.inbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue(self.MAX_QUEUED)
        self.connected = threading.Event()
        self.handled = 0
        self.refused = 0
        self.errors = 0
        self.dropped = 0
        self._thread: threading.Thread | None = None

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT broker refused the sensor consumer: %s", reason)
            return
        for pattern in self.handlers:   # subscribe again after every reconnect
            # a shared subscription: with several api replicas each message goes to one of them
            client.subscribe(f"$share/{SHARE_GROUP}/{self.prefix}/{pattern}", qos=1)
        self.connected.set()
        log.info("sensor consumer subscribed on %s:%d", self.host, self.port)

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        try:
            self.inbox.put_nowait((str(msg.topic), bytes(msg.payload)))
        except queue.Full:
            self.dropped += 1
            log.warning("sensor consumer: inbox full, dropped a message on %s", msg.topic)

    def route(self, topic: str) -> tuple[Handler, str] | None:
        parts = topic.split("/")
        prefix = self.prefix.split("/")
        if parts[:len(prefix)] != prefix:
            return None
        rest = parts[len(prefix):]
        for pattern, handler in self.handlers.items():
            pat = pattern.split("/")
            if len(pat) == len(rest) and all(p in ("+", r) for p, r in zip(pat, rest, strict=True)):
                ident = next((r for p, r in zip(pat, rest, strict=True) if p == "+"), "")
                return handler, ident
        return None

    def handle(self, topic: str, payload: bytes) -> None:
        """One message; never raises."""
        try:
            found = self.route(topic)
            if found is None:
                self.errors += 1
                log.warning("sensor consumer: no handler for topic %r", topic[:200])
                return
            handler, ident = found
            handler(ident, payload)
            self.handled += 1
        except DomainError as exc:
            self.refused += 1
            log.debug("sensor message on %s refused: %s", topic[:200], exc)
        except Exception:   # noqa: BLE001 - nothing a device sends may stop the consumer
            self.errors += 1
            log.exception("sensor consumer: handling a message on %r failed; going on", topic[:200])

    def _run(self) -> None:
        while True:
            item = self.inbox.get()
            if item is None:
                return
            self.handle(*item)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sensor-consumer", daemon=True)
        self._thread.start()
        self.client.connect_async(self.host, self.port, keepalive=15)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.inbox.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)
