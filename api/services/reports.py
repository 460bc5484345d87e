"""The figures a street office reports (办结率, 满意率): for a period (day, week, month, quarter, year)
and per category, grid, team, source and department, with the change against the previous period and the same
period last year. Counted over the incidents opened in the period (local time of the site):

- received: incidents opened; false_alarms: those ever marked a false alarm (误报, spam included)
- resolved: those resolved (办结); handled_rate (处理率) = resolved / (received - false alarms)
- on_time: resolved by their deadline; on_time_rate (按时办结率) = on_time / resolved
- response_median_min: median minutes from opening to the first dispatch; resolution_median_min: to the
  (latest) resolution
- rated, satisfied (满意 + 基本满意, the latest rating of each): satisfaction_rate = satisfied / rated
- reopened: resolved ones reopened (by an operator or a resident's 不满意); reopen_rate = reopened / resolved
Departments: calls (吹哨) made in the period, answered, answered by the due time, and on_time_rate.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.civic import Body, Call, Rating
from api.db.models import Incident, Team, TimelineEntry
from api.errors import Invalid

Period = Literal["day", "week", "month", "quarter", "year"]
PERIODS = ("day", "week", "month", "quarter", "year")
GROUPS = ("category", "grid", "team", "source")
SATISFIED = ("satisfied", "basic")


def window(period: str, start: date) -> tuple[date, date]:
    """[first day, day after the last) of the period holding `start` (weeks start on Monday)."""
    if not 1971 <= start.year <= 2998:
        raise Invalid(f"start {start.isoformat()}: give a day between 1971 and 2998")
    if period == "day":
        return start, start + timedelta(days=1)
    if period == "week":
        first = start - timedelta(days=start.weekday())
        return first, first + timedelta(days=7)
    if period == "month":
        first = start.replace(day=1)
        return first, (first + timedelta(days=32)).replace(day=1)
    if period == "quarter":
        first = start.replace(month=(start.month - 1) // 3 * 3 + 1, day=1)
        end = first
        for _ in range(3):
            end = (end + timedelta(days=32)).replace(day=1)
        return first, end
    if period == "year":
        return start.replace(month=1, day=1), start.replace(year=start.year + 1, month=1, day=1)
    raise Invalid(f"period {period!r}: use one of {', '.join(PERIODS)}")


def previous(period: str, first: date) -> date:
    return window(period, first - timedelta(days=1))[0]


def last_year(first: date) -> date:
    try:
        return first.replace(year=first.year - 1)
    except ValueError:      # 29 February
        return first.replace(year=first.year - 1, day=28)


@dataclass
class Figures:
    received: int = 0
    false_alarms: int = 0
    resolved: int = 0
    on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    reopened: int = 0
    handled_rate: float | None = None
    on_time_rate: float | None = None
    satisfaction_rate: float | None = None
    false_alarm_rate: float | None = None
    reopen_rate: float | None = None
    response_median_min: float | None = None
    resolution_median_min: float | None = None
    _response: list[float] = field(default_factory=list, repr=False)
    _resolution: list[float] = field(default_factory=list, repr=False)

    def finish(self) -> Figures:
        def rate(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        self.handled_rate = rate(self.resolved, self.received - self.false_alarms)
        self.on_time_rate = rate(self.on_time, self.resolved)
        self.satisfaction_rate = rate(self.satisfied, self.rated)
        self.false_alarm_rate = rate(self.false_alarms, self.received)
        self.reopen_rate = rate(self.reopened, self.resolved)
        self.response_median_min = round(statistics.median(self._response), 1) if self._response else None
        if self._resolution:
            self.resolution_median_min = round(statistics.median(self._resolution), 1)
        return self

    def public(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


@dataclass
class DepartmentFigures:
    body: str
    name: str
    calls: int = 0
    answered: int = 0
    answered_on_time: int = 0
    on_time_rate: float | None = None


def _utc(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0, 0), tz)


def compute(session: Session, first: date, end: date, tz: ZoneInfo,
            grid_of: dict[str, str | None] | None = None) -> tuple[Figures, dict[str, dict[str, Figures]]]:
    """The total and the groups' figures of the incidents opened in [first, end)."""
    start_t, end_t = _utc(first, tz), _utc(end, tz)
    incs = list(session.scalars(select(Incident).where(Incident.created_at >= start_t,
                                                       Incident.created_at < end_t)))
    ids = [i.id for i in incs]
    marks: dict[int, set[str]] = {}
    latest: dict[int, Rating] = {}
    first_dispatch: dict[int, datetime] = {}
    if ids:
        first_dispatch = {i: at for i, at in session.execute(
            select(TimelineEntry.incident_id, func.min(TimelineEntry.at)).where(
                TimelineEntry.incident_id.in_(ids), TimelineEntry.action == "dispatch")
            .group_by(TimelineEntry.incident_id))}
        for inc_id, action in session.execute(select(TimelineEntry.incident_id, TimelineEntry.action).where(
                TimelineEntry.incident_id.in_(ids),
                TimelineEntry.action.in_(("false_alarm", "reopen", "dissatisfied")))):
            marks.setdefault(inc_id, set()).add(action)
        for r in session.scalars(select(Rating).where(Rating.incident_id.in_(ids)).order_by(Rating.id)):
            latest[r.incident_id] = r
    teams = {t.id: t.name for t in session.scalars(select(Team))}
    total = Figures()
    groups: dict[str, dict[str, Figures]] = {g: {} for g in GROUPS}
    for inc in incs:
        keys = {"category": inc.category, "grid": (grid_of or {}).get(inc.place or "") or "—",
                "team": teams.get(inc.team_id, "—") if inc.team_id else "—", "source": inc.source}
        for f in (total, *(groups[g].setdefault(keys[g], Figures()) for g in GROUPS)):
            _count(f, inc, marks.get(inc.id, set()), latest.get(inc.id), first_dispatch.get(inc.id))
    total.finish()
    for g in groups.values():
        for f in g.values():
            f.finish()
    return total, groups


