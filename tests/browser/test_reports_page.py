"""The report page in real Chromium against a real api process: the operator opens it from the control room,
sees the day's figures, and the XLSX export downloads and opens with openpyxl holding the expected rows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook

from tests.browser.harness import ApiServer
from tests.browser.test_flow import DESK, _context, _errors, _login

pytestmark = pytest.mark.slow


def test_the_report_page_shows_the_figures_and_the_xlsx_export_opens(server: ApiServer, browser: Any,
                                                                       shots: Path, tmp_path: Path) -> None:
    op_h = {"Authorization": f"Bearer {server.token('operator')}"}
    made = []
    for title, cat in (("楼道堆物", "stairwell_clutter"), ("广场聚集", "crowd"),
                       ("又一处堆物", "stairwell_clutter")):
        r = httpx.post(f"{server.url}/api/incidents", headers=op_h, json={"title": title, "category": cat})
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    r = httpx.post(f"{server.url}/api/incidents/{made[1]}/actions", headers=op_h,
                   json={"action": "false_alarm", "reason": "演练"})
    assert r.status_code == 200, r.text
    want = httpx.get(f"{server.url}/api/reports?period=day", headers=op_h).json()
    assert want["total"]["received"] >= 3
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()

    ctx = _context(browser, DESK, accept_downloads=True)
    page = ctx.new_page()
    errors = _errors(page)
    name, pw, _ = server.account("operator")
    _login(page, server.url + "/", name, pw)
    page.click("a[href='/reports/']")
    page.wait_for_selector("#report:not([hidden])")
    page.select_option("#period", "day")
    page.fill("#start", today)
    page.click("#controls button[type=submit]")
    page.wait_for_function("n => document.querySelector('#summary .card .value').textContent === String(n)",
                           arg=want["total"]["received"])
    cat_rows = page.eval_on_selector_all("#groups > div:first-child table tbody tr",
                                         "rs => rs.map((r) => r.dataset.key)")
    assert sorted(cat_rows) == sorted(g["key"] for g in want["groups"]["category"])
    page.screenshot(path=str(shots / "reports_page.png"), full_page=True)
    with page.expect_download() as dl:
        page.click("#xlsx")
    path = tmp_path / "report.xlsx"
    dl.value.save_as(path)
    assert dl.value.suggested_filename == f"report-day-{today}.xlsx"
    wb = load_workbook(path)
    summary = list(wb["汇总"].iter_rows(values_only=True))
    assert summary[2][:2] == ("本期", want["total"]["received"])
    assert summary[2][9] == want["total"]["false_alarms"]          # 误报数
    cats = {r[0]: r[1] for r in list(wb["按类别"].iter_rows(values_only=True))[2:]}
    names = want["category_names"]
    assert cats == {names[g["key"]]: g["received"] for g in want["groups"]["category"]}
    assert cats["人员聚集"] >= 1 and cats["楼道堆物"] >= 2
    assert not errors, errors
    ctx.close()
