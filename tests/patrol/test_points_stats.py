from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from patrol import IncidentRecord, Ledger, PatrolError, day_summary, false_alarm_rates, group_stats, team_load

T = datetime(2024, 6, 3, 10, 0)


def test_ledger_awards_balance_history_and_redemption(policy):
    led = Ledger(rules=policy.points)
    led.award_task(["a", "b"], "inc1", severity=3, in_time=True, at=T)         # 10 + 2*2 + 5 = 19 each
    led.award_patrol(["a"], hours=2.5, ref="shift-0603", at=T)                 # 2 full hours * 2 = 4
    led.award_checkin("a", "cp_square", at=T)                                  # 1
    assert led.balance("a") == 24 and led.balance("b") == 19
    led.redeem("a", 20, "rice 5 kg", at=T)
    assert led.balance("a") == 4
    with pytest.raises(PatrolError, match="a has 4 points, 10 needed for 'oil'"):
        led.redeem("a", 10, "oil", at=T)
    assert [e.kind for e in led.history("a")] == ["task_resolved", "patrol_hours", "checkin", "redemption"]
    assert led.balance("a") == 4     # the refused redemption left nothing behind


def test_ledger_rebuilt_from_stored_rows_and_tampering_is_caught(policy):
    led = Ledger(rules=policy.points)
    led.award_task(["a"], "inc1", severity=1, in_time=False, at=T)
    led.award_checkin("a", "cp1", at=T)
    rows = list(led.entries)
    assert Ledger(rows).balance("a") == led.balance("a")
    forged = rows[:1] + [replace(rows[1], delta=1000)]
    with pytest.raises(PatrolError, match="entry 1 .* was altered"):
        Ledger(forged)
    with pytest.raises(PatrolError, match="entry 0"):
        Ledger(rows[1:])


def _rec(i, cat, team, grid, disp_min, site_min, res_min, deadline_min, **kw):
    return IncidentRecord(
        id=str(i),
        category=cat,
        opened_at=T,
        team=team,
        grid=grid,
        dispatched_at=T + timedelta(minutes=disp_min),
        on_site_at=T + timedelta(minutes=site_min) if site_min else None,
        resolved_at=T + timedelta(minutes=res_min) if res_min else None,
        deadline=T + timedelta(minutes=deadline_min),
        **kw,
    )


def test_statistics_on_known_records():
    recs = [
        _rec(1, "fire", "t1", "G1", 1, 5, 20, 10, camera="c1",
             rule="stationary"),       # response 4 min, late
        _rec(2, "fire", "t2", "G2", 1, 3, 8, 10, camera="c1",
             rule="stationary"),        # response 2 min, in time
        _rec(3, "ebike", "t1", "G1", 0, 6, 30, 30, camera="c2", rule="presence"),        # in time (exactly)
        _rec(4, "ebike", None, "G1", 0, None, None, 30, camera="c2", rule="presence", false_alarm=True),
        _rec(5, "ebike", "t2", "G2", 2, None, None, 30, camera="c2", rule="presence"),   # still open
    ]
    by_cat = group_stats(recs, "category")
    assert by_cat["fire"].response_median_s == 180.0 and by_cat["fire"].within_deadline_share == 0.5
    assert by_cat["ebike"].count == 2 and by_cat["ebike"].resolved == 1
    assert group_stats(recs, "team")["t1"].resolution_median_s == 25 * 60
    fa = false_alarm_rates(recs)
    assert fa[("c2", "presence")].rate == pytest.approx(0.333) and fa[("c1", "stationary")].rate == 0
    load = team_load(recs)
    assert load["t1"].tasks == 2 and load["t1"].busy_minutes == pytest.approx(19 + 30)
    s = day_summary(recs, T + timedelta(minutes=25))
    assert s["incidents"] == 5 and s["open"] == 1 and s["at_risk"] == 1 and s["false_alarm_rate"] == 0.2


def test_shift_workload():
    from patrol import shift_workload

    recs = [_rec(1, "fire", "t1", "G1", 10, 15, 40, 60), _rec(2, "fire", "t1", "G1", 50, None, None, 90),
            _rec(3, "fire", "t1", "G1", -30, None, -5, 90), _rec(4, "fire", "t2", "G1", 10, None, 20, 90)]
    # since T: task 1 (30 min) and task 2, open since T+50 until now = T+60 (10 min); task 3 began before
    assert shift_workload(recs, "t1", T, T + timedelta(minutes=60)) == (2, 40.0)
