"""Where changes go: every publisher (the websocket hub, MQTT when configured) in one list.

`Ctx.publish(topic, payload, team_id)` offers each message to every publisher that wants its topic (as
Frigate's dispatcher sends to its communicators); nothing is patched onto another object at run time.
Topics: `incidents`, `tasks` (to one team), `teams`, `cameras/<id>/state` (the pages) and `events` (an
event's lifecycle step, for integrations).
"""

from __future__ import annotations

from typing import Protocol


class Publisher(Protocol):
    def wants(self, topic: str) -> bool:
        """Whether this publisher sends messages of `topic` anywhere."""
        ...

    def emit(self, topic: str, payload: dict[str, object], team_id: int | None = None) -> None:
        """Send one message; thread-safe, never blocks on the network."""
        ...