def _count(f: Figures, inc: Incident, marks: set[str], rating: Rating | None,
           dispatched: datetime | None) -> None:
    f.received += 1
    if "false_alarm" in marks or inc.state == "false_alarm":
        f.false_alarms += 1
    if dispatched is not None:
        f._response.append((dispatched - inc.created_at).total_seconds() / 60)
    if inc.resolved_at is not None:
        f.resolved += 1
        f._resolution.append((inc.resolved_at - inc.created_at).total_seconds() / 60)
        if inc.resolved_at <= inc.deadline_at:
            f.on_time += 1
        if marks & {"reopen", "dissatisfied"}:
            f.reopened += 1
    if rating is not None:
        f.rated += 1
        if rating.rating in SATISFIED:
            f.satisfied += 1


def departments(session: Session, first: date, end: date, tz: ZoneInfo) -> list[DepartmentFigures]:
    out: dict[int, DepartmentFigures] = {}
    bodies = {b.id: b for b in session.scalars(select(Body))}
    q = select(Call).where(Call.called_at >= _utc(first, tz), Call.called_at < _utc(end, tz))
    for c in session.scalars(q):
        b = bodies.get(c.body_id)
        d = out.setdefault(c.body_id, DepartmentFigures(b.key if b else str(c.body_id), b.name if b else ""))
        d.calls += 1
        if c.answered_at is not None:
            d.answered += 1
            if c.answered_at <= c.due_at:
                d.answered_on_time += 1
    for d in out.values():
        d.on_time_rate = round(d.answered_on_time / d.calls, 4) if d.calls else None
    return sorted(out.values(), key=lambda d: d.body)


def change(now: Figures, before: Figures) -> dict[str, float | None]:
    """Now minus before, for the counts and the rates (None where either side has none)."""
    out: dict[str, float | None] = {}
    for k, v in now.public().items():
        b = before.public()[k]
        out[k] = None if v is None or b is None else round(float(v) - float(b), 4)  # type: ignore[arg-type]
    return out


def report(session: Session, period: str, start: date, tz: ZoneInfo,
           grid_of: dict[str, str | None] | None = None) -> dict[str, object]:
    first, end = window(period, start)
    total, groups = compute(session, first, end, tz, grid_of)
    p_first = previous(period, first)
    prev, _ = compute(session, p_first, window(period, p_first)[1], tz, grid_of)
    y_first = last_year(first)
    year, _ = compute(session, *window(period, y_first), tz, grid_of)
    return {"period": period, "start": first.isoformat(), "end": (end - timedelta(days=1)).isoformat(),
            "total": total.public(), "previous": prev.public(), "last_year": year.public(),
            "change_previous": change(total, prev), "change_last_year": change(total, year),
            "groups": {g: [{"key": k, **f.public()} for k, f in sorted(v.items())]
                       for g, v in groups.items()},
            "departments": [asdict(d) for d in departments(session, first, end, tz)]}
