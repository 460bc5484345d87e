from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from patrol import Incident, Level, deadline_for, deadline_status, escalation_step, policy_from_dict

from .conftest import MONDAY_10, TEST_POLICY


def test_minute_and_hour_deadlines(policy):
    assert deadline_for("fire", MONDAY_10, policy) == MONDAY_10 + timedelta(minutes=10)
    assert deadline_for("minor", MONDAY_10, policy) == MONDAY_10 + timedelta(hours=24)


@pytest.mark.parametrize("opened, due", [
    (datetime(2024, 6, 3, 10, 0), datetime(2024, 6, 7, 0, 0)),    # Mon -> end of Thu (Tue, Wed, Thu)
    (datetime(2024, 6, 6, 15, 0), datetime(2024, 6, 12, 0, 0)),   # Thu -> Fri, Mon, Tue: end of Tue
    (datetime(2024, 6, 8, 9, 0), datetime(2024, 6, 13, 0, 0)),    # Sat -> Mon, Tue, Wed
])
def test_working_day_deadlines_skip_weekends(policy, opened, due):
    assert deadline_for("hard", opened, policy) == due


def test_holidays_and_make_up_workdays():
    data = dict(TEST_POLICY)
    data["calendar"] = {"holidays": ["2024-06-10"], "workdays": ["2024-06-08"]}   # Dragon Boat 2024 (example)
    pol = policy_from_dict(data)
    # Thu 6th: Fri 7th, Sat 8th (make-up day), Mon 10th holiday skipped, Tue 11th
    assert deadline_for("hard", datetime(2024, 6, 6, 15, 0), pol) == datetime(2024, 6, 12, 0, 0)


def test_aware_datetimes_stay_aware(policy):
    opened = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)    # 10:00 in Shanghai, Monday
    due = deadline_for("hard", opened, policy)
    assert due.tzinfo is not None and due == datetime(2024, 6, 6, 16, 0, tzinfo=UTC)


def test_near_then_grid_worker_then_office(line_site, policy):
    inc = Incident("i1", "fire", "p3", MONDAY_10)      # p3 lies in grid E, worker gw_e; due 10:10
    level, entries = escalation_step(inc, MONDAY_10 + timedelta(minutes=5), line_site, Level.NONE, policy)
    assert level == Level.NONE and entries == []
    level, entries = escalation_step(inc, MONDAY_10 + timedelta(minutes=8, seconds=30), line_site, level,
                                     policy)
    assert level == Level.NEAR and [e.kind for e in entries] == ["near_deadline"]
    level, entries = escalation_step(inc, MONDAY_10 + timedelta(minutes=8, seconds=40), line_site, level,
                                     policy)
    assert entries == []                                 # nothing new: no duplicate entries
    level, entries = escalation_step(inc, MONDAY_10 + timedelta(minutes=11), line_site, level, policy)
    assert level == Level.GRID and entries[0].kind == "escalated_grid" and entries[0].target == "gw_e"
    level, entries = escalation_step(inc, MONDAY_10 + timedelta(minutes=16), line_site, level, policy)
    assert (
        level == Level.OFFICE
        and entries[0].kind == "escalated_office"
        and entries[0].target == "community_office"
    )


def test_late_first_check_records_every_step(line_site, policy):
    inc = Incident("i1", "fire", "p0", MONDAY_10)
    level, entries = escalation_step(inc, MONDAY_10 + timedelta(hours=1), line_site, Level.NONE, policy)
    assert level == Level.OFFICE
    assert [e.kind for e in entries] == ["near_deadline", "escalated_grid", "escalated_office"]
    assert entries[1].target == "gw_w"


def test_status_with_stored_deadline_override(policy):
    inc = Incident("i1", "minor", "p0", MONDAY_10)
    st = deadline_status(inc, MONDAY_10 + timedelta(minutes=50), policy,
                         deadline=MONDAY_10 + timedelta(hours=1))
    assert st.near and not st.overdue and st.remaining_s == pytest.approx(600)


NATIONAL_DAY_2026 = [
    # Wed 30 Sep: Oct 1-7 are the holiday; Thu 8, Fri 9 and Sat 10 (调休, a working Saturday) count
    (datetime(2026, 9, 30, 10, 0), {}, datetime(2026, 10, 11, 0, 0)),
    # Fri 18 Sep: Sun 20 Sep is a 调休 working day, so Sun 20, Mon 21, Tue 22
    (datetime(2026, 9, 18, 10, 0), {}, datetime(2026, 9, 23, 0, 0)),
    # a local day off (Fri 9 Oct) moves it past Sun 11 Oct (no working day) to Mon 12
    (datetime(2026, 9, 30, 10, 0), {"holidays": ["2026-10-09"]}, datetime(2026, 10, 13, 0, 0)),
    # a local working day (Sun 4 Oct) counts, though it falls in the official holiday
    (datetime(2026, 9, 30, 10, 0), {"workdays": ["2026-10-04"]}, datetime(2026, 10, 10, 0, 0)),
]


@pytest.mark.parametrize("opened, local, due", NATIONAL_DAY_2026)
def test_three_working_days_across_national_day_2026(opened, local, due):
    data = dict(TEST_POLICY)
    data["calendar"] = {"official": "cn", **local}
    assert deadline_for("hard", opened, policy_from_dict(data)) == due


def test_packaged_policy_follows_the_official_calendar():
    from patrol import load_policy

    pol = load_policy()
    assert pol.calendar.official == "cn"
    assert deadline_for("hard_matter", datetime(2026, 9, 30, 10, 0), pol) == datetime(2026, 10, 11, 0, 0)


def test_year_the_library_does_not_cover_counts_weekdays(caplog):
    from datetime import date

    from patrol.calendar import Calendar

    cal = Calendar()
    assert cal.is_working_day(date(2099, 3, 2)) and not cal.is_working_day(date(2099, 3, 1))   # Mon, Sun
    assert "2099" in caplog.text


def test_escalation_level_is_capped_at_the_top_of_the_ladder(line_site, policy):
    inc = Incident("i1", "fire", "p3", MONDAY_10)
    # stored by five manual escalations (or by an older version): no crash, nothing new to call
    level, entries = escalation_step(inc, MONDAY_10 + timedelta(hours=2), line_site, 5, policy)
    assert level == Level.OFFICE and entries == []
    assert (
        Level.capped(7) == Level.OFFICE and Level.capped(-1) == Level.NONE and Level.capped(2) == Level.GRID
    )
