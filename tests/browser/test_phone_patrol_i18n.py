"""The leader's patrol tab (check-in at a checkpoint by code), the points tab, and the English switch on both
pages: in real Chromium against a real api process, at 360 x 740 for the phone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.harness import ApiServer, IngestWorker
from tests.browser.test_flow import DESK, PHONE, _context, _errors, _login

pytestmark = pytest.mark.slow

# Every text node a user can see that contains Chinese, with the element it sits in (to say where it is).
VISIBLE_CJK = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const e = n.parentElement;
    const text = n.textContent.trim();
    if (!text || !e || e.closest('script,style,[hidden]')) continue;
    if (e.tagName !== 'OPTION' && !e.checkVisibility()) continue;
    if (/[\\u3400-\\u9fff]/.test(text)) out.push([text, e.id || e.className || e.tagName]);
  }
  for (const i of document.querySelectorAll('input[placeholder]')) {
    if (i.checkVisibility() && /[\\u3400-\\u9fff]/.test(i.placeholder))
      out.push([i.placeholder, 'placeholder ' + (i.id || i.name)]);
  }
  return out;
}"""
# A key shown instead of its text (missing from i18n.json): `word.word` alone in a text node.
RAW_KEYS = """() => [...document.querySelectorAll('body *')]
  .filter((e) => !e.closest('[hidden],script,style'))
  .flatMap((e) => [...e.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()))
  .filter((s) => /^[a-z_]+\\.[a-z_]+$/.test(s))"""


def _data_names(server: ApiServer, token: str, cameras: bool = True) -> set[str]:
    """Names that come from the data (site, teams, cameras), in Chinese in any language: allowed in
    English."""
    h = {"Authorization": f"Bearer {token}"}
    site = httpx.get(f"{server.url}/api/site", headers=h).json()
    names = {site["name"], *(p.get("name") or "" for p in site["places"].values()),
             *(g.get("name") or "" for g in site["grids"].values())}
    names |= {b.get("name") or "" for b in (site.get("buildings") or {}).values()}
    teams = httpx.get(f"{server.url}/api/teams", headers=h).json()
    for tm in teams if isinstance(teams, list) else [teams]:
        # a team's pin on the map carries the first character of its name
        names |= {tm["name"], tm["name"][:1],
                  *(p.get("name") or "" for p in (tm.get("people") or {}).values())}
    if cameras:   # operators only
        names |= {c.get("name") or "" for c in httpx.get(f"{server.url}/api/cameras", headers=h).json()}
    names.add("雪亮")   # the product's name, the logo in both languages
    return {n for n in names if n}


def _only_data_left(found: list[list[str]], names: set[str]) -> list[list[str]]:
    """Chinese text that is not made only of data names (and separators, numbers, Latin)."""
    bad = []
    for text, where in found:
        if where == "lang" and text == "中文":   # the switch back names its language in that language
            continue
        rest = text
        for n in sorted(names, key=len, reverse=True):
            rest = rest.replace(n, "")
        if re.search(r"[\u3400-\u9fff]", rest):
            bad.append([text, where])
    return bad


def _switch_to_english(page: Any) -> None:
    assert page.text_content("#lang").strip() == "EN"
    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang.startsWith('en')")
    page.wait_for_timeout(500)   # one render


def _token_for(server: ApiServer, name: str, password: str) -> str:
    r = httpx.post(f"{server.url}/api/auth/login", json={"username": name, "password": password})
    r.raise_for_status()
    return str(r.json()["access_token"])


