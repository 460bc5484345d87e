"""Notifications through the real app to real HTTP receivers on 127.0.0.1: a 企业微信 robot, a 钉钉 robot that
checks its 加签, a Standard Webhooks receiver that checks the signature and fails twice first, and SMS. Each
receiver takes exactly one notification per incident step, in order; a dead notification is resent by an
admin. The receivers check the signatures from the specifications, not with the code under test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from api.db.models import utcnow
from tests.api.conftest import Harness, build

DING_SECRET = "SEC0123456789abcdef0123456789abcdef"
STEPS = ["opened", "dispatch", "accept", "arrive", "resolve", "close"]


class Receiver:
    """One HTTP receiver: records every request; answers `fail_first` requests with 500, then `ok_body`."""

    def __init__(self, kind: str, fail_first: int = 0, secret: str = "") -> None:
        self.kind, self.fail_first, self.secret = kind, fail_first, secret
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.bad: list[str] = []
        recv = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:   # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                req = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body}
                recv.requests.append(req)
                problem = recv.check(req)
                if problem:
                    recv.bad.append(problem)
                if len(recv.requests) <= recv.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                recv.accepted.append(req)
                answer = b"" if recv.kind == "webhook" else b'{"errcode":0,"errmsg":"ok"}'
                self.send_response(204 if recv.kind == "webhook" else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def check(self, req: dict[str, Any]) -> str:
        body = json.loads(req["body"])
        if self.kind == "wecom":
            ok = body.get("msgtype") == "markdown" and "#" in body["markdown"]["content"]
            return "" if ok else f"wecom body {body}"
        if self.kind == "dingtalk":
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(req["path"]).query)
            ts = q["timestamp"][0]
            want = base64.b64encode(hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(),
                                             hashlib.sha256).digest()).decode()
            fresh = abs(int(ts) / 1000 - time.time()) <= 3600
            if q["sign"][0] != want or not fresh or q["access_token"] != ["tok"]:
                return f"dingtalk sign {q}"
            return "" if body.get("msgtype") == "markdown" and body["markdown"]["title"] else f"ding {body}"
        h = req["headers"]
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + req["body"]
        want = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        fresh = abs(int(h["webhook-timestamp"]) - time.time()) <= 300
        if want not in h["webhook-signature"].split(" ") or not fresh:
            return f"webhook signature {h}"
        return ""

    def steps(self) -> list[str]:
        if self.kind == "wecom":
            return [json.loads(r["body"])["markdown"]["content"] for r in self.accepted]
        if self.kind == "dingtalk":
            return [json.loads(r["body"])["markdown"]["title"] for r in self.accepted]
        return [json.loads(r["body"])["data"]["step"] for r in self.accepted]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def quiet(db_url: str, tmp_path: Path) -> Iterator[Harness]:
    """The app with the notifier's own loop asleep: the test runs it, with its clock."""
    h = build(db_url, tmp_path, site=True, notify_interval_s=3600,
              notify_backoff_s=5, notify_max_attempts=3)
    with h.client:
        for name in ("admin", "op", "lead1"):
            h.login(name)
        yield h
    h.ctx.engine.dispose()


