"""Water-meter anomalies of a 关爱 household (an elderly person living alone): pure logic on one meter's
readings, no database.

A remote water meter reports its cumulative index (litres); use in a span is the rise of the index. Three
anomalies, each judged against the household's own history:
- `leak`: the index rose in every `leak_slot_min` slot of the last `leak_hours` (water never stops: a
  running tap or a burst pipe, or a fall beside a running tap);
- `silence`: no use at all since the last rise, during hours in which this household usually uses water.
  Usual = its hour-of-week profile (the share of past weeks with use in that hour of that weekday, local
  time); the silence counts when the expected number of active hours in it reaches `silence_active_hours`,
  so 12 silent hours of a usual day alert and the same 12 hours overnight do not;
- `spike`: one hour's use above `spike_factor` x the household's 95th percentile hour and `spike_min_l`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)
WEEK_HOURS = 168


@dataclass(frozen=True)
class CareRules:
    leak_hours: float = 4.0
    leak_slot_min: int = 30
    silence_active_hours: float = 8.0
    min_history_days: int = 7
    history_weeks: int = 4
    spike_factor: float = 4.0
    spike_min_l: float = 150.0


@dataclass(frozen=True)
class Finding:
    anomaly: str          # leak | silence | spike
    summary: str          # one line for the incident's description
    detail: dict[str, object]


Series = Sequence[tuple[datetime, float]]   # (time, cumulative litres), sorted by time


def hourly_use(series: Series, tz: ZoneInfo) -> dict[datetime, float]:
    """Litres per local clock hour (a rise is counted in the hour of the reading that shows it)."""
    out: dict[datetime, float] = {}
    for (_, a), (t, b) in zip(series, series[1:], strict=False):
        hour = t.astimezone(tz).replace(minute=0, second=0, microsecond=0)
        out[hour] = out.get(hour, 0.0) + max(0.0, b - a)
    return out


def hour_of_week(t: datetime) -> int:
    return t.weekday() * 24 + t.hour


def profile(series: Series, tz: ZoneInfo, until: datetime, weeks: int) -> list[float]:
    """Share of past weeks (before `until`) with any use in each hour of the week (0 = Monday 00:00)."""
    start = until - timedelta(weeks=weeks)
    covered = [0] * WEEK_HOURS
    used = [0] * WEEK_HOURS
    hours = {h for t, _ in series if start <= t < until
             for h in [t.astimezone(tz).replace(minute=0, second=0, microsecond=0)]}
    use = hourly_use([p for p in series if start - HOUR <= p[0] < until], tz)
    for h in hours:
        covered[hour_of_week(h)] += 1
        if use.get(h, 0.0) > 0:
            used[hour_of_week(h)] += 1
    return [u / c if c else 0.0 for u, c in zip(used, covered, strict=True)]


def last_rise(series: Series) -> datetime | None:
    for (_, a), (t, b) in zip(reversed(series[:-1]), reversed(series[1:]), strict=False):
        if b > a:
            return t
    return None


def used_lately(recent: Series, now: datetime, rules: CareRules) -> bool:
    """Whether `recent` (the readings of about the last `silence_active_hours`) shows a rise no older than
    that: then `check_silence` cannot find anything (fewer whole hours since the rise than the active hours
    it needs, each expected at most once), and the periodic sweep need not read the meter's weeks of history.
    """
    rise = last_rise(recent)
    return rise is not None and now - rise <= timedelta(hours=rules.silence_active_hours)


def check_silence(series: Series, tz: ZoneInfo, now: datetime, rules: CareRules) -> Finding | None:
    if not series or (now - series[0][0]) < timedelta(days=rules.min_history_days):
        return None
    if now - series[-1][0] > timedelta(hours=2):
        return None   # the meter itself is silent: a maintenance matter (device silence), not this
    since = last_rise(series) or series[0][0]
    prof = profile(series, tz, since, rules.history_weeks)
    hours: list[datetime] = []
    h = since.astimezone(tz).replace(minute=0, second=0, microsecond=0) + HOUR
    while h + HOUR <= now:
        hours.append(h)
        h += HOUR
    expected = sum(prof[hour_of_week(x)] for x in hours)
    if expected < rules.silence_active_hours:
        return None
    silent_h = (now - since).total_seconds() / 3600
    return Finding("silence", f"no water used for {silent_h:.1f} h since {since.astimezone(tz):%m-%d %H:%M}, "
                   f"in hours this household usually uses water (about {expected:.0f} active hours expected)",
                   {"since": since.isoformat(), "silent_hours": round(silent_h, 1),
                    "expected_active_hours": round(expected, 1)})


def check_leak(series: Series, now: datetime, rules: CareRules) -> Finding | None:
    """The index rose between every two consecutive readings of the last leak_hours, read at most
    leak_slot_min apart (a meter that reports less often cannot tell a leak from busy use)."""
    start = now - timedelta(hours=rules.leak_hours)
    slot = timedelta(minutes=rules.leak_slot_min)
    earlier = [p for p in series if p[0] <= start]
    window = ([earlier[-1]] if earlier else []) + [p for p in series if start < p[0] <= now]
    if len(window) < 2 or window[0][0] < start - slot or now - window[-1][0] > slot:
        return None
    pairs = list(zip(window, window[1:], strict=False))
    if any(tb - ta > slot or b <= a for (ta, a), (tb, b) in pairs):
        return None
    litres = window[-1][1] - window[0][1]
    return Finding("leak", f"water has run without a stop for {rules.leak_hours:g} h "
                   f"({litres:.0f} L): a leak or a tap left running", {"hours": rules.leak_hours,
                                                                     "litres": round(litres, 1)})


def check_spike(series: Series, tz: ZoneInfo, now: datetime, rules: CareRules) -> Finding | None:
    if not series or (now - series[0][0]) < timedelta(days=rules.min_history_days):
        return None
    hour_ago = now - HOUR
    last = [p for p in series if p[0] >= hour_ago]
    before = [p for p in series if p[0] < hour_ago]
    if not last or not before:
        return None
    used = last[-1][1] - before[-1][1]
    past = sorted(v for v in hourly_use(before, tz).values() if v > 0)
    if not past:
        return None
    p95 = past[min(len(past) - 1, int(0.95 * len(past)))]
    limit = max(rules.spike_factor * p95, rules.spike_min_l)
    if used <= limit:
        return None
    return Finding("spike", f"{used:.0f} L in the last hour (usual busiest hours: {p95:.0f} L)",
                   {"litres_last_hour": round(used, 1), "p95_hour_l": round(p95, 1)})


def evidence(series: Series, tz: ZoneInfo, now: datetime) -> dict[str, object]:
    """The last 48 h, hour by hour (what the incident page draws), with the usual share of each hour."""
    start = now - timedelta(hours=48)
    use = hourly_use([p for p in series if p[0] >= start - HOUR], tz)
    prof = profile(series, tz, start, 4)
    hours = []
    h = start.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    while h <= now:
        hours.append({"hour": h.isoformat(), "litres": round(use.get(h, 0.0), 1),
                      "usual": round(prof[hour_of_week(h)], 2)})
        h += HOUR
    return {"unit": "L", "timezone": str(tz), "hours": hours}
