"""Statistics from plain incident records: response and resolution times per category / team / grid,
share resolved within the deadline (办结率 in time), false alarm rate per camera and rule, per-team load."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class IncidentRecord:
    id: str
    category: str
    opened_at: datetime
    team: str | None = None
    grid: str | None = None
    camera: str | None = None
    rule: str | None = None
    dispatched_at: datetime | None = None
    on_site_at: datetime | None = None
    resolved_at: datetime | None = None
    deadline: datetime | None = None
    false_alarm: bool = False


@dataclass(frozen=True)
class GroupStats:
    count: int
    resolved: int
    response_median_s: float | None     # dispatched -> on site
    response_p90_s: float | None
    resolution_median_s: float | None   # opened -> resolved
    resolution_p90_s: float | None
    within_deadline_share: float | None  # of resolved ones with a deadline


def _q(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _stats(recs: list[IncidentRecord]) -> GroupStats:
    resp = [
        (r.on_site_at - r.dispatched_at).total_seconds() for r in recs if r.on_site_at and r.dispatched_at
    ]
    res = [(r.resolved_at - r.opened_at).total_seconds() for r in recs if r.resolved_at]
    timed = [r for r in recs if r.resolved_at and r.deadline]
    within = sum(1 for r in timed if r.resolved_at and r.deadline and r.resolved_at <= r.deadline)
    return GroupStats(len(recs), len(res), _q(resp, 50), _q(resp, 90), _q(res, 50), _q(res, 90),
                      round(within / len(timed), 3) if timed else None)


def group_stats(records: Iterable[IncidentRecord], by: Literal["category", "team", "grid"] = "category"
                ) -> dict[str, GroupStats]:
    """Per group; false alarms are left out (they are counted by false_alarm_rates)."""
    groups: dict[str, list[IncidentRecord]] = {}
    for r in records:
        if r.false_alarm:
            continue
        key = getattr(r, by) or "-"
        groups.setdefault(key, []).append(r)
    return {k: _stats(v) for k, v in sorted(groups.items())}


@dataclass(frozen=True)
class FalseAlarmRate:
    incidents: int
    false_alarms: int
    rate: float


def false_alarm_rates(records: Iterable[IncidentRecord]) -> dict[tuple[str, str], FalseAlarmRate]:
    """Per (camera, rule), over incidents that came from a camera."""
    counts: dict[tuple[str, str], list[int]] = {}
    for r in records:
        if not r.camera:
            continue
        c = counts.setdefault((r.camera, r.rule or "-"), [0, 0])
        c[0] += 1
        c[1] += int(r.false_alarm)
    return {k: FalseAlarmRate(n, f, round(f / n, 3)) for k, (n, f) in sorted(counts.items())}


@dataclass(frozen=True)
class TeamLoad:
    tasks: int
    resolved: int
    busy_minutes: float      # dispatched -> resolved (or now-unknown: dispatched -> on site)


def team_load(records: Iterable[IncidentRecord]) -> dict[str, TeamLoad]:
    acc: dict[str, list[float]] = {}
    for r in records:
        if not r.team:
            continue
        a = acc.setdefault(r.team, [0, 0, 0.0])
        a[0] += 1
        start = r.dispatched_at or r.opened_at
        end = r.resolved_at or r.on_site_at
        if r.resolved_at:
            a[1] += 1
        if end:
            a[2] += max(0.0, (end - start).total_seconds() / 60)
    return {t: TeamLoad(int(a[0]), int(a[1]), round(a[2], 1)) for t, a in sorted(acc.items())}


def day_summary(records: Iterable[IncidentRecord], now: datetime,
                at_risk_s: float = 600) -> dict[str, float | int | None]:
    """The control room's numbers for today (records opened on now's date)."""
    today = [r for r in records if r.opened_at.date() == now.date()]
    open_ = [r for r in today if not r.resolved_at and not r.false_alarm]
    at_risk = [r for r in open_ if r.deadline and (r.deadline - now).total_seconds() <= at_risk_s]
    s = _stats([r for r in today if not r.false_alarm])
    return {
        "incidents": len(today),
        "open": len(open_),
        "at_risk": len(at_risk),
        "response_median_s": s.response_median_s,
        "resolved": s.resolved,
        "resolved_in_time_share": s.within_deadline_share,
        "false_alarm_rate": round(sum(r.false_alarm for r in today) / len(today), 3) if today else None,
    }


def shift_workload(records: Iterable[IncidentRecord], team_id: str, shift_start: datetime, now: datetime
                   ) -> tuple[int, float]:
    """(tasks, busy minutes) of a team since its shift started: what TeamState.tasks_this_shift and
    busy_minutes_this_shift want. A task still open counts as busy until `now`."""
    tasks, busy = 0, 0.0
    for r in records:
        if (
            r.team != team_id
            or r.dispatched_at is None
            or r.dispatched_at < shift_start
            or r.dispatched_at > now
        ):
            continue
        tasks += 1
        end = r.resolved_at if r.resolved_at and r.resolved_at <= now else now
        busy += max(0.0, (end - r.dispatched_at).total_seconds() / 60)
    return tasks, round(busy, 1)
