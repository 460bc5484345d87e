"""Water-meter histories for the sensor tests: a 关爱 household that uses water in the day, not at night."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

ACTIVE_HOURS = range(7, 22)   # local 07:00-21:59


def zone_with_local_hour(now: datetime, hour: int) -> str:
    """An Etc/GMT zone in which `now` falls in local clock hour `hour` (to test day and night at any time)."""
    offset = (hour - now.hour) % 24
    if offset > 14:
        offset -= 24
    # Etc/GMT-8 is UTC+8 (POSIX signs)
    return "Etc/GMT" + (f"-{offset}" if offset > 0 else f"+{-offset}" if offset < 0 else "")


def history(now: datetime, tz: str, days: int = 28, silent_hours: float = 0.0,
            step_min: int = 60) -> list[tuple[datetime, float]]:
    """Cumulative litres every `step_min` up to `now`: 5-25 L in each active local hour, none at night,
    and none at all in the last `silent_hours`."""
    zone = ZoneInfo(tz)
    t = now - timedelta(days=days)
    index, out = 1000.0, []
    i = 0
    while t <= now:
        local = t.astimezone(zone)
        # readings more often than hourly: water runs in one of three of them (people use it in bursts)
        burst = step_min >= 60 or i % 3 == 0
        if local.hour in ACTIVE_HOURS and now - t >= timedelta(hours=silent_hours) and burst:
            index += 5 + (i * 7) % 21
        out.append((t, round(index, 3)))
        t += timedelta(minutes=step_min)
        i += 1
    return out
