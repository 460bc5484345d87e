"""Notifications in real Chromium against a real api process (notifier every 0.2 s, 2 attempts): an admin
subscribes a signed webhook on the page; the receiver is down, so the first step's notification goes dead;
the page lists it; the receiver comes up, the admin resends it, and the receiver gets it once, signed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.harness import ApiServer, free_port
from tests.browser.test_flow import DESK, _context, _errors, _login

pytestmark = pytest.mark.slow


class FastNotify(ApiServer):
    def env(self) -> dict[str, str]:
        return {**super().env(), "SHARPEYES_NOTIFY_INTERVAL_S": "0.2", "SHARPEYES_NOTIFY_BACKOFF_S": "0.1",
                "SHARPEYES_NOTIFY_MAX_ATTEMPTS": "2"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    srv = FastNotify(tmp_path_factory.mktemp("api"))
    srv.prepare()
    srv.start()
    yield srv
    srv.stop()


def test_admin_subscribes_sees_a_dead_letter_and_resends_it(server: ApiServer, browser: Any,
                                                            shots: Path) -> None:
    port = free_port()      # nobody listens here yet: the receiver is down
    ctx = _context(browser, DESK)
    page = ctx.new_page()
    errors = _errors(page)
    name, pw, _ = server.account("admin")
    _login(page, server.url + "/", name, pw)
    page.click("a[href='/notify/']")
    page.fill("#s-name", "网格平台")
    page.select_option("#s-channel", "webhook")
    page.fill("#s-target", f"http://127.0.0.1:{port}/hook")
    page.click("#add button[type=submit]")
    secret = (page.wait_for_selector("#s-result:has-text('whsec_')").text_content() or "").split("：")[-1]
    assert secret.startswith("whsec_")
    page.wait_for_selector("#subs tbody tr:has-text('网格平台')")
    time.sleep(1.0)          # the notifier starts its cursor: steps from now on are sent

    op_h = {"Authorization": f"Bearer {server.token('operator')}"}
    inc = httpx.post(f"{server.url}/api/incidents", headers=op_h,
                     json={"title": "测试通知", "category": "crowd"})
    assert inc.status_code == 201
    admin_h = {"Authorization": f"Bearer {server.token('admin')}"}
    for _ in range(100):
        dead = httpx.get(f"{server.url}/api/notifications?state=dead", headers=admin_h).json()
        if dead:
            break
        time.sleep(0.2)
    assert len(dead) >= 1 and dead[0]["attempts"] == 2
    page.reload()
    row = page.wait_for_selector(f"#dead tbody tr[data-id='{dead[-1]['id']}']")
    assert "Connect" in (row.text_content() or "")
    page.screenshot(path=str(shots / "notify_dead_letters.png"))

    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:   # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    recv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=recv.serve_forever, daemon=True).start()
    try:
        for d in dead:
            page.click(f"#dead tbody tr[data-id='{d['id']}'] button")
            page.wait_for_selector(f"#dead tbody tr[data-id='{d['id']}']", state="detached")
        end = time.monotonic() + 20
        while len(got) < len(dead) and time.monotonic() < end:
            time.sleep(0.2)
        time.sleep(1.0)
        assert len(got) == len(dead)           # once each
        h = got[0]["headers"]
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + got[0]["body"]
        want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        assert h["webhook-signature"] == "v1," + want
        assert h["webhook-id"] == f"msg_sharpeyes_{dead[0]['id']}"
    finally:
        recv.shutdown()
        recv.server_close()
    assert not errors, errors
    ctx.close()