def subscribe(h: Harness, **body: Any) -> dict[str, Any]:
    r = h.client.post("/api/subscriptions", headers=h.auth("admin"), json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def walk(h: Harness) -> int:
    inc = h.client.post("/api/incidents", headers=h.auth("op"),
                        json={"title": "楼道堆物", "category": "stairwell_clutter",
                              "place": "p2"}).json()["id"]
    for who, action, extra in (("op", "dispatch", {"team_id": h.teams["t1"]}), ("lead1", "accept", {}),
                               ("lead1", "arrive", {}), ("lead1", "resolve", {}), ("op", "close", {})):
        r = h.client.post(f"/api/incidents/{inc}/actions", headers=h.auth(who),
                          json={"action": action, **extra})
        assert r.status_code == 200, r.text
    return int(inc)


def test_each_channel_gets_exactly_one_signed_notification_per_step(quiet: Harness) -> None:
    h = quiet
    wecom, ding = Receiver("wecom"), Receiver("dingtalk", secret=DING_SECRET)
    hook = Receiver("webhook", fail_first=2)
    try:
        subscribe(h, name="值班群", channel="wecom", target=wecom.url + "?key=k1")
        subscribe(h, name="钉钉群", channel="dingtalk", target=ding.url + "?access_token=tok",
                  secret=DING_SECRET)
        made = subscribe(h, name="网格平台", channel="webhook", target=hook.url, scope="grid",
                         scope_value="W")
        hook.secret = made["secret"]
        assert hook.secret.startswith("whsec_")
        subscribe(h, name="书记", channel="sms", target="13800138000", scope="category",
                  scope_value="stairwell_clutter")
        subscribe(h, name="别的网格", channel="sms", target="13900139000", scope="grid", scope_value="E")
        h.ctx.outbox.enqueue()     # the notifier starts from here
        walk(h)
        t0 = utcnow()
        for k in range(6):          # the webhook fails twice: 5 s, then 10 s later it is taken
            h.ctx.outbox.run_once(t0 + timedelta(seconds=30 * k))
        for r in (wecom, ding, hook):
            assert r.bad == [], r.bad
        assert len(wecom.accepted) == len(ding.accepted) == len(hook.accepted) == len(STEPS)
        assert hook.steps() == STEPS
        names = ["新事件", "已派单", "已接单", "已到场", "已办结", "已结案"]
        assert [next(n for n in names if n in s) for s in ding.steps()] == names
        assert [next(n for n in names if n in s) for s in wecom.steps()] == names
        assert len(hook.requests) == len(STEPS) + 2
        ids = [r["headers"]["webhook-id"] for r in hook.requests]
        assert ids[0] == ids[1] == ids[2] and len(set(ids)) == len(STEPS)   # a retry is the same message
        sms = h.ctx.sms.sent
        assert [p for p, _ in sms] == ["13800138000"] * len(STEPS)           # the other grid's phone: nothing
        # nothing more however often it runs, and a second enqueue of the same steps adds nothing
        h.ctx.outbox.run_once(t0 + timedelta(hours=2))
        with h.ctx.sessions() as s:
            from api.db.civic import NotifyCursor

            cur = s.get(NotifyCursor, 1)
            assert cur is not None
            cur.timeline_id = 0
            s.commit()
        h.ctx.outbox.run_once(t0 + timedelta(hours=3))
        assert len(wecom.requests) == len(ding.requests) == len(STEPS)
        assert len(hook.requests) == len(STEPS) + 2
        sent = h.client.get("/api/notifications?state=sent", headers=h.auth("admin")).json()
        assert len(sent) == 4 * len(STEPS)
    finally:
        for r in (wecom, ding, hook):
            r.stop()


def test_a_dead_notification_is_listed_and_resent_once(quiet: Harness) -> None:
    h = quiet
    hook = Receiver("webhook", fail_first=3)    # max_attempts 3: dead after the third
    try:
        hook.secret = subscribe(h, name="平台", channel="webhook", target=hook.url)["secret"]
        h.ctx.outbox.enqueue()
        h.client.post("/api/incidents", headers=h.auth("op"), json={"title": "x", "category": "crowd"})
        t0 = utcnow()
        for k in range(4):
            h.ctx.outbox.run_once(t0 + timedelta(seconds=60 * k))
        dead = h.client.get("/api/notifications?state=dead", headers=h.auth("admin")).json()
        assert len(dead) == 1 and dead[0]["attempts"] == 3 and "HTTP 500" in dead[0]["last_error"]
        assert h.client.get("/api/notifications?state=dead", headers=h.auth("op")).status_code == 403
        r = h.client.post(f"/api/notifications/{dead[0]['id']}/resend", headers=h.auth("admin"))
        assert r.status_code == 200 and r.json()["state"] == "pending"
        h.ctx.outbox.run_once(t0 + timedelta(seconds=600))
        h.ctx.outbox.run_once(t0 + timedelta(seconds=900))
        assert len(hook.accepted) == 1 and hook.bad == []
        assert h.client.get("/api/notifications?state=dead", headers=h.auth("admin")).json() == []
    finally:
        hook.stop()


@pytest.mark.parametrize("body, words", [
    ({"name": "x", "channel": "wecom", "target": "ftp://x"}, "http(s) URL"),
    ({"name": "x", "channel": "sms", "target": "http://x"}, "phone number"),
    ({"name": "x", "channel": "webhook", "target": "http://x", "secret": "whsec_!!"}, "base64"),
    ({"name": "x", "channel": "wecom", "target": "http://x", "scope": "grid"}, "needs a value"),
])
def test_bad_subscriptions_are_refused(quiet: Harness, body: dict[str, Any], words: str) -> None:
    r = quiet.client.post("/api/subscriptions", headers=quiet.auth("admin"), json=body)
    assert r.status_code == 422 and words in r.text, r.text
