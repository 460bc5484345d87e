"""The operators' incident history in real Chromium against a real api process: search by text and source,
page past the first page, close two false alarms at once with a reason, open an incident and add a note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.harness import ApiServer
from tests.browser.test_flow import DESK, _context, _errors, _incident, _login

pytestmark = pytest.mark.slow


def test_search_page_bulk_false_alarms_create_and_note(server: ApiServer, browser: Any, shots: Path) -> None:
    op_h = {"Authorization": f"Bearer {server.token('operator')}"}

    def make(title: str, cat: str = "crowd") -> int:
        r = httpx.post(f"{server.url}/api/incidents", headers=op_h, json={"title": title, "category": cat})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    drills = [make("演练A 广场聚集"), make("演练B 广场聚集")]
    for i in range(55):
        make(f"历史事件{i}", "garbage_dumped")
    r = httpx.post(f"{server.url}/api/public/reports", data={"category": "resident_report",
                                                             "text": "楼下路灯坏了很久", "place": "square"})
    assert r.status_code == 201, r.text

    ctx = _context(browser, DESK)
    page = ctx.new_page()
    errors = _errors(page)
    name, pw, _ = server.account("operator")
    _login(page, server.url + "/", name, pw)
    page.click("a[href='/history/']")
    page.wait_for_selector("#list tbody tr")
    total = int(httpx.get(f"{server.url}/api/incidents?limit=1", headers=op_h).headers["X-Total-Count"])
    assert page.text_content("#total") == f"共 {total} 条"
    assert page.locator("#list tbody tr").count() == 50
    page.click("#next")
    page.wait_for_function("n => document.querySelectorAll('#list tbody tr').length === n", arg=total - 50)

    page.fill("#f-text", "演练")
    page.click("#filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#list tbody tr').length === 2")
    page.select_option("#f-source", "resident")
    page.fill("#f-text", "")
    page.click("#filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#list tbody tr').length === 1")
    assert "群众点单" in (page.text_content("#list tbody tr") or "")

    page.select_option("#f-source", "")
    page.fill("#f-text", "演练")
    page.click("#filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#list tbody tr').length === 2")
    page.check("#all")
    page.click("#bulk")
    assert "原因" in (page.text_content("#bulk-result") or "")
    page.fill("#bulk-reason", "消防演练，非真实事件")
    page.click("#bulk")
    page.wait_for_selector("#bulk-result:has-text('已关闭 2 条')")
    page.wait_for_function("() => [...document.querySelectorAll('#list tbody tr')]"
                           ".every(r => r.dataset.state === 'closed')")
    for i in drills:
        steps = [(t["action"], t["reason"]) for t in _incident(server, i)["timeline"]]
        assert steps[-2:] == [("false_alarm", "消防演练，非真实事件"), ("close", "消防演练，非真实事件")]

    page.fill("#c-title", "东门护栏松动")
    page.select_option("#c-category", "hard_matter")
    page.select_option("#c-place", "gate_east")
    page.click("#create button[type=submit]")
    page.wait_for_selector("#detail:not([hidden]) #d-title:has-text('东门护栏松动')")
    new_id = int(page.get_attribute("#detail", "data-id") or "0")
    page.fill("#d-note", "已联系物业加固")
    page.click("#note button[type=submit]")
    page.wait_for_selector("#d-timeline li[data-action=note]:has-text('已联系物业加固')")
    detail = _incident(server, new_id)
    assert detail["place"] == "gate_east" and detail["category"] == "hard_matter"
    assert detail["timeline"][-1]["action"] == "note" and detail["timeline"][-1]["reason"] == "已联系物业加固"
    page.screenshot(path=str(shots / "incident_history.png"))
    assert not errors, errors
    ctx.close()
