"""Request shape of an admin's changes to a team (api/routes/teams.py)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from api.schemas import In
from api.validation import TimezoneName


class TeamUpdate(In):
    """An admin's changes to a team: only the fields given change; the team as it would be is checked whole
    (the leader among the members, people among the members, the roster's days and times, the timezone).
    `people` replaces the whole mapping; members who leave take their entry in `people` with them."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    leader: str | None = Field(default=None, min_length=1, max_length=100)
    members: list[str] | None = Field(default=None, min_length=1)
    people: dict[str, dict[str, Any]] | None = None
    skills: list[str] | None = None
    home_grid: str | None = Field(default=None, max_length=100)
    base: str | None = Field(default=None, max_length=100)
    roster: list[dict[str, Any]] | None = None
    exceptions: list[dict[str, Any]] | None = None
    timezone: TimezoneName | None = None
