"""Patrol teams (巡逻队), their people, weekly rosters with exceptions, and live status.

All clock times are the site's local time. A datetime with a tzinfo is converted to the roster's timezone;
a naive one is taken as local already.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from patrol.errors import PatrolError, first_error
from patrol.yamlfile import read_yaml

Role = Literal["grid_worker", "social_worker", "volunteer", "police", "property_staff"]
Status = Literal["off_duty", "available", "on_patrol", "dispatched", "on_site"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _parse_hhmm(value: str, where: str) -> time:
    try:
        hh, mm = value.split(":")
        return time(int(hh), int(mm))
    except (ValueError, AttributeError):
        raise ValueError(f"{where}: '{value}' is not a time HH:MM") from None


class Person(_Model):
    """A patrol member."""

    name: str = Field(description="Display name")
    role: Role = Field(default="volunteer", description="grid_worker, social_worker, volunteer, ...")
    phone: str = Field(default="", description="Phone number (for the leader's page login hints)")
    skills: list[str] = Field(default_factory=list,
                              description="Personal skills, e.g. fire_safety, first_aid")


class RosterShift(_Model):
    """One weekly shift: `{days: [mon, tue], start: "08:00", end: "16:00"}`."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1,
                                                                                 description="Weekdays")
    start: str = Field(description="Start HH:MM, local time")
    end: str = Field(description="End HH:MM, local time")
    crosses_midnight: bool = Field(default=False, description="True for a night shift ending the next day")

    @model_validator(mode="after")
    def _check(self) -> RosterShift:
        s, e = _parse_hhmm(self.start, "start"), _parse_hhmm(self.end, "end")
        if e <= s and not self.crosses_midnight:
            raise ValueError(
                f"shift {self.start}-{self.end} ends before it starts; "
                "set crosses_midnight: true for a night shift")
        if e > s and self.crosses_midnight:
            raise ValueError(
                f"shift {self.start}-{self.end} is marked crosses_midnight but ends the same day"
            )
        return self

    def window(self, day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, _parse_hhmm(self.start, "start"))
        end = datetime.combine(day, _parse_hhmm(self.end, "end"))
        if self.crosses_midnight:
            end += timedelta(days=1)
        return start, end


class ShiftException(_Model):
    """A change to the roster on one date: a day off, or a replacement shift."""

    date: _dt.date = Field(description="The date (of the shift's start)")
    off: bool = Field(default=False, description="No shift that day")
    start: str | None = Field(default=None, description="Replacement start HH:MM")
    end: str | None = Field(default=None, description="Replacement end HH:MM")
    crosses_midnight: bool = Field(default=False, description="Replacement shift ends the next day")
    reason: str = Field(default="", description="Why (holiday, training, ...)")

    @model_validator(mode="after")
    def _check(self) -> ShiftException:
        if self.off and (self.start or self.end):
            raise ValueError(f"exception on {self.date}: off: true and a start/end at once")
        if not self.off and not (self.start and self.end):
            raise ValueError(f"exception on {self.date}: give off: true, or both start and end")
        if self.start and self.end:
            RosterShift(days=["mon"], start=self.start, end=self.end, crosses_midnight=self.crosses_midnight)
        return self