def test_leader_checks_in_by_code_and_sees_points(server: ApiServer, browser: Any, shots: Path) -> None:
    import patrol
    from api.settings import DEV_SECRET

    acc = next(a for a in server.seed.accounts if a.role == "leader")
    token = _token_for(server, acc.name, acc.password)
    h = {"Authorization": f"Bearer {token}"}
    route = httpx.get(f"{server.url}/api/patrol/route/mine", headers=h).json()
    stops = [s["place"] for s in route["stops"]]
    assert stops, route
    checkpoint = stops[0]
    before = httpx.get(f"{server.url}/api/points/mine", headers=h).json()

    ctx = _context(browser, PHONE, has_touch=True, is_mobile=True)
    ph = ctx.new_page()
    errors = _errors(ph)
    _login(ph, server.url + "/m/", acc.name, acc.password)
    ph.click(".tabs button[data-tab=patrol]")
    ph.wait_for_selector("#tab-patrol:not([hidden]) #route li")
    assert ph.locator("#route li").count() == len(stops)
    ph.select_option("#checkin-point", checkpoint)

    # a wrong code is refused and said so; the checkpoint stays to do
    right = patrol.checkin_code(DEV_SECRET, checkpoint)
    wrong = str((int(right) + 1) % 10**6).zfill(6)
    ph.fill("#checkin-code", wrong)
    ph.click("#checkin-form button[type=submit]")
    ph.wait_for_selector("#flash.error:not([hidden])")
    assert "done" not in (ph.get_attribute("#route li:first-child", "class") or "")

    # the right code: checked in, on the page and in the api
    ph.fill("#checkin-code", right)
    ph.click("#checkin-form button[type=submit]")
    ph.wait_for_selector("#route li.done")
    assert ph.locator("#route li.done").count() == 1
    assert checkpoint in httpx.get(f"{server.url}/api/patrol/route/mine", headers=h).json()["checked_in"]
    ph.evaluate("window.scrollTo(0, 0)")
    ph.screenshot(path=str(shots / "phone_patrol.png"), full_page=True)

    # the points tab: the check-in earned points, shown by the member's name with what it was for
    after = httpx.get(f"{server.url}/api/points/mine", headers=h).json()
    assert len(after["history"]) == len(before["history"]) + 1
    entry = max(after["history"], key=lambda e: e["seq"])
    assert entry["kind"] == "checkin" and entry["delta"] > 0
    ph.click(".tabs button[data-tab=points]")
    ph.wait_for_selector(f"#points-balance .bal[data-person='{entry['person']}']")
    team = httpx.get(f"{server.url}/api/teams/mine", headers=h).json()
    person_name = team["people"][entry["person"]]["name"]
    bal = ph.locator(f"#points-balance .bal[data-person='{entry['person']}']")
    assert bal.locator("span").text_content() == person_name
    ph.wait_for_function("([sel, n]) => Number(document.querySelector(sel).textContent) === n",
                         arg=[f"#points-balance .bal[data-person='{entry['person']}'] strong",
                              after["balance"][entry["person"]]],
                         timeout=5000)
    first = ph.locator("#points-history li").first
    assert first.get_attribute("data-kind") == "checkin"
    text = first.text_content()
    assert person_name in text and "巡查打卡" in text and f"+{entry['delta']}" in text
    assert "undefined" not in ph.text_content("#tab-points")
    ph.screenshot(path=str(shots / "phone_points.png"))
    # nothing wider than the phone
    assert ph.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert not errors, errors
    ctx.close()


def test_english_switch_changes_every_text(server: ApiServer, browser: Any, shots: Path) -> None:
    worker = IngestWorker(server, camera="en_cam", place="square")
    worker.register()
    worker.heartbeat()
    inc_id = worker.event("crowd")["incidents"][0]

    # control room, an incident open in the panel
    op_ctx = _context(browser, DESK)
    op = op_ctx.new_page()
    op_errors = _errors(op)
    name, pw, _ = server.account("operator")
    _login(op, server.url + "/", name, pw)
    op.click(f".incident[data-id='{inc_id}']")
    op.wait_for_selector("#incident-panel .timeline li")
    op.wait_for_selector("#incident-panel .proposal, #incident-panel .actions")
    names = _data_names(server, server.token("operator"))
    assert op.evaluate(VISIBLE_CJK), "the page should start in Chinese"
    _switch_to_english(op)
    assert op.text_content("#lang").strip() == "中文"
    left = _only_data_left(op.evaluate(VISIBLE_CJK), names)
    assert left == [], left
    assert op.evaluate(RAW_KEYS) == []
    op.screenshot(path=str(shots / "control_room_en.png"))
    assert not op_errors, op_errors
    op_ctx.close()

    # phone: the task (dispatched to a team first), patrol and points tabs
    r = httpx.get(f"{server.url}/api/incidents/{inc_id}/proposal",
                  headers={"Authorization": f"Bearer {server.token('operator')}"})
    team_id = r.json()[0]["team_id"]
    httpx.post(f"{server.url}/api/incidents/{inc_id}/actions", json={"action": "dispatch",
                                                                     "team_id": team_id},
               headers={"Authorization": f"Bearer {server.token('operator')}"}).raise_for_status()
    key = next(k for k, v in server.seed.team_ids.items() if v == team_id)
    acc = next(a for a in server.seed.accounts if a.team == key)
    ph_ctx = _context(browser, PHONE, has_touch=True, is_mobile=True)
    ph = ph_ctx.new_page()
    ph_errors = _errors(ph)
    _login(ph, server.url + "/m/", acc.name, acc.password)
    ph.wait_for_selector("#btn-accept")
    names |= _data_names(server, _token_for(server, acc.name, acc.password), cameras=False)
    _switch_to_english(ph)
    for tab in ("task", "patrol", "points"):
        ph.click(f".tabs button[data-tab={tab}]")
        ph.wait_for_selector(f"#tab-{tab}:not([hidden])")
        ph.wait_for_timeout(300)
        left = _only_data_left(ph.evaluate(VISIBLE_CJK), names)
        assert left == [], (tab, left)
        assert ph.evaluate(RAW_KEYS) == [], tab
        assert ph.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], tab
        if tab == "task":
            ph.screenshot(path=str(shots / "phone_task_en.png"))
    # and back: the choice is kept across a reload
    ph.reload()
    ph.wait_for_selector("#app:not([hidden])")
    assert ph.text_content("#lang").strip() == "中文"
    assert not ph_errors, ph_errors
    ph_ctx.close()
