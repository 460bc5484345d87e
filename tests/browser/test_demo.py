"""`sharpeyes demo` as a user starts it: an incident appears on the control room page within 60 s, with its
snapshot, and its clip plays in the browser."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.harness import ROOT, free_port

pytestmark = pytest.mark.slow


def test_demo_shows_an_incident_with_snapshot_and_clip(browser: Any, tmp_path: Path, shots: Path) -> None:
    port = free_port()
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "api.cli.main", "demo", "--port", str(port), "--data",
                             str(tmp_path / "data"), "--simulate-teams", "--cameras", "3"],
                            cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        started = time.monotonic()
        ctx = browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN",
                                  service_workers="block")
        page = ctx.new_page()
        page.goto(url + "/")
        page.fill("#login-form input[name=username]", "operator")
        page.fill("#login-form input[name=password]", "operator-demo-1")
        page.click("#login-form button[type=submit]")
        page.select_option("#f-state", "all")
        page.wait_for_selector(".incident", timeout=60000)
        assert time.monotonic() - started <= 60
        assert page.is_visible("#sim-badge")
        # the hazard that matters: the e-bike wheeled into the corridor (composed clip, ~12 s into it)
        token = httpx.post(url + "/api/auth/login", json={"username": "operator",
                                                          "password": "operator-demo-1"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        ebike = None
        while ebike is None and time.monotonic() - started <= 60:
            incs = httpx.get(url + "/api/incidents", headers=headers).json()
            ebike = next((i for i in incs if i["event_type"] == "ebike_in_corridor"), None)
            time.sleep(1)
        assert ebike is not None, "no ebike_in_corridor incident within 60 s"
        page.click(f".incident[data-id='{ebike['id']}']")
        page.wait_for_selector("#incident-panel img.snapshot", timeout=30000)
        page.wait_for_function(
            "() => { const v = document.querySelector('#incident-panel video');"
            " return v && v.readyState >= 2 && v.videoWidth > 0 && !v.paused; }",
            timeout=60000,
        )
        # the clips loop as live streams: every camera stays online, slow or not
        page.wait_for_function("() => document.querySelectorAll('.cam[data-state=online]').length === 3",
                               timeout=20000)
        time.sleep(3)   # let the camera wall fill in
        assert page.locator(".cam[data-state=offline]").count() == 0
        page.screenshot(path=str(shots / "demo_control_room.png"))
        ctx.close()
    finally:
        proc.terminate()
        proc.wait(20)