class Team(_Model):
    """A patrol team: a leader, members, skills, home grid and a weekly roster with exceptions."""

    name: str = Field(description="Display name, e.g. 第一巡逻队")
    leader: str = Field(default="", description="Person id of the leader (must be a member)")
    members: list[str] = Field(min_length=1, description="Person ids, leader included")
    skills: list[str] = Field(default_factory=list,
                              description="Team skills: fire_safety, elderly_care, mediation, ...")
    home_grid: str | None = Field(default=None, description="Grid cell this team is responsible for")
    base: str | None = Field(default=None, description="Place id where the team starts its shift")
    roster: list[RosterShift] = Field(default_factory=list, description="Weekly shifts")
    exceptions: list[ShiftException] = Field(default_factory=list, description="Changes on given dates")
    timezone: str = Field(default="Asia/Shanghai", description="Timezone of the roster's clock")

    @model_validator(mode="after")
    def _check(self) -> Team:
        if not self.leader:
            raise ValueError("team has no leader; set leader: to one of its members")
        if self.leader not in self.members:
            raise ValueError(f"leader '{self.leader}' is not among members {self.members}")
        return self

    def _local(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            return when
        return when.astimezone(ZoneInfo(self.timezone)).replace(tzinfo=None)

    def windows_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """Shift windows starting on this date (exceptions replace the roster for that date)."""
        for exc in self.exceptions:
            if exc.date == day:
                if exc.off:
                    return []
                assert exc.start and exc.end
                return [RosterShift(days=["mon"], start=exc.start, end=exc.end,
                                    crosses_midnight=exc.crosses_midnight).window(day)]
        wd = WEEKDAYS[day.weekday()]
        return [s.window(day) for s in self.roster if wd in s.days]

    def shift_at(self, when: datetime) -> tuple[datetime, datetime] | None:
        """The shift window (local naive datetimes) covering `when`, or None if off shift."""
        local = self._local(when)
        for day in (local.date(), local.date() - timedelta(days=1)):
            for start, end in self.windows_on(day):
                if start <= local < end:
                    return start, end
        return None

    def on_shift(self, when: datetime) -> bool:
        return self.shift_at(when) is not None


class TeamsConfig(_Model):
    """The teams file: `people:` and `teams:`."""

    people: dict[str, Person] = Field(default_factory=dict, description="People by id")
    teams: dict[str, Team] = Field(default_factory=dict, description="Teams by id")

    @model_validator(mode="after")
    def _check(self) -> TeamsConfig:
        for tid, team in self.teams.items():
            for m in team.members:
                if self.people and m not in self.people:
                    raise ValueError(f"teams.{tid}.members: '{m}' is not under people:")
        return self


@dataclass
class CurrentTask:
    """What a busy team is doing now."""

    incident_id: str
    severity: int


@dataclass
class TeamState:
    """Live state of one team, as the api knows it."""

    team_id: str
    status: Status = "available"
    position: str | None = None           # place id (last check-in, or nearest place to the phone's fix)
    task: CurrentTask | None = None        # set when dispatched / on_site
    tasks_this_shift: int = 0
    busy_minutes_this_shift: float = 0.0


T = TypeVar("T")


def team_statuses_after(action: str, before: T | None, after: T | None) -> dict[T, Status]:
    """The one rule for what a task step does to the teams: `before` held the incident before `action`,
    `after` holds it now (ids of any type). Returns the new status of each team the step changed."""
    out: dict[T, Status] = {}
    if action in ("dispatch", "override"):
        if before is not None and before != after:
            out[before] = "available"          # taken off this task
        if after is not None:
            out[after] = "dispatched"
    elif action == "accept" and after is not None:
        out[after] = "dispatched"              # on the way
    elif action == "arrive" and after is not None:
        out[after] = "on_site"
    elif action in ("resolve", "decline", "false_alarm") and before is not None:
        out[before] = "available"              # done with it, or let go of it
    # reopen, close, escalate: the team (if any) was freed before or keeps working
    return out


def _err(source: str, exc: ValidationError, prefix: str = "") -> PatrolError:
    key, msg = first_error(exc)
    loc = ".".join([prefix] * bool(prefix) + [key] * bool(key))
    return PatrolError(f"{source}: {loc}: {msg}" if loc else f"{source}: {msg}")


def team_from_dict(team_id: str, data: Any, source: str = "<teams>") -> Team:
    """One team from a mapping; errors name `teams.<id>` and the key."""
    try:
        return Team.model_validate(data)
    except ValidationError as exc:
        raise _err(source, exc, f"teams.{team_id}") from None


def teams_from_dict(data: Any, source: str = "<teams>") -> TeamsConfig:
    if not isinstance(data, dict):
        raise PatrolError(f"{source}: expected a mapping with people: and teams:")
    try:
        return TeamsConfig.model_validate(data)
    except ValidationError as exc:
        raise _err(source, exc) from None


def load_teams(path: str | Path) -> TeamsConfig:
    p = Path(path)
    data = read_yaml(p, "teams")
    return teams_from_dict(data, str(p))
