"""Fixtures for the scale-out tests: the real Redis, PostgreSQL and Mosquitto on 127.0.0.1.

A test that needs a service that is not running is skipped with the reason, never passed silently;
CI machines start all three (ARCHITECTURE.md, developer facts).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

REDIS_URL = os.environ.get("SHARPEYES_TEST_REDIS", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get("SHARPEYES_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def need(port: int, what: str) -> None:
    if not port_open("127.0.0.1", port):
        pytest.skip(f"{what} is not running on 127.0.0.1:{port}")


@pytest.fixture
def redis_url() -> str:
    need(6379, "Redis")
    return REDIS_URL


@pytest.fixture
def pg_url() -> str:
    """The test database, migrated (the lease table is one of the api's migrations)."""
    need(5432, "PostgreSQL")
    from api.db.engine import make_engine, migrate

    engine = make_engine(PG_URL)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return PG_URL


@pytest.fixture
def mqtt_addr() -> tuple[str, int]:
    need(MQTT_PORT, "Mosquitto")
    return MQTT_HOST, MQTT_PORT


@pytest.fixture
def unique() -> Iterator[str]:
    """A name no other test run uses, so runs on one Redis / database do not see each other."""
    name = "t" + uuid.uuid4().hex[:10]
    yield name
    if port_open("127.0.0.1", 6379):
        import redis

        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match=f"sharpeyes:{name}:*", count=1000):
            r.delete(key)


def free_port_url() -> str:
    """A Redis URL where nothing listens (a Redis that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"
