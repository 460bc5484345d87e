"""Timeline entries: what patrol functions return for the api to store on an incident."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an incident's timeline.

    kind: dispatch_proposed | dispatched | declined | ack_timeout | no_team | near_deadline |
          escalated_grid | escalated_office
    actor: who acts ("system" for automatic decisions); target: who is asked / told (team or person id).
    """

    at: datetime
    kind: str
    message: str
    actor: str = "system"
    target: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
