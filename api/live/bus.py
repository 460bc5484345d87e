"""The event bus: how api parts (and, scaled out, api replicas) hand messages to each other.

Topics in use: `hub` (a websocket broadcast: {"topic", "payload", "team_id"}), which every replica's hub
delivers to its own clients. The in-process bus calls the handlers directly; `api.cluster.bus_redis.RedisBus`
(pub/sub) stands in for it behind the same four methods when scaled out.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[[dict[str, Any]], Awaitable[None]]
log = logging.getLogger(__name__)


class EventBus(ABC):
    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Deliver `message` (JSON-serialisable) to every subscriber of `topic`."""

    @abstractmethod
    def subscribe(self, topic: str, handler: Handler) -> None:
        """Call `handler(message)` for each message published on `topic` (before start())."""


class InProcessBus(EventBus):
    """Embedded default: one process, handlers awaited in subscription order."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._handlers.clear()

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        for handler in self._handlers.get(topic, ()):
            try:
                await handler(message)
            except Exception:  # one broken subscriber must not stop the others
                log.exception("bus handler for %s failed", topic)

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(handler)
