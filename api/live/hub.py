"""Websocket hub: one `/ws` endpoint, envelope {"topic", "payload"}, per-role topic rights, replay on connect.

Topics: `incidents`, `teams`, `tasks`, `cameras/<id>/state`, and `ready` (sent once after the replay).
Operators and admins receive everything. A leader receives only `tasks` and `teams` of his own team.
A client that cannot keep up (its queue is full) is closed; on reconnect the replay brings it up to date.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket

from api.live.bus import EventBus

log = logging.getLogger(__name__)
QUEUE_SIZE = 2000


@dataclass(eq=False)
class Client:
    ws: WebSocket
    role: str
    team_id: int | None
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    def may_see(self, topic: str, team_id: int | None) -> bool:
        if self.role in ("admin", "operator"):
            return True
        if topic in ("tasks", "teams"):
            return team_id is not None and team_id == self.team_id
        return False


PAGE_TOPICS = ("incidents", "tasks", "teams")


class Hub:
    """The websocket publisher: messages go through the bus to every replica's hub, then to its clients."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.clients: set[Client] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        bus.subscribe("hub", self._deliver)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    async def publish(self, topic: str, payload: dict[str, Any], team_id: int | None = None) -> None:
        await self.bus.publish("hub", {"topic": topic, "payload": payload, "team_id": team_id})

    def wants(self, topic: str) -> bool:
        return topic in PAGE_TOPICS or topic.startswith("cameras/")

    def emit(self, topic: str, payload: dict[str, Any], team_id: int | None = None) -> None:
        """Thread-safe publish, for code running in the threadpool (sync routes)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        coro = self.publish(topic, payload, team_id)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.create_task(coro)
        else:
            asyncio.run_coroutine_threadsafe(coro, loop)

    async def _deliver(self, message: dict[str, Any]) -> None:
        topic = message["topic"]
        team_id = message.get("team_id")
        text = json.dumps({"topic": topic, "payload": message["payload"]}, default=str)
        for client in list(self.clients):
            if client.may_see(topic, team_id):
                self._offer(client, text)

    def _offer(self, client: Client, text: str | None) -> None:
        try:
            client.queue.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("websocket client too slow: closing it (it will reconnect and replay)")
            self.clients.discard(client)
            while not client.queue.empty():
                client.queue.get_nowait()
            client.queue.put_nowait(None)

    def add(self, client: Client) -> None:
        self.clients.add(client)

    def remove(self, client: Client) -> None:
        self.clients.discard(client)

    async def writer(self, client: Client, replay: list[tuple[str, dict[str, Any]]]) -> None:
        """Send the replay, then live messages, until the client goes away."""
        for topic, payload in replay:
            await client.ws.send_text(json.dumps({"topic": topic, "payload": payload}, default=str))
        await client.ws.send_text(json.dumps({"topic": "ready", "payload": {"replayed": len(replay)}}))
        while True:
            text = await client.queue.get()
            if text is None:
                await client.ws.close(code=1013)
                return
            await client.ws.send_text(text)
