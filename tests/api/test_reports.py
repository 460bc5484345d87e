"""Report figures on a seeded history equal the hand-counted ones, and the XLSX/CSV downloads hold them.

October 2026 (Asia/Shanghai), opened in the month:
  A stairwell_clutter p1 (grid W) t1 resident  dispatched +10 min, resolved +120 min (on time), rated 基本满意
  B stairwell_clutter p3 (grid E) t2 camera    dispatched +30 min, resolved +2880 min (late, 24 h limit)
  C resident_report   p2 (grid W) t1 resident  dispatched +20 min, resolved +120 min (on time), 不满意:
                                               reopened
  D crowd             no place    -  camera    false alarm
  E resident_report   p4 (grid E) t2 resident  opened 31 Oct 23:30 local, dispatched +5 min, not resolved
  G garbage_dumped    p0 (grid W) -  camera    opened 1 Oct 00:00 local (30 Sep 16:00 UTC), open
  F opened 1 Nov 00:10 local (31 Oct UTC): November, not counted
September 2026: H resolved on time. October 2025: I, J open.
Calls in October: wuye on A (unanswered), wuye on C (answered in time), xiaofang on B (answered late).
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from api.db.civic import Body, Call, Rating, Report
from api.db.models import Incident, TimelineEntry
from tests.api.conftest import Harness

TZ = ZoneInfo("Asia/Shanghai")


def local(y: int, mo: int, d: int, h: int = 9, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


def seed(api: Harness) -> None:
    t1, t2 = api.teams["t1"], api.teams["t2"]
    with api.ctx.sessions() as s:
        wuye = Body(key="wuye", name="物业", kind="department")
        xf = Body(key="xiaofang", name="消防", kind="department")
        s.add_all([wuye, xf])
        s.flush()

        def inc(name: str, cat: str, place: str | None, team: int | None, source: str, at: datetime,
                dispatch_min: float | None = None, resolve_min: float | None = None, state: str = "open",
                marks: tuple[str, ...] = ()) -> Incident:
            row = Incident(title=name, category=cat, severity=2, state=state, source=source, place=place,
                           team_id=team, created_at=at, updated_at=at, deadline_at=at + timedelta(hours=24),
                           resolved_at=None if resolve_min is None else at + timedelta(minutes=resolve_min))
            s.add(row)
            s.flush()
            s.add(TimelineEntry(incident_id=row.id, at=at, actor="system", action="opened"))
            if dispatch_min is not None:
                s.add(TimelineEntry(incident_id=row.id, at=at + timedelta(minutes=dispatch_min), actor="op",
                                    action="dispatch"))
                # a later re-dispatch does not move the response time
                s.add(TimelineEntry(incident_id=row.id, at=at + timedelta(minutes=dispatch_min + 500),
                                    actor="op", action="dispatch"))
            for m in marks:
                s.add(TimelineEntry(incident_id=row.id, at=at + timedelta(hours=30), actor="x", action=m))
            return row

        def rate(row: Incident, rating: str) -> None:
            rep = Report(code=f"C{row.id:07d}", incident_id=row.id, category=row.category, text="t",
                         addr_hash="x", created_at=row.created_at)
            s.add(rep)
            s.flush()
            s.add(Rating(report_id=rep.id, incident_id=row.id, rating="dissatisfied", comment="old",
                         at=row.created_at + timedelta(minutes=1)))      # superseded by the latest
            s.add(Rating(report_id=rep.id, incident_id=row.id, rating=rating,
                         at=row.created_at + timedelta(days=1)))

        a = inc("A", "stairwell_clutter", "p1", t1, "resident", local(2026, 10, 5), 10, 120, "resolved")
        b = inc("B", "stairwell_clutter", "p3", t2, "camera", local(2026, 10, 10, 8), 30, 2880, "closed")
        c = inc("C", "resident_report", "p2", t1, "resident", local(2026, 10, 20, 10), 20, 120, "reopened",
                ("dissatisfied",))
        inc("D", "crowd", None, None, "camera", local(2026, 10, 25, 21), state="false_alarm",
            marks=("false_alarm",))
        inc("E", "resident_report", "p4", t2, "resident", local(2026, 10, 31, 23, 30), 5, None, "accepted")
        inc("G", "garbage_dumped", "p0", None, "camera", local(2026, 10, 1, 0, 0))
        inc("F", "garbage_dumped", "p0", None, "camera", local(2026, 11, 1, 0, 10))
        inc("H", "stairwell_clutter", "p1", t1, "camera", local(2026, 9, 15), 10, 60, "closed")
        inc("I", "crowd", "p1", None, "camera", local(2025, 10, 3))
        inc("J", "crowd", "p1", None, "camera", local(2025, 10, 4))
        rate(a, "basic")
        rate(c, "dissatisfied")
        for body, row, called_h, answered_h in ((wuye, a, 1, None), (wuye, c, 1, 5), (xf, b, 24, 72)):
            at = row.created_at + timedelta(hours=called_h)
            s.add(Call(incident_id=row.id, body_id=body.id, rung="department", state="called", called_by="op",
                       called_at=at, due_at=at + timedelta(hours=24),
                       answered_at=row.created_at + timedelta(hours=answered_h) if answered_h else None))
        s.commit()


def test_figures_equal_the_hand_counted_ones(api: Harness) -> None:
    seed(api)
    r = api.client.get("/api/reports?period=month&start=2026-10-15", headers=api.auth("op"))
    assert r.status_code == 200, r.text
    rep = r.json()
    assert (rep["start"], rep["end"]) == ("2026-10-01", "2026-10-31")
    t = rep["total"]
    assert {k: t[k] for k in ("received", "false_alarms", "resolved", "on_time", "rated", "satisfied",
                              "reopened")} == {"received": 6, "false_alarms": 1, "resolved": 3, "on_time": 2,
                                               "rated": 2, "satisfied": 1, "reopened": 1}
    assert t["handled_rate"] == 0.6 and t["on_time_rate"] == 0.6667 and t["satisfaction_rate"] == 0.5
    assert t["false_alarm_rate"] == 0.1667 and t["reopen_rate"] == 0.3333
    assert t["response_median_min"] == 15.0 and t["resolution_median_min"] == 120.0
    cat = {g["key"]: g for g in rep["groups"]["category"]}
    got = {k: (v["received"], v["resolved"], v["on_time"], v["rated"], v["satisfied"])
           for k, v in cat.items()}
    assert got == {"stairwell_clutter": (2, 2, 1, 1, 1), "resident_report": (2, 1, 1, 1, 0),
                   "crowd": (1, 0, 0, 0, 0), "garbage_dumped": (1, 0, 0, 0, 0)}
    assert cat["crowd"]["handled_rate"] is None and cat["resident_report"]["reopen_rate"] == 1.0
    assert {g["key"]: g["received"] for g in rep["groups"]["grid"]} == {"W": 3, "E": 2, "—": 1}
    assert {g["key"]: g["received"] for g in rep["groups"]["team"]} == {"Team t1": 2, "Team t2": 2, "—": 2}
    assert {g["key"]: g["received"] for g in rep["groups"]["source"]} == {"resident": 3, "camera": 3}
    assert rep["previous"]["received"] == 1 and rep["previous"]["on_time_rate"] == 1.0
    assert rep["change_previous"]["received"] == 5 and rep["change_previous"]["on_time_rate"] == -0.3333
    assert rep["last_year"]["received"] == 2 and rep["last_year"]["handled_rate"] == 0.0
    assert rep["change_last_year"]["received"] == 4 and rep["change_last_year"]["handled_rate"] == 0.6
    assert rep["departments"] == [
        {"body": "wuye", "name": "物业", "calls": 2, "answered": 1, "answered_on_time": 1,
         "on_time_rate": 0.5},
        {"body": "xiaofang", "name": "消防", "calls": 1, "answered": 1, "answered_on_time": 0,
         "on_time_rate": 0.0}]
    week = api.client.get("/api/reports?period=week&start=2026-10-21", headers=api.auth("op")).json()
    assert (week["start"], week["end"], week["total"]["received"]) == ("2026-10-19", "2026-10-25", 2)   # C, D
    q = api.client.get("/api/reports?period=quarter&start=2026-11-30", headers=api.auth("op")).json()
    assert (q["start"], q["end"], q["total"]["received"]) == ("2026-10-01", "2026-12-31", 7)
    assert api.client.get("/api/reports?period=decade", headers=api.auth("op")).status_code == 422
    assert api.client.get("/api/reports", headers=api.auth("lead1")).status_code == 403


def test_the_xlsx_and_csv_downloads_hold_the_rows(api: Harness) -> None:
    seed(api)
    token = api.tokens["op"]
    r = api.client.get(f"/api/reports.xlsx?period=month&start=2026-10-01&token={token}")
    assert r.status_code == 200, r.text
    assert 'report-month-2026-10-01.xlsx' in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["汇总", "按类别", "按网格", "按队伍", "按来源", "按部门"]
    rows = list(wb["汇总"].iter_rows(values_only=True))
    assert rows[1][:4] == ("项目", "受理数", "办结数", "处理率")
    assert [r[:4] for r in rows[2:5]] == [("本期", 6, 3, 0.6), ("上期", 1, 1, 1.0), ("去年同期", 2, 0, 0.0)]
    cats = {r[0]: r[1] for r in list(wb["按类别"].iter_rows(values_only=True))[2:]}
    assert cats == {"楼道堆物": 2, "居民反映": 2, "人员聚集": 1, "垃圾乱堆": 1}
    depts = list(wb["按部门"].iter_rows(values_only=True))[2:]
    assert depts == [("wuye", "物业", 2, 1, 1, 0.5), ("xiaofang", "消防", 1, 1, 0, 0.0)]
    c = api.client.get(f"/api/reports.csv?period=month&start=2026-10-01&token={token}")
    assert c.status_code == 200 and c.text.startswith("\ufeff分组,项,受理数")
    assert "汇总,本期,6,3,0.6," in c.text and "按网格,W,3," in c.text


def test_a_day_is_the_sites_day_whatever_the_hour_in_utc(api: Harness) -> None:
    """An incident opened at 04:00 Beijing time (20:00 UTC the day before) is the next day's; stored as UTC,
    it is compared with the day's bounds in UTC on every database (SQLite keeps no zone)."""
    from datetime import UTC

    with api.ctx.sessions() as s:
        at = datetime(2026, 10, 10, 20, 0, tzinfo=UTC)
        s.add(Incident(title="凌晨堆物", category="stairwell_clutter", severity=2, state="open",
                       source="camera", created_at=at, updated_at=at, deadline_at=at + timedelta(hours=24)))
        s.commit()
    got = {}
    for day in ("2026-10-10", "2026-10-11"):
        r = api.client.get(f"/api/reports?period=day&start={day}", headers=api.auth("op"))
        assert r.status_code == 200, r.text
        got[day] = r.json()["total"]["received"]
    assert got == {"2026-10-10": 0, "2026-10-11": 1}
