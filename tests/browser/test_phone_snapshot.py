"""The phone page reloaded with no network (a leader in a basement or a lift): its shell comes from the
service worker, the task as the server last sent it, marked with its time, and a step taken then is queued
and sent when the network is back. Real Chromium (service worker on) against a real api process."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.browser.harness import ApiServer, IngestWorker
from tests.browser.test_flow import PHONE, _incident, _login

pytestmark = pytest.mark.slow


def _dispatch(server: ApiServer, inc_id: int) -> tuple[str, str]:
    """Dispatch the incident (as the operator, over the api) to a team with a leader account; that leader."""
    acc = next(a for a in server.seed.accounts if a.role == "leader" and a.team in server.seed.team_ids)
    r = httpx.post(f"{server.url}/api/incidents/{inc_id}/actions",
                   json={"action": "dispatch", "team_id": server.seed.team_ids[acc.team]},
                   headers={"Authorization": f"Bearer {server.token('operator')}"})
    r.raise_for_status()
    return acc.name, acc.password


def test_reload_without_api_shows_last_copy_and_queues(server: ApiServer, browser: Any) -> None:
    worker = IngestWorker(server, camera="stair_cam", place="b1_lobby")
    worker.register()
    worker.heartbeat()
    inc_id = worker.event("loitering")["incidents"][0]
    leader, pw = _dispatch(server, inc_id)

    ctx = browser.new_context(viewport=PHONE, locale="zh-CN", service_workers="allow", has_touch=True,
                              is_mobile=True)
    ctx.set_default_timeout(20000)
    ph = ctx.new_page()
    _login(ph, server.url + "/m/", leader, pw)
    ph.wait_for_selector("#btn-accept")
    assert ph.locator("#snapshot-note").is_hidden()   # live data: no note
    # the service worker holds the shell (it controls the page once installed)
    ph.wait_for_function("() => navigator.serviceWorker.controller !== null")

    ctx.set_offline(True)
    ph.reload()
    ph.wait_for_selector("#app:not([hidden])")
    ph.wait_for_selector("#btn-accept")   # the task, from the server's last copy
    assert ph.locator("#task-state").text_content() == "已派单"
    assert f"#{inc_id}" in ph.text_content("#task")
    note = ph.locator("#snapshot-note")
    note.wait_for(state="visible")
    assert "未连上服务器" in note.text_content()
    assert re.search(r"\d\d:\d\d:\d\d", note.text_content())   # the time of the copy

    # a step taken now is shown as the server will make it, queued, and sent once the api is back
    ph.click("#btn-accept")
    ph.wait_for_function("() => document.body.dataset.queued === '1'")
    assert ph.locator("#task-state").text_content() == "已接单"
    assert _incident(server, inc_id)["state"] == "dispatched"
    ctx.set_offline(False)
    deadline = time.monotonic() + 20
    while _incident(server, inc_id)["state"] != "accepted" and time.monotonic() < deadline:
        ph.wait_for_timeout(200)
    assert _incident(server, inc_id)["state"] == "accepted"
    ph.wait_for_function("() => document.body.dataset.queued === '0'")
    note.wait_for(state="hidden")   # live again

    # signing out forgets the copy: the next person on this phone sees none of it
    assert ph.evaluate("() => localStorage.getItem('se.m.snapshot')") is not None
    ph.click("#logout")
    ph.wait_for_selector("#login:not([hidden])")
    assert ph.evaluate("() => localStorage.getItem('se.m.snapshot')") is None
    ctx.close()
