"""Deadlines and escalation (吹哨报到): near the deadline an incident is flagged; past it the grid worker
(网格员) is called, then the community office (社区).

Working-day deadlines count the working days after the day the incident was opened (calendar in the policy)
and fall due at the end (24:00) of the N-th one. Minute and hour deadlines are plain durations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import IntEnum
from zoneinfo import ZoneInfo

from patrol.dispatch import Incident
from patrol.policy import Policy, default_policy
from patrol.site import Site
from patrol.timeline import TimelineEntry


class Level(IntEnum):
    """How far an incident has gone up the ladder; the api stores the int."""

    NONE = 0
    NEAR = 1        # flagged: little time left
    GRID = 2        # past the deadline: grid worker called
    OFFICE = 3      # still open well past it: community office called

    @classmethod
    def capped(cls, value: int) -> Level:
        """The level for a stored count, held to the ladder (0 .. OFFICE): more escalations call the same
        people."""
        return cls(min(max(int(value), int(cls.NONE)), int(cls.OFFICE)))


@dataclass(frozen=True)
class DeadlineStatus:
    deadline: datetime
    remaining_s: float       # negative when overdue
    near: bool
    overdue: bool
    level: Level             # the level the clock has reached now


def deadline_for(category: str, opened_at: datetime, policy: Policy | None = None,
                 timezone: str = "Asia/Shanghai") -> datetime:
    """When an incident of this category opened at `opened_at` is due (same tz-awareness as given)."""
    pol = policy or default_policy()
    dl = pol.category(category).deadline
    if dl.minutes is not None:
        return opened_at + timedelta(minutes=dl.minutes)
    if dl.hours is not None:
        return opened_at + timedelta(hours=dl.hours)
    assert dl.working_days is not None
    tz = ZoneInfo(timezone)
    local = opened_at.astimezone(tz) if opened_at.tzinfo else opened_at
    day = local.date()
    counted = 0
    while counted < dl.working_days:
        day += timedelta(days=1)
        if pol.calendar.is_working_day(day):
            counted += 1
    due = datetime.combine(day + timedelta(days=1), time(0, 0))
    if opened_at.tzinfo:
        return due.replace(tzinfo=tz).astimezone(opened_at.tzinfo)
    return due


def deadline_status(incident: Incident, now: datetime, policy: Policy | None = None,
                    timezone: str = "Asia/Shanghai", deadline: datetime | None = None) -> DeadlineStatus:
    """Where the incident's clock stands at `now` (pass `deadline` when the api stored an override)."""
    pol = policy or default_policy()
    due = deadline or deadline_for(incident.category, incident.opened_at, pol, timezone)
    total = max((due - incident.opened_at).total_seconds(), 1.0)
    remaining = (due - now).total_seconds()
    near = 0 < remaining <= pol.escalation.near_fraction * total
    overdue = remaining <= 0
    level = Level.NONE
    if near:
        level = Level.NEAR
    if overdue:
        level = Level.GRID
        if -remaining >= pol.escalation.office_after_fraction * total:
            level = Level.OFFICE
    return DeadlineStatus(due, remaining, near, overdue, level)


def escalation_step(
    incident: Incident,
    now: datetime,
    site: Site,
    level_done: Level | int = Level.NONE,
    policy: Policy | None = None,
    deadline: datetime | None = None,
) -> tuple[Level, list[TimelineEntry]]:
    """Call periodically for each open incident. Returns the new level and the timeline entries for the levels
    reached since `level_done` (the level the api stored last time); nothing when nothing changed."""
    pol = policy or default_policy()
    st = deadline_status(incident, now, pol, site.config.timezone, deadline)
    done = Level.capped(int(level_done))
    entries: list[TimelineEntry] = []
    grid = site.grid_of.get(incident.place)
    worker = site.grid_worker(grid)
    office = site.config.office
    due = st.deadline.strftime("%Y-%m-%d %H:%M")
    for lvl in range(int(done) + 1, int(st.level) + 1):
        if lvl == Level.NEAR:
            entries.append(TimelineEntry(now, "near_deadline",
                                         f"due {due}: {st.remaining_s / 60:.0f} min left",
                                         data={"deadline": st.deadline.isoformat()}))
        elif lvl == Level.GRID:
            if worker:
                entries.append(TimelineEntry(now, "escalated_grid",
                                             f"past deadline {due}: grid {grid} worker "
                                             f"{worker} called (吹哨)", target=worker, data={"grid": grid}))
            else:
                entries.append(TimelineEntry(now, "escalated_office",
                                             f"past deadline {due}; place is in no grid "
                                             f"cell, so {office} is called", target=office))
        elif lvl == Level.OFFICE and worker:
            entries.append(TimelineEntry(now, "escalated_office",
                                         f"still open well past {due}: {office} called "
                                         "to report with the departments (报到)", target=office))
    return max(done, st.level), entries
