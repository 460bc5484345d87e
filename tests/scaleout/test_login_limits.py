"""The failed sign-in limits shared by replicas through Redis (api/cluster/limiter_redis.py), on the real
Redis: what one replica counts, the other refuses; with Redis down each replica still limits on its own."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app, make_limiter
from api.cluster.limiter_redis import RedisLoginLimiter
from api.services.accounts import LoginLimiter
from api.settings import Settings
from tests.api.conftest import PASSWORD, build
from tests.scaleout.conftest import free_port_url

pytestmark = pytest.mark.slow


def pair(url: str, **kw: object) -> tuple[RedisLoginLimiter, RedisLoginLimiter]:
    return RedisLoginLimiter(url, 3, **kw), RedisLoginLimiter(url, 3, **kw)  # type: ignore[arg-type]


def test_failures_on_one_replica_are_refused_on_the_other(redis_url: str, unique: str) -> None:
    a, b = pair(redis_url, per_address=100, account_after=100)
    addr, name = f"10.0.0.1-{unique}", f"op-{unique}"
    a.failed(addr, name)
    b.failed(addr, name)
    assert a.retry_after(addr, name) == 0 and b.retry_after(addr, name) == 0
    a.failed(addr, name)                     # the third failure, on replica a
    wait = b.retry_after(addr, name)          # refused on replica b
    assert 55 < wait <= 60, wait
    assert b.retry_after(f"10.0.0.2-{unique}", name) == 0   # another address is not limited by it
    b.succeeded(addr, name)
    assert a.retry_after(addr, name) == 0


def test_a_spray_over_names_is_limited_per_address_across_replicas(redis_url: str, unique: str) -> None:
    a, b = pair(redis_url, per_address=4, account_after=100)
    addr = f"10.0.0.3-{unique}"
    for i in range(4):
        (a if i % 2 else b).failed(addr, f"user{i}-{unique}")
    assert a.retry_after(addr, f"fresh-{unique}") > 0
    assert b.retry_after(addr, f"fresh-{unique}") > 0


def test_account_backoff_counts_every_replica_and_address(redis_url: str, unique: str) -> None:
    a, b = pair(redis_url, per_address=100, account_after=2, account_max_s=8)
    name = f"leader-{unique}"
    a.failed(f"10.1.0.1-{unique}", name)
    b.failed(f"10.1.0.2-{unique}", name)     # two in a row, from two addresses on two replicas
    assert b.retry_after(f"10.1.0.9-{unique}", name) == pytest.approx(1.0, abs=0.2)   # 2^0
    a.failed(f"10.1.0.3-{unique}", name)
    assert a.retry_after(f"10.1.0.9-{unique}", name) == pytest.approx(2.0, abs=0.2)   # 2^1
    for i in range(6):
        b.failed(f"10.1.1.{i}-{unique}", name)
    assert a.retry_after(f"10.1.0.9-{unique}", name) == pytest.approx(8.0, abs=0.2)   # capped
    a.succeeded(f"10.1.0.9-{unique}", name)
    assert b.retry_after(f"10.1.0.9-{unique}", name) == 0


def test_redis_down_still_limits_in_this_replica(unique: str, caplog: pytest.LogCaptureFixture) -> None:
    lim = RedisLoginLimiter(free_port_url(), 3, timeout_s=0.2)
    addr, name = f"10.2.0.1-{unique}", f"op-{unique}"
    with caplog.at_level("WARNING", logger="api.cluster.limiter_redis"):
        for _ in range(3):
            assert lim.retry_after(addr, name) == 0
            lim.failed(addr, name)
        assert lim.retry_after(addr, name) > 0
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1, caplog.text   # said once per outage, not at every sign-in


def test_the_redis_bus_shares_the_limits_and_the_memory_bus_does_not(redis_url: str) -> None:
    shared = make_limiter(Settings(bus="redis", redis_url=redis_url, secret_key="x" * 40))
    assert isinstance(shared, RedisLoginLimiter) and shared.url == redis_url
    local = make_limiter(Settings(secret_key="x" * 40))
    assert type(local) is LoginLimiter


def test_two_api_replicas_on_the_redis_bus_refuse_a_guesser_together(tmp_path: Path, redis_url: str) -> None:
    """Over HTTP: two replicas of one site (one database, bus=redis). Three wrong passwords for lead1, spread
    over both, and the fourth try is refused on either, even with the right password."""
    settings = {"bus": "redis", "redis_url": redis_url, "login_attempts_per_minute": 3,
                "login_lockout_after": 100}
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, **settings)
    other = create_app(Settings(dev=True, db_url=f"sqlite:///{tmp_path / 'api.db'}",
                                media_dir=tmp_path / "media", **settings))   # type: ignore[arg-type]
    limiter = h.ctx.limiter
    assert isinstance(limiter, RedisLoginLimiter)
    r = redis.Redis.from_url(redis_url)
    r.delete(*limiter._keys("testclient", "lead1"))   # earlier runs on this Redis
    try:
        with h.client as c1, TestClient(other) as c2:
            for c in (c1, c2, c1):
                wrong = c.post("/api/auth/login", json={"username": "lead1", "password": "wrong"})
                assert wrong.status_code == 401, wrong.text
            for c in (c2, c1):
                refused = c.post("/api/auth/login", json={"username": "lead1", "password": PASSWORD})
                assert refused.status_code == 429, refused.text
                assert int(refused.headers["Retry-After"]) > 0
    finally:
        r.delete(*limiter._keys("testclient", "lead1"))
