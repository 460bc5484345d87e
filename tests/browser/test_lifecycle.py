"""One incident walked through every state on both pages (control room `/`, the leader's phone `/m/`): at each
state each page shows exactly the buttons the server allows its user, every kind of button gets clicked, and
the server refuses none of them. The incident has no place on the site, so there is no proposal: the control
room dispatches by picking a team."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.harness import ApiServer, clip_frames, jpeg
from tests.browser.test_flow import DESK, PHONE, _context, _errors, _login

pytestmark = pytest.mark.slow
ALL_ACTIONS = {"dispatch", "override", "accept", "decline", "arrive", "resolve", "close", "escalate",
               "false_alarm",
               "reopen"}
ALL_STATES = {"open", "dispatched", "accepted", "on_site", "declined", "escalated", "reopened", "resolved",
              "closed",
              "false_alarm"}


class Walk:
    def __init__(self, server: ApiServer, op: Any, ph: Any, inc: int, team: int, leader_token: str) -> None:
        self.server, self.op, self.ph, self.inc, self.team = server, op, ph, inc, team
        self.op_token, self.leader_token = server.token("operator"), leader_token
        self.clicked: set[str] = set()
        self.states: set[str] = set()

    def allowed(self, token: str) -> list[str]:
        r = httpx.get(f"{self.server.url}/api/incidents/{self.inc}",
                      headers={"Authorization": f"Bearer {token}"})
        if r.status_code == 404:      # not (or no longer) the leader's task
            return []
        r.raise_for_status()
        out: list[str] = r.json()["allowed_actions"]
        return out

    def state(self) -> str:
        r = httpx.get(f"{self.server.url}/api/incidents/{self.inc}",
                      headers={"Authorization": f"Bearer {self.op_token}"})
        return str(r.json()["state"])

    def check(self, state: str) -> None:
        """Both pages show `state` and exactly the buttons the server allows each of them."""
        end = time.monotonic() + 20
        while self.state() != state and time.monotonic() < end:  # the click's request may still be on its way
            time.sleep(0.2)
        assert self.state() == state
        self.states.add(state)
        self.op.wait_for_selector(f"#incident-panel #panel-state.state-{state}")
        want = sorted(self.allowed(self.op_token))
        self.op.wait_for_function(
            "want => JSON.stringify([...document.querySelectorAll('#incident-panel .act-buttons button')]"
            ".map((b) => b.className.replace('act-', '')).sort()) === JSON.stringify(want)", arg=want)
        mine = sorted(self.allowed(self.leader_token))
        if mine:
            self.ph.wait_for_selector(f"#task #task-state.state-{state}")
        self.ph.wait_for_function(
            "want => JSON.stringify([...document.querySelectorAll('#task button[id^=btn-]')]"
            ".map((b) => b.id.replace('btn-', '')).sort()) === JSON.stringify(want)", arg=mine)

    def operator(self, action: str, state: str, reason: str = "", team: bool = False) -> None:
        if reason:
            self.op.fill("#act-reason", reason)
        if team:
            self.op.select_option("#act-team", str(self.team))
        self.op.click(f"#incident-panel .act-buttons button.act-{action}")
        self.clicked.add(action)
        self.check(state)

    def leader(self, action: str, state: str, reason: str = "", photo: Path | None = None) -> None:
        if reason:
            self.ph.fill(f"#{action}-reason", reason)
        if photo is not None:
            self.ph.set_input_files("#photo", str(photo))
            self.ph.fill("#note", reason or "处置完毕")
        self.ph.click(f"#btn-{action}")
        self.clicked.add(action)
        self.check(state)


def test_every_state_on_both_pages_every_button_no_refusal(server: ApiServer, browser: Any,
                                                           tmp_path: Path) -> None:
    refusals: list[str] = []
    leader_acc = next(a for a in server.seed.accounts if a.role == "leader")
    team = server.seed.team_ids[leader_acc.team]
    r = httpx.post(f"{server.url}/api/incidents",
                   headers={"Authorization": f"Bearer {server.token('operator')}"},
                   json={"title": "楼下有人吵架", "description": "居民电话"})   # no place: no proposal
    r.raise_for_status()
    inc = int(r.json()["id"])
    photo = tmp_path / "scene.jpg"
    photo.write_bytes(jpeg(clip_frames(1)[0]))

    op_ctx, ph_ctx = _context(browser, DESK), _context(browser, PHONE, has_touch=True, is_mobile=True)
    op, ph = op_ctx.new_page(), ph_ctx.new_page()
    op_errors, ph_errors = _errors(op), _errors(ph)
    for page in (op, ph):
        page.on("response", lambda resp: refusals.append(f"{resp.status} {resp.url}")
                if "/actions" in resp.url and resp.status >= 400 else None)
    name, pw, _ = server.account("operator")
    _login(op, server.url + "/", name, pw)
    _login(ph, server.url + "/m/", leader_acc.name, leader_acc.password)
    r = httpx.post(f"{server.url}/api/auth/login", json={"username": leader_acc.name,
                                                         "password": leader_acc.password})
    walk = Walk(server, op, ph, inc, team, str(r.json()["access_token"]))
    op.click(f".incident[data-id='{inc}']")
    assert op.locator("#incident-panel .prop").count() == 0       # nothing proposed
    walk.check("open")

    walk.operator("dispatch", "dispatched", team=True)
    walk.leader("decline", "declined", reason="人手不够")
    walk.operator("escalate", "escalated")
    walk.operator("dispatch", "dispatched", team=True)
    walk.leader("accept", "accepted")
    walk.operator("escalate", "accepted")                          # flags and calls people; the team keeps it
    walk.operator("override", "dispatched", reason="改派", team=True)
    walk.leader("accept", "accepted")
    walk.leader("arrive", "on_site")
    walk.operator("escalate", "on_site")
    walk.leader("resolve", "resolved", photo=photo)
    walk.operator("reopen", "reopened", reason="居民又打电话")
    walk.operator("false_alarm", "false_alarm", reason="误报")
    walk.operator("close", "closed")

    assert walk.clicked == ALL_ACTIONS and walk.states == ALL_STATES
    assert not refusals, refusals
    assert not op_errors and not ph_errors, op_errors + ph_errors
    op_ctx.close()
    ph_ctx.close()
