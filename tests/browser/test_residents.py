"""A resident's report end to end in real Chromium (phone size) against a real api process: the resident
reports with a photo and gets a code; the operator dispatches in the control room; the leader resolves on
his phone; the resident sees the public timeline (nothing internal), rates 不满意, and the matter is
reopened."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.harness import ApiServer
from tests.browser.test_flow import (
    DESK,
    PHONE,
    _context,
    _errors,
    _incident,
    _leader_of,
    _login,
    _operator_dispatch,
)

pytestmark = pytest.mark.slow


def _photo(tmp: Path) -> Path:
    from PIL import Image

    p = tmp / "boxes.jpg"
    Image.new("RGB", (640, 480), (150, 110, 60)).save(p, "JPEG")
    return p


def test_resident_reports_operator_dispatches_leader_resolves_resident_rates_dissatisfied(
        server: ApiServer, browser: Any, shots: Path, tmp_path: Path) -> None:
    res_ctx = _context(browser, PHONE, has_touch=True, is_mobile=True)
    res = res_ctx.new_page()
    res_errors = _errors(res)
    res.goto(server.url + "/r/")
    res.wait_for_selector("#report:not([hidden]) #category option[value=resident_report]", state="attached")
    res.select_option("#category", "resident_report")
    # where: a tap on the site plan at the square (140, 127) m of the 200 x 140 m plan
    res.click("#plan-pick summary")
    res.wait_for_function("() => document.querySelector('#plan').naturalWidth > 0")
    box = res.locator("#plan").bounding_box()
    assert box is not None
    res.click("#plan", position={"x": box["width"] * 140 / 200, "y": box["height"] * (1 - 127 / 140)})
    assert res.is_visible("#plan-dot")
    res.fill("#text", "中心广场晚上有人大声放音乐，影响休息")
    res.set_input_files("#photos", str(_photo(tmp_path)))
    res.fill("#phone", "13800138000")
    res.screenshot(path=str(shots / "resident_report.png"))
    res.click("#submit")
    res.wait_for_selector("#done:not([hidden])")
    code = res.text_content("#done-code") or ""
    assert re.fullmatch(r"[2-9A-Z]{8}", code), code

    op_ctx = _context(browser, DESK)
    op = op_ctx.new_page()
    op_errors = _errors(op)
    name, pw, _ = server.account("operator")
    _login(op, server.url + "/", name, pw)
    reps = httpx.get(f"{server.url}/api/resident-reports",
                     headers={"Authorization": f"Bearer {server.token('operator')}"}).json()
    inc_id = next(r["incident_id"] for r in reps if r["code"] == code)
    assert _incident(server, inc_id)["source"] == "resident"
    assert _incident(server, inc_id)["place"] == "square"
    assert [m["kind"] for m in _incident(server, inc_id)["media"]] == ["photo"]
    team_id = _operator_dispatch(op, inc_id)
    r = httpx.post(f"{server.url}/api/incidents/{inc_id}/notes", json={"note": "INTERNAL 内部备注 勿外传"},
                   headers={"Authorization": f"Bearer {server.token('operator')}"})
    assert r.status_code == 201, r.text

    leader, leader_pw = _leader_of(server, team_id)
    ph_ctx = _context(browser, PHONE, has_touch=True, is_mobile=True)
    ph = ph_ctx.new_page()
    ph_errors = _errors(ph)
    _login(ph, server.url + "/m/", leader, leader_pw)
    ph.click("#btn-accept")
    op.wait_for_selector(f".incident[data-id='{inc_id}'][data-state=accepted]")
    ph.click("#btn-arrive")
    op.wait_for_selector(f".incident[data-id='{inc_id}'][data-state=on_site]")
    ph.set_input_files("#photo", str(_photo(tmp_path)))
    ph.fill("#note", "已劝说停止")
    ph.click("#btn-resolve")
    op.wait_for_selector("#incident-panel #panel-state.state-resolved")

    # the resident follows the link: the public steps, no names, no notes
    res.click("#done-link")
    res.wait_for_selector("#status:not([hidden]) #rate:not([hidden])")
    assert res.text_content("#st-state") == "已办结"
    steps = res.eval_on_selector_all("#st-timeline li", "els => els.map((e) => e.dataset.step)")
    assert steps == ["opened", "dispatch", "accept", "arrive", "resolve"]
    page_text = res.text_content("#status") or ""
    for secret in (leader, name, "已劝说停止", "INTERNAL", "13800138000"):
        assert secret not in page_text, secret
    res.screenshot(path=str(shots / "resident_status.png"))
    res.check("#rate input[value=dissatisfied]")
    res.click("#rate-submit")
    assert "原因" in (res.wait_for_selector("#rate-error:not(:empty)").text_content() or "")
    res.fill("#rate-comment", "晚上还是很吵")
    res.click("#rate-submit")
    res.wait_for_function("() => document.querySelector('#st-state').textContent === '重新办理'")
    assert res.is_hidden("#rate")
    steps = res.eval_on_selector_all("#st-timeline li", "els => els.map((e) => e.dataset.step)")
    assert steps[-2:] == ["rated", "dissatisfied"]

    # the control room sees it reopened, waiting for a new dispatch, with the resident's reason
    op.wait_for_selector("#incident-panel #panel-state.state-reopened")
    op.wait_for_selector("#incident-panel .act-dispatch")
    detail = _incident(server, inc_id)
    assert detail["state"] == "reopened" and detail["team_id"] is None
    assert detail["timeline"][-1]["reason"] == "群众不满意: 晚上还是很吵"
    assert "dispatch" in detail["allowed_actions"]
    assert not res_errors and not op_errors and not ph_errors, (res_errors, op_errors, ph_errors)
    for c in (res_ctx, op_ctx, ph_ctx):
        c.close()
