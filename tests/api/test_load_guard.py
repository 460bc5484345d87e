"""Availability under refused load, against a real server process on SQLite and PostgreSQL: /api/health
answers within 1 s during 100 concurrent failed logins, 60 concurrent 403s and a 100 MB upload, and none of
those requests is answered 500 or 503 (the pool is never exhausted)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from api.services.accounts import make_token
from api.settings import DEV_SECRET
from tests.api.conftest import Harness, build, event
from tests.api.servers import free_port

pytestmark = pytest.mark.slow
HEALTH_WITHIN_S = 1.0

PROBE = """
import json, sys, threading, time, httpx
url, min_s = sys.argv[1], float(sys.argv[2])
over = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), over.set()), daemon=True).start()
lat, bad, t_end = [], [], time.monotonic() + min_s
with httpx.Client(base_url=url, timeout=30) as c:
    print("ready", flush=True)
    while not over.is_set() or time.monotonic() < t_end:
        t0 = time.monotonic()
        r = c.get("/api/health")
        lat.append(time.monotonic() - t0)
        if r.status_code != 200:
            bad.append(f"{r.status_code} {r.text[:200]}")
        time.sleep(0.2)
        if time.monotonic() > t_end + 20:
            break
print(json.dumps({"lat": lat, "bad": bad}))
"""

SERVER = """
import sys, uvicorn
from api.app import create_app
from api.settings import Settings
from api.http_server import server_config
app = create_app(Settings(dev=True, db_url=sys.argv[1], media_dir=sys.argv[2],
                          login_failures_per_address=1000))
uvicorn.Server(server_config(app, "127.0.0.1", int(sys.argv[3]), log_level="warning")).run()
"""


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Harness]]:
    h = build(db_url, tmp_path)   # migrated and seeded (users, teams, a worker key)
    h.ctx.engine.dispose()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, db_url, str(tmp_path / "media"), str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:   # a server that did not start in time is killed too, not left behind
        while True:
            try:
                if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
            time.sleep(0.2)
        yield url, h
    finally:
        proc.kill()   # queued sign-ins would hold a graceful shutdown for a while
        proc.wait(10)


@contextmanager
def _health_probe(url: str, min_s: float) -> Iterator[list[float]]:
    """Latencies of /api/health, asked every 0.2 s by a monitor of its own (another process, as a real one is:
    the load generator's event loop and heap do not count against the server) from the moment the block
    starts until it ends, and for at least min_s."""
    proc = subprocess.Popen([sys.executable, "-c", PROBE, url, str(min_s)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", "the health probe did not start"
    lat: list[float] = []
    try:
        yield lat
    finally:
        out, _ = proc.communicate("", timeout=60)   # stdin closed: the load is over
    found = json.loads(out)
    assert not found["bad"], f"health answered {found['bad']}"
    lat.extend(found["lat"])


def test_health_during_100_concurrent_failed_logins(server: tuple[str, Harness]) -> None:
    url, _ = server

    async def main() -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=120,
                                     limits=httpx.Limits(max_connections=200)) as c:
            async def burst() -> list[int]:
                rs = await asyncio.gather(*[c.post("/api/auth/login", json={"username": f"nobody{i}",
                                                                             "password": "wrong-password"})
                                            for i in range(100)])
                return [r.status_code for r in rs]

            load = asyncio.ensure_future(burst())
            await asyncio.sleep(0.3)
            await asyncio.wait({load}, timeout=26.0)
            load.cancel()
            return await load if load.done() and not load.cancelled() else []

    with _health_probe(url, min_s=6.0) as lat:
        codes = asyncio.run(main())
    assert max(lat) < HEALTH_WITHIN_S, f"health took {max(lat):.2f} s"
    assert not [c for c in codes if c >= 500 and c != 503], codes


def test_health_during_60_concurrent_refused_requests(server: tuple[str, Harness]) -> None:
    url, h = server
    lead = make_token(DEV_SECRET, 3, "leader", h.teams["t1"], 3600)   # lead1 (seeded third)

    async def main() -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=120,
                                     limits=httpx.Limits(max_connections=200)) as c:
            async def burst() -> list[int]:
                codes: list[int] = []
                for _ in range(3):
                    auth = {"Authorization": f"Bearer {lead}"}
                    rs = await asyncio.gather(*[c.get("/api/users", headers=auth) for _ in range(60)])
                    codes += [r.status_code for r in rs]
                return codes

            return await burst()

    with _health_probe(url, min_s=2.0) as lat:
        codes = asyncio.run(main())
    assert set(codes) == {403}, sorted(set(codes))
    assert max(lat) < HEALTH_WITHIN_S, f"health took {max(lat):.2f} s"


def test_health_during_100_mb_upload(server: tuple[str, Harness]) -> None:
    url, h = server
    wk = {"X-API-Key": h.worker_key}
    with httpx.Client(base_url=url, timeout=30) as c:
        assert c.post("/api/ingest/cameras", headers=wk, json=[{"id": "cam1", "name": "c", "place": None,
                                                                 "zones": {}}]).status_code == 200
        assert c.post("/api/ingest/events", headers=wk, json=event("big")).status_code == 200
    head = (b'--B\r\nContent-Disposition: form-data; name="event_id"\r\n\r\nbig\r\n'
            b'--B\r\nContent-Disposition: form-data; name="kind"\r\n\r\nclip\r\n'
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="c.mp4"\r\n'
            b"Content-Type: video/mp4\r\n\r\n")
    tail = b"\r\n--B--\r\n"
    size = 100 * 2**20

    async def body() -> AsyncIterator[bytes]:
        yield head + b"\x00\x00\x00\x18ftypisom" + b"\x00" * (2**20 - 12)
        for _ in range(99):
            yield b"\x00" * 2**20
        yield tail

    async def main() -> int:
        async with httpx.AsyncClient(base_url=url, timeout=120) as c:
            async def upload() -> int:
                r = await c.post("/api/ingest/media", content=body(), headers={
                    **wk, "Content-Type": "multipart/form-data; boundary=B",
                    "Content-Length": str(len(head) + size + len(tail))})
                return r.status_code

            return await upload()

    with _health_probe(url, min_s=2.0) as lat:
        code = asyncio.run(main())
    assert code < 500, code
    assert max(lat) < HEALTH_WITHIN_S, f"health took {max(lat):.2f} s"
