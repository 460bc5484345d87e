"""The teams page in real Chromium against a real api process: an admin changes a team's members, leader,
skills and night shift and the api holds the change; a team the server refuses (a leader who is not a member,
a timezone that does not exist) shows the server's reason and nothing changes; a new team is added; an
operator sees the refusal, not a form that seems to work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.harness import ApiServer
from tests.browser.test_flow import DESK, _context, _errors, _login

pytestmark = pytest.mark.slow


def _team(server: ApiServer, key: str) -> dict[str, Any]:
    h = {"Authorization": f"Bearer {server.token('admin')}"}
    return next(t for t in httpx.get(f"{server.url}/api/teams", headers=h).json() if t["key"] == key)


def test_admin_edits_a_team_and_the_server_judges_it(server: ApiServer, browser: Any, shots: Path) -> None:
    t1 = _team(server, "t1")
    ctx = _context(browser, DESK)
    page = ctx.new_page()
    errors = _errors(page)
    name, pw, _ = server.account("admin")
    _login(page, server.url + "/", name, pw)
    page.click("a[href='/teams/']")
    page.click(f"#teams tbody tr[data-id='{t1['id']}'] button.edit")
    assert page.input_value("#t-key") == "t1" and page.is_disabled("#t-key")
    assert page.input_value("#t-name") == t1["name"]

    # a new member with a phone, the leader handed to a volunteer, a skill added, a night shift
    members = page.input_value("#t-members") + "\nv_new 钱多多 13800000000"
    page.fill("#t-members", members)
    page.select_option("#t-leader", "v_sun")
    page.fill("#t-skills", "fire_safety mediation first_aid")
    page.fill("#t-roster", "mon,tue,wed,thu,fri 19:00-07:00 次日")
    page.click("#t-save")
    page.wait_for_selector("#t-result:has-text('已保存')")
    row = page.wait_for_selector(f"#teams tbody tr[data-id='{t1['id']}']:has-text('钱多多')")
    assert "孙建国" in (row.text_content() or "")           # v_sun leads now
    assert "1号楼单元门" in (row.text_content() or "")      # the base by its name on the site (b1_entrance)
    assert page.locator("#places option[value='b1_entrance']").count() == 1
    page.screenshot(path=str(shots / "teams_edited.png"))
    now = _team(server, "t1")
    assert now["leader"] == "v_sun" and "v_new" in now["members"]
    assert now["people"]["v_new"] == {"name": "钱多多", "phone": "13800000000"}
    assert now["people"]["gw_zhang"]["role"] == "grid_worker"     # what the page does not show is kept
    assert now["skills"] == ["fire_safety", "mediation", "first_aid"]
    assert now["roster"] == [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "19:00", "end": "07:00",
                              "crosses_midnight": True}]

    # refused by the server: its reason is shown, the team is as it was
    page.fill("#t-timezone", "Mars/Phobos")
    page.click("#t-save")
    bad = page.wait_for_selector("#t-result.bad").text_content() or ""
    assert "未保存" in bad and "Mars/Phobos" in bad
    page.fill("#t-timezone", "Asia/Shanghai")
    page.fill("#t-roster", "mon 19:00-07:00")                    # ends before it starts, not marked 次日
    page.click("#t-save")
    page.wait_for_selector("#t-result.bad:has-text('roster')")
    assert _team(server, "t1") == now

    # a new team
    page.click("#new")
    assert not page.is_disabled("#t-key")
    page.fill("#t-key", "t9")
    page.fill("#t-name", "第九巡逻队")
    page.fill("#t-members", "v_qian 钱七\nv_zhu 朱八")
    page.select_option("#t-leader", "v_zhu")
    page.fill("#t-roster", "sat,sun 08:00-20:00")
    page.click("#t-save")
    page.wait_for_selector("#teams tbody tr:has-text('第九巡逻队')")
    t9 = _team(server, "t9")
    assert t9["leader"] == "v_zhu" and t9["members"] == ["v_qian", "v_zhu"]
    assert not errors, errors
    ctx.close()

    # an operator may look at the page but not change a team: the server's refusal is on the page
    ctx = _context(browser, DESK)
    page = ctx.new_page()
    name, pw, _ = server.account("operator")
    _login(page, server.url + "/", name, pw)
    page.goto(server.url + "/teams/")
    page.click(f"#teams tbody tr[data-id='{t1['id']}'] button.edit")
    page.fill("#t-name", "改名")
    page.click("#t-save")
    page.wait_for_selector("#t-result.bad")
    assert _team(server, "t1")["name"] == now["name"]
    ctx.close()
