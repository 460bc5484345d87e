"""The water-meter anomaly rules of a 关爱 household (api/services/care.py), on synthetic histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.services import care
from tests.api.sensor_data import history, zone_with_local_hour

NOW = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
RULES = care.CareRules()


@pytest.mark.parametrize(("local_hour", "silent", "expect"), [
    (20, 12, True),     # 08:30-20:30 silent: a usual day without water
    (8, 12, False),     # 20:30-08:30 silent: the household's night
    (20, 0, False),     # an ordinary day
    (13, 5, False),     # 5 silent hours of the day: not yet
])
def test_silence_in_usual_active_hours_only(local_hour: int, silent: float, expect: bool) -> None:
    tz = zone_with_local_hour(NOW, local_hour)
    assert NOW.astimezone(ZoneInfo(tz)).hour == local_hour
    series = history(NOW, tz, silent_hours=silent)
    found = care.check_silence(series, ZoneInfo(tz), NOW, RULES)
    assert (found is not None) is expect, found
    if found:
        assert found.anomaly == "silence" and found.detail["expected_active_hours"] >= 11


def test_silence_needs_a_week_of_history_and_a_reporting_meter() -> None:
    tz = zone_with_local_hour(NOW, 20)
    assert care.check_silence(history(NOW, tz, days=5, silent_hours=12), ZoneInfo(tz), NOW, RULES) is None
    series = history(NOW - timedelta(hours=3), tz, silent_hours=12)
    assert care.check_silence(series, ZoneInfo(tz), NOW, RULES) is None   # the meter itself went quiet


def test_leak_is_water_that_never_stops() -> None:
    tz = "Asia/Shanghai"
    series = history(NOW - timedelta(hours=5), tz, step_min=15)
    index = series[-1][1]
    t = series[-1][0]
    while t < NOW:   # 2 L every 15 min, night and day
        t += timedelta(minutes=15)
        index += 2.0
        series.append((t, index))
    found = care.check_leak(series, NOW, RULES)
    assert found is not None and found.anomaly == "leak" and found.detail["litres"] == pytest.approx(32.0)
    # one quarter-hour without flow in the window: no leak
    series2 = [(at, v if at < NOW - timedelta(hours=2) else v - 2.0) for at, v in series]
    assert care.check_leak(series2, NOW, RULES) is None
    assert care.check_leak(history(NOW, tz, step_min=15), NOW, RULES) is None   # ordinary use


def test_spike_against_the_households_own_busiest_hours() -> None:
    tz = "Asia/Shanghai"
    series = history(NOW - timedelta(minutes=30), tz)
    series.append((NOW, series[-1][1] + 400.0))
    found = care.check_spike(series, ZoneInfo(tz), NOW, RULES)
    assert found is not None and 400.0 <= float(found.detail["litres_last_hour"]) <= 430.0
    ordinary = history(NOW - timedelta(minutes=30), tz)
    ordinary.append((NOW, ordinary[-1][1] + 20.0))
    assert care.check_spike(ordinary, ZoneInfo(tz), NOW, RULES) is None


def test_evidence_is_the_last_48_hours() -> None:
    tz = "Asia/Shanghai"
    ev = care.evidence(history(NOW, tz), ZoneInfo(tz), NOW)
    hours = ev["hours"]
    assert isinstance(hours, list) and 48 <= len(hours) <= 50
    assert sum(h["litres"] for h in hours) > 0 and {h["usual"] for h in hours} >= {0.0, 1.0}


def test_used_lately_means_no_silence_to_find() -> None:
    """The sweep's shortcut (sensor_rules: a meter whose last hours show use is not read in full) never hides
    a silence: wherever it says "used lately", check_silence on the whole history finds nothing."""
    shortcut = 0
    for local_hour in range(0, 24, 3):
        tz = zone_with_local_hour(NOW, local_hour)
        for silent in (0, 1, 4, 7, 7.9, 8, 8.1, 9, 12):
            for step in (15, 60):
                series = history(NOW, tz, silent_hours=silent, step_min=step)
                recent = [p for p in series if p[0] >= NOW - timedelta(hours=RULES.silence_active_hours)]
                if care.used_lately(recent, NOW, RULES):
                    shortcut += 1
                    assert care.check_silence(series, ZoneInfo(tz), NOW, RULES) is None, (local_hour, silent)
    assert shortcut > 20   # the shortcut is taken often, not only where there was nothing to find
    assert not care.used_lately([], NOW, RULES)
    assert not care.used_lately([(NOW - timedelta(hours=2), 5.0), (NOW, 5.0)], NOW, RULES)
