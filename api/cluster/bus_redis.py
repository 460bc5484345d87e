"""`RedisBus`: the `api.live.bus.EventBus` of scale-out. Broadcast topics (the hub's websocket messages)
go to every replica through `api.cluster.fanout.RedisFanout` (pub/sub).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from api.cluster.fanout import RedisFanout
from api.live.bus import EventBus, Handler


class RedisBus(EventBus):
    """EventBus over Redis: every topic is a broadcast to all replicas (pub/sub)."""

    def __init__(self, url: str, replica: str | None = None) -> None:
        self.url = url
        self.fanout = RedisFanout(url, replica)

    async def start(self) -> None:
        await self.fanout.start()

    async def close(self) -> None:
        await self.fanout.close()

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await self.fanout.publish(topic, message)

    def subscribe(self, topic: str, handler: Handler) -> None:
        self.fanout.subscribe(topic, handler)

    def on_gap(self, callback: Callable[[], Awaitable[None] | None]) -> None:
        """Called when this replica may have missed broadcasts (the hub resyncs its clients)."""
        self.fanout.on_gap(callback)
