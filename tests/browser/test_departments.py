"""吹哨报到 in real Chromium against a real api process: the operator escalates a matter in the control room
three times (grid worker, community office, the category's departments); a department user on the phone page
(/d/) sees the call, reports (报到) and answers in writing; the control room's timeline has it all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.harness import ApiServer
from tests.browser.test_flow import DESK, PHONE, _context, _errors, _incident, _login

pytestmark = pytest.mark.slow


def test_a_department_receives_the_whistle_and_reports_back(server: ApiServer, browser: Any,
                                                            shots: Path) -> None:
    admin = {"Authorization": f"Bearer {server.token('admin')}"}
    op_h = {"Authorization": f"Bearer {server.token('operator')}"}
    ids = {}
    for key, name, kind, grid in (("grid:G4", "第四网格", "grid", "G4"),
                                  ("office", "社区居委会", "office", None),
                                  ("wuye", "物业", "department", None),
                                  ("xiaofang", "消防", "department", None)):
        r = httpx.post(f"{server.url}/api/bodies", headers=admin,
                       json={"key": key, "name": name, "kind": kind, "grid": grid})
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    r = httpx.post(f"{server.url}/api/users", headers=admin,
                   json={"name": "wuye_li", "password": "wuye-password-1", "role": "department",
                         "body_id": ids["wuye"]})
    assert r.status_code == 201, r.text
    r = httpx.post(f"{server.url}/api/incidents", headers=op_h,
                   json={"title": "广场堆放杂物", "category": "stairwell_clutter", "place": "square"})
    inc_id = r.json()["id"]

    op_ctx = _context(browser, DESK)
    op = op_ctx.new_page()
    op_errors = _errors(op)
    name, pw, _ = server.account("operator")
    _login(op, server.url + "/", name, pw)
    op.click(f".incident[data-id='{inc_id}']")
    for n in (1, 2, 4):       # grid worker, office, then wuye and xiaofang (api/services/policy.yaml)
        op.click("#incident-panel button.act-escalate")
        reason = op.query_selector("#incident-panel .reason-box textarea, #incident-panel textarea.reason")
        if reason is not None and reason.is_visible():
            reason.fill("超时未处理")
            op.click("#incident-panel .reason-box button[type=submit]")
        for _ in range(100):
            calls = httpx.get(f"{server.url}/api/calls?incident_id={inc_id}", headers=op_h).json()
            if len(calls) >= n:
                break
            op.wait_for_timeout(200)
        assert len(calls) == n, calls

    ph_ctx = _context(browser, PHONE, has_touch=True, is_mobile=True)
    ph = ph_ctx.new_page()
    ph_errors = _errors(ph)
    ph.goto(server.url + "/d/")
    ph.fill("#username", "wuye_li")
    ph.fill("#password", "wuye-password-1")
    ph.click("#login button[type=submit]")
    card = f".call[data-state=called]:has-text('#{inc_id} 广场堆放杂物')"
    ph.wait_for_selector(card)
    assert ph.text_content("#who") == "物业 · wuye_li"
    assert ph.locator(".call").count() == 1        # only its own body's call
    ph.click(f"{card} button.ack")
    ph.wait_for_selector(".call[data-state=acknowledged]")
    ph.click(".call[data-state=acknowledged] button.answer")
    assert "请填写" in (ph.text_content(".call[data-state=acknowledged] .error") or "")
    ph.fill(".call[data-state=acknowledged] .answer-text", "已安排保洁清走杂物")
    ph.click(".call[data-state=acknowledged] button.answer")
    ph.wait_for_selector(".call[data-state=answered] .answer:has-text('已安排保洁清走杂物')")
    ph.screenshot(path=str(shots / "department_call.png"))

    detail = _incident(server, inc_id)
    steps = [(t["action"], t["actor"]) for t in detail["timeline"] if t["action"].startswith("call")]
    assert [s for s in steps if s[0] != "call"] == [("call_ack", "wuye_li"), ("call_answer", "wuye_li")]
    assert [t["data"]["body"] for t in detail["timeline"] if t["action"] == "call"] == \
        ["grid:G4", "office", "wuye", "xiaofang"]
    assert not op_errors and not ph_errors, (op_errors, ph_errors)
    op_ctx.close()
    ph_ctx.close()
