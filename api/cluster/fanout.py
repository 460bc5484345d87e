"""Websocket fan-out across api replicas through Redis pub/sub.

Every replica publishes each hub message on `sharpeyes:bus:<topic>` and delivers it to its own handlers
at once (no round trip through Redis for its own clients). Each replica subscribes to the same channels and
hands the other replicas' messages to its handlers.

Pub/sub is at-most-once: a message published while Redis is away, or while a replica's subscription is
reconnecting, is lost for the other replicas. What is lost is never a stored fact (the database has it);
only a live view is stale. So a gap triggers a resync: the replica that noticed it calls its `on_gap`
callbacks (the hub closes its websocket clients; they reconnect at once and get the current state replayed,
ARCHITECTURE.md "Websocket"), and a replica whose publish failed announces `resync` once Redis is back, so
the replicas that never saw the outage resync too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]
GapCallback = Callable[[], Awaitable[None] | None]
CHANNEL_PREFIX = "sharpeyes:bus:"


class RedisFanout:
    """Broadcast topics across replicas; one pub/sub connection per replica."""

    def __init__(self, url: str, replica: str | None = None, channel_prefix: str = CHANNEL_PREFIX) -> None:
        import redis.asyncio as aioredis

        self.url = url
        self.replica = replica or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.prefix = channel_prefix
        self.control = channel_prefix + "_control"
        self.redis = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=None,
                                             health_check_interval=5)
        self._pub = aioredis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._gap_callbacks: list[GapCallback] = []
        self._task: asyncio.Task[None] | None = None
        self._publish_failed = False
        self.subscribed = asyncio.Event()

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(handler)

    def on_gap(self, callback: GapCallback) -> None:
        """`callback()` runs when this replica may have missed messages from the others."""
        self._gap_callbacks.append(callback)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="redis-fanout")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for conn in (self.redis, self._pub):
            try:
                await conn.aclose()
            except Exception:  # noqa: BLE001 - closing a dead connection
                pass

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await self._deliver(topic, message)
        data = json.dumps({"o": self.replica, "m": message}, separators=(",", ":"), default=str)
        try:
            await self._pub.publish(self.prefix + topic, data)
            if self._publish_failed:
                await self._pub.publish(self.control, json.dumps({"o": self.replica, "resync": True}))
                self._publish_failed = False
        except Exception as exc:  # noqa: BLE001 - Redis away: local clients still got it, others resync later
            if not self._publish_failed:
                log.warning("fan-out publish failed (%s); the other replicas will resync when Redis is back",
                            exc)
            self._publish_failed = True

    async def _deliver(self, topic: str, message: dict[str, Any]) -> None:
        for handler in self._handlers.get(topic, ()):
            try:
                await handler(message)
            except Exception:  # noqa: BLE001 - one broken subscriber must not stop the others
                log.exception("fan-out handler for %s failed", topic)

    async def _gap(self, why: str) -> None:
        log.warning("fan-out gap (%s): resyncing websocket clients", why)
        for cb in self._gap_callbacks:
            try:
                res = cb()
                if asyncio.iscoroutine(res):
                    await res
            except Exception:  # noqa: BLE001
                log.exception("fan-out gap callback failed")

    async def _listen(self) -> None:
        delay = 0.2
        first = True
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.control, *[self.prefix + t for t in self._handlers])
                # Anything published while we were away is lost: resync (not on the very first start,
                # when no client has connected yet).
                if not first:
                    await self._gap("subscription re-established")
                first = False
                self.subscribed.set()
                delay = 0.2
                async for raw in pubsub.listen():
                    if raw.get("type") != "message":
                        continue
                    await self._on_message(raw["channel"], raw["data"])
            except asyncio.CancelledError:
                await _quiet_close(pubsub)
                raise
            except Exception as exc:  # noqa: BLE001 - Redis went away: retry with capped backoff
                if self.subscribed.is_set():
                    log.warning("fan-out subscription lost: %s", exc)
                self.subscribed.clear()
                await _quiet_close(pubsub)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _on_message(self, channel: bytes | str, data: bytes | str) -> None:
        channel = channel.decode() if isinstance(channel, bytes) else channel
        try:
            env = json.loads(data)
        except ValueError:
            log.warning("fan-out: ignoring a message that is not JSON on %s", channel)
            return
        if env.get("o") == self.replica:
            return  # delivered locally already
        if channel == self.control:
            if env.get("resync"):
                await self._gap(f"replica {env.get('o')} could not publish for a while")
            return
        await self._deliver(channel[len(self.prefix):], env.get("m", {}))


async def _quiet_close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception:  # noqa: BLE001
        pass
