"""Security configuration: no placeholder secret, a demo that stays on loopback, the login limit per address,
X-Forwarded-For believed only from trusted proxies, and the websocket's documented close code 4401 over a
real server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.errors import ApiError
from api.http_server import server_config
from api.services.accounts import LoginLimiter
from api.settings import Settings
from tests.api.conftest import Harness, build
from tests.api.servers import ServerThread, free_port


@pytest.mark.parametrize("secret", ["change-me-to-a-long-random-string", "dev-only-secret-change-me",
                                    "CHANGEME-please-1234567890"])
def test_placeholder_secret_refused_at_start_up(secret: str) -> None:
    with pytest.raises(ApiError, match="SHARPEYES_SECRET_KEY"):
        Settings(secret_key=secret)


def test_demo_refuses_a_non_loopback_host(tmp_path: Path) -> None:
    from api.demo.run import run_demo

    with pytest.raises(ApiError, match="127.0.0.1 only"):
        run_demo(host="0.0.0.0", data=tmp_path, worker=False)


def test_a_demo_database_is_refused_with_a_real_secret(tmp_path: Path) -> None:
    """`sharpeyes demo` marks its database; outside --dev the api refuses to start on it (the demo accounts
    have published passwords), while a database without the mark starts with the same secret."""
    from api.app import create_app
    from api.demo.run import ADMIN, seed_demo

    real = "k8Qv3Zp1Lw6Yt0Rj5Nc2Hs9Bx4Mf7Ga"
    demo_db = f"sqlite:///{tmp_path / 'demo.db'}"
    demo = create_app(Settings(dev=True, db_url=demo_db, media_dir=tmp_path / "media"))
    seed = seed_demo(demo.state.ctx.sessions)
    assert any(a.name == ADMIN[0] for a in seed.accounts)
    seed_demo(demo.state.ctx.sessions)   # a restarted demo keeps one mark and keeps working
    create_app(Settings(dev=True, db_url=demo_db, media_dir=tmp_path / "media"))
    with pytest.raises(ApiError, match=r"made by `sharpeyes demo`.*fresh database"):
        create_app(Settings(secret_key=real, db_url=demo_db, media_dir=tmp_path / "media"))
    create_app(Settings(secret_key=real, db_url=f"sqlite:///{tmp_path / 'real.db'}",
                        media_dir=tmp_path / "media"))


def test_login_limited_per_address_across_user_names() -> None:
    lim = LoginLimiter(limit=10, per_address=30)
    for i in range(30):
        assert lim.retry_after("10.0.0.1", f"user{i}") == 0
        lim.failed("10.0.0.1", f"user{i}")
    assert lim.retry_after("10.0.0.1", "someone-else") > 0      # a spray over 30 accounts is stopped
    assert lim.retry_after("10.0.0.2", "someone-else") == 0     # another address is not


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_account_lockout_backs_off_from_any_address() -> None:
    clock = FakeClock()
    lim = LoginLimiter(limit=1000, per_address=1000, account_after=3, account_max_s=60, clock=clock)
    for i in range(3):      # three addresses, one account: the per-address limits never see it
        assert lim.retry_after(f"10.0.0.{i}", "admin") == 0
        lim.failed(f"10.0.0.{i}", "admin")
    waits = []
    for i in range(3, 12):
        wait = lim.retry_after(f"10.0.1.{i}", "admin")    # a fresh address waits too
        assert wait > 0 and lim.retry_after(f"10.0.1.{i}", "someone-else") == 0
        waits.append(wait)
        clock.now += wait + 0.01
        assert lim.retry_after(f"10.0.1.{i}", "admin") == 0
        lim.failed(f"10.0.1.{i}", "admin")
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]     # 2^k, up to account_max_s
    lim.succeeded("10.0.0.9", "admin")                  # the right password clears the account
    assert lim.retry_after("10.0.2.1", "admin") == 0
    lim.failed("10.0.2.1", "admin")
    assert lim.retry_after("10.0.2.1", "admin") == 0    # counting starts again from one


def test_account_lockout_is_forgotten_after_a_quiet_hour() -> None:
    clock = FakeClock()
    lim = LoginLimiter(limit=1000, per_address=1000, account_after=2, clock=clock)
    for _ in range(5):
        clock.now += 100
        lim.failed("10.0.0.1", "op")
    assert lim.retry_after("10.0.0.1", "op") > 0
    clock.now += 3601
    assert lim.retry_after("10.0.0.1", "op") == 0
    lim.failed("10.0.0.1", "op")
    assert lim.retry_after("10.0.0.1", "op") == 0       # one failure after the quiet hour: no wait


def test_account_lockout_refuses_the_right_password_until_the_backoff_passes(tmp_path: Path) -> None:
    from tests.api.conftest import PASSWORD

    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, login_lockout_after=3,
              login_attempts_per_minute=100)
    clock = FakeClock()
    h.ctx.limiter.clock = clock

    def login(name: str, password: str) -> httpx.Response:
        return h.client.post("/api/auth/login", json={"username": name, "password": password})

    with h.client:
        for _ in range(3):
            clock.now += 0.1
            assert login("op", "wrong").status_code == 401
        r = login("op", PASSWORD)
        assert r.status_code == 429 and r.headers["Retry-After"] == "2"      # 3rd failure: 1 s
        assert "try again in" in r.json()["detail"]
        assert login("admin", PASSWORD).status_code == 200      # another account is not locked
        clock.now += 1.1
        assert login("op", "wrong").status_code == 401
        r = login("op", PASSWORD)
        assert r.status_code == 429 and r.headers["Retry-After"] == "3"   # 4th failure: 2 s
        clock.now += 2.1
        assert login("op", PASSWORD).status_code == 200


def test_spray_over_many_accounts_gets_429(api: Harness) -> None:
    codes = [api.client.post("/api/auth/login", json={"username": f"u{i}", "password": "wrong"}).status_code
             for i in range(32)]
    assert codes[:30] == [401] * 30 and codes[30:] == [429, 429]


def test_forwarded_for_believed_only_from_trusted_proxies() -> None:
    plain = server_config(object(), "127.0.0.1", 1)
    assert plain.proxy_headers is False
    trusted = server_config(object(), "127.0.0.1", 1, trusted_proxies="10.0.0.5, 10.0.0.6")
    assert trusted.proxy_headers is True and trusted.forwarded_allow_ips == ["10.0.0.5", "10.0.0.6"]


def test_rotating_forwarded_for_does_not_bypass_the_login_limit(tmp_path: Path) -> None:
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    port = free_port()
    server = uvicorn.Server(server_config(h.app, "127.0.0.1", port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/api/auth/login"
    try:
        codes = [httpx.post(url, headers={"X-Forwarded-For": f"1.2.3.{i}"},
                            json={"username": "admin", "password": "wrong"}, timeout=30).status_code
                 for i in range(12)]
    finally:
        server.should_exit = True
        t.join(10)
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]


def test_websocket_bad_token_closes_4401_over_a_real_server(tmp_path: Path) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    with ServerThread(h.app) as srv:
        ws_url = srv.url.replace("http", "ws") + "/ws?token=nope"
        with connect(ws_url, open_timeout=10) as ws, pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4401


def _login(api: Harness, name: str, password: str = "correct-horse-battery") -> dict[str, str]:
    r = api.client.post("/api/auth/login", json={"username": name, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_logout_revokes_every_token_of_the_user(api: Harness) -> None:
    a, b = _login(api, "op"), _login(api, "op")
    assert api.client.get("/api/auth/me", headers=a).status_code == 200
    assert api.client.post("/api/auth/logout", headers=a).status_code == 204
    assert api.client.get("/api/auth/me", headers=a).status_code == 401
    assert api.client.get("/api/auth/me", headers=b).status_code == 401
    assert api.client.get("/api/auth/me", headers=_login(api, "op")).status_code == 200


def test_password_change_needs_the_old_one_and_revokes_tokens(api: Harness) -> None:
    t = _login(api, "lead1")
    r = api.client.post("/api/auth/password", headers=t,
                        json={"old_password": "wrong", "new_password": "x" * 8})
    assert r.status_code == 422
    r = api.client.post("/api/auth/password", headers=t,
                        json={"old_password": "correct-horse-battery", "new_password": "new-password-1"})
    assert r.status_code == 204
    assert api.client.get("/api/auth/me", headers=t).status_code == 401
    assert api.client.post("/api/auth/login", json={"username": "lead1",
                                                    "password": "correct-horse-battery"}).status_code == 401
    _login(api, "lead1", "new-password-1")


def test_admin_deactivates_a_user_and_its_tokens_stop(api: Harness) -> None:
    t = _login(api, "lead2")
    uid = api.client.get("/api/auth/me", headers=t).json()["id"]
    r = api.client.patch(f"/api/users/{uid}", headers=api.auth("admin"), json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert api.client.get("/api/auth/me", headers=t).status_code == 401
    assert api.client.post("/api/auth/login", json={"username": "lead2",
                                                    "password": "correct-horse-battery"}).status_code == 401
    assert api.client.patch(f"/api/users/{uid}", headers=t, json={"active": True}).status_code == 401


def test_query_token_only_for_reads(api: Harness) -> None:
    tok = api.tokens["op"]
    assert api.client.get(f"/api/incidents?token={tok}").status_code == 200
    assert api.client.post(f"/api/incidents?token={tok}", json={"title": "x"}).status_code == 401


def test_cli_disables_a_user_and_sets_a_password(api: Harness) -> None:
    from api.cli.main import main

    url = str(api.ctx.engine.url.render_as_string(hide_password=False))
    t = _login(api, "op")
    assert main(["user", "disable", "op", "--db", url]) == 0
    assert api.client.get("/api/auth/me", headers=t).status_code == 401
    assert main(["user", "enable", "op", "--db", url]) == 0
    assert main(["user", "passwd", "op", "--password", "another-pass-9", "--db", url]) == 0
    _login(api, "op", "another-pass-9")
