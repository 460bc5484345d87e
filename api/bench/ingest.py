"""`sharpeyes bench api`: ingest throughput (single posts, batches) and ingest-to-websocket latency.

A real server process (`sharpeyes serve`) on a fresh database; the load comes from this process over
keep-alive HTTP/1.1 connections and real websocket clients. PostgreSQL URLs get a fresh database created
beside the one named, dropped at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from api.errors import ApiError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Conn:
    """A minimal keep-alive HTTP/1.1 client: the load generator must cost less CPU than the server."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"X-API-Key: {self.key}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(int(h.split(":", 1)[1]) for h in lines if h.lower().startswith("content-length"))
        await self.reader.readexactly(length)
        return status


def _event(eid: str, seq: int, lifecycle: str, zone: str, wall: float | None = None) -> dict[str, Any]:
    return {"id": eid, "lifecycle": lifecycle, "seq": seq, "camera": "bench_cam", "zone": zone,
            "event": "crowd",
            "rule": "crowd", "label": "person", "track_id": 1, "first_seen_s": 1.0, "start_s": 2.0,
            "end_s": 3.0 if lifecycle == "end" else None, "max_score": 0.7, "bbox": [1, 2, 3, 4], "count": 5,
            "wall_time": wall}


def _steps(n: int, prefix: str) -> list[dict[str, Any]]:
    """n lifecycle steps: events of new, update, end; ten zones so incidents merge as in real use."""
    out: list[dict[str, Any]] = []
    i = 0
    while len(out) < n:
        eid = f"{prefix}-{i}"
        for seq, lc in enumerate(("new", "update", "end")):
            out.append(_event(eid, seq, lc, f"z{i % 10}", time.time()))
        i += 1
    return out[:n]


async def _single(port: int, key: str, seconds: float, conns: int = 8) -> dict[str, float]:
    # made as they are sent: 200000 steps made up front held the client's garbage collector busy (its full
    # collections walk every live object) on the cores the server needs
    prefix = "s" + uuid.uuid4().hex[:6]
    it = (_event(f"{prefix}-{i}", seq, lc, f"z{i % 10}", time.time())
          for i in itertools.count() for seq, lc in enumerate(("new", "update", "end")))
    done = 0
    errors = 0
    stop = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal done, errors
        c = Conn(port, key)
        while time.perf_counter() < stop:
            status = await c.post("/api/ingest/events", json.dumps(next(it)).encode())
            done += 1
            errors += status != 200

    t0 = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(conns)))
    wall = time.perf_counter() - t0
    return {"posts": done, "seconds": round(wall, 2), "posts_per_s": round(done / wall, 1), "errors": errors}


async def _batches(port: int, key: str, seconds: float, size: int = 500, conns: int = 2) -> dict[str, float]:
    prefix = "b" + uuid.uuid4().hex[:6]
    done = 0
    errors = 0
    n = 0
    stop = time.perf_counter() + seconds

    async def loop(k: int) -> None:
        nonlocal done, errors, n
        c = Conn(port, key)
        while time.perf_counter() < stop:
            n += 1
            body = json.dumps(_steps(size, f"{prefix}-{k}-{n}")).encode()
            status = await c.post("/api/ingest/events", body)
            done += size if status == 200 else 0
            errors += status != 200

    t0 = time.perf_counter()
    await asyncio.gather(*(loop(k) for k in range(conns)))
    wall = time.perf_counter() - t0
    return {"events": done, "batch_size": size, "seconds": round(wall, 2), "events_per_s": round(done / wall,
                                                                                                 1),
            "errors": errors}


async def _latency(port: int, key: str, token: str, clients: int, seconds: float,
                   rate: float) -> dict[str, Any]:
    from datetime import datetime

    import websockets

    lat: list[float] = []
    ready = 0
    sent: dict[str, float] = {}

    async def client() -> None:
        nonlocal ready
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws?token={token}", max_queue=None) as ws:
            async for raw in ws:
                now = time.time()
                msg = json.loads(raw)
                if msg["topic"] == "ready":
                    ready += 1
                elif msg["topic"] == "incidents":
                    at = msg["payload"].get("last_event_at")
                    if at and msg["payload"]["title"].startswith("crowd") and at in sent:
                        lat.append(now - sent[at])

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    deadline = time.monotonic() + 60
    while ready < clients and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if ready < clients:
        raise ApiError(f"only {ready} of {clients} websocket clients connected")
    c = Conn(port, key)
    prefix = "l" + uuid.uuid4().hex[:6]
    n = int(seconds * rate)
    for i in range(n):
        wall = time.time()
        ev = _event(f"{prefix}-{i}", 0, "new", f"lat{i}", wall)
        # the payload carries last_event_at = this wall_time, which is how a client finds the send time
        sent[datetime.fromtimestamp(wall,
                                    tz=__import__("datetime").timezone.utc).isoformat().replace("+00:00",
                                                                                                "Z")] = wall
        await c.post("/api/ingest/events", json.dumps(ev).encode())
        await asyncio.sleep(max(0.0, 1.0 / rate - (time.time() - wall)))
    await asyncio.sleep(2.0)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat.sort()
    expected = n * clients

    def pct(p: float) -> float:
        return round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else float("nan")

    return {
        "clients": clients,
        "events": n,
        "rate_per_s": rate,
        "deliveries": len(lat),
        "expected": expected,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": round(1000 * lat[-1], 1) if lat else None,
        "mean_ms": round(1000 * statistics.fmean(lat), 1) if lat else None,
    }


def _prepare(db: str, media: Path) -> tuple[str, str]:
    """Migrate, add a worker key, an operator and the camera; returns (worker key, operator token)."""
    from api.db.engine import make_engine, migrate, session_factory
    from api.db.models import Camera, User, WorkerKey
    from api.services.accounts import hash_password, key_hash, make_token
    from api.settings import DEV_SECRET

    engine = make_engine(db)
    migrate(engine)
    key = "swk_bench_" + uuid.uuid4().hex
    with session_factory(engine)() as s:
        s.add(WorkerKey(name="bench-" + uuid.uuid4().hex[:6], key_hash=key_hash(key)))
        user = User(name="bench-" + uuid.uuid4().hex[:6], password_hash=hash_password(uuid.uuid4().hex),
                    role="operator")
        s.add(user)
        s.merge(Camera(id="bench_cam", name="bench_cam", zones={}))
        s.commit()
        token = make_token(DEV_SECRET, user.id, "operator", None, 3600)
    engine.dispose()
    return key, token


def _fresh_pg(url: str) -> tuple[str, str]:
    import psycopg

    base = url.replace("postgresql+psycopg://", "postgresql://")
    name = f"sharpeyes_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name, name


def _drop_pg(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_bench(out: Path, db: str | None = None, clients: int = 200, seconds: float = 5.0) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="sharpeyes-bench-"))
    pg_name = None
    if db is None:
        url = f"sqlite:///{tmp / 'bench.db'}"
    elif db.startswith("postgresql"):
        url, pg_name = _fresh_pg(db)
    else:
        url = db
    key, token = _prepare(url, tmp / "media")
    port = _free_port()
    env = {**os.environ, "SHARPEYES_DEV": "1"}
    env.pop("SHARPEYES_SECRET_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "api.cli.main", "serve", "--port", str(port), "--db", url,
                             "--dev",
                             "--media", str(tmp / "media")], env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise ApiError("bench: the api server did not start") from None
                time.sleep(0.2)
        # warm-up, not counted: the first requests build what the server makes once (FastAPI's route
        # tables, compiled statements, the caches of keys and cameras, worker threads)
        print(f"bench api: server up on {url.split('@')[-1]}; warming up ...", flush=True)
        asyncio.run(_single(port, key, 1.0))
        asyncio.run(_batches(port, key, 0.5))
        print(f"  single posts for {seconds:.0f} s ...", flush=True)
        single = asyncio.run(_single(port, key, seconds))
        print(f"  {single['posts_per_s']} single posts/s; batches ...", flush=True)
        batch = asyncio.run(_batches(port, key, seconds))
        print(f"  {batch['events_per_s']} events/s in batches; {clients} websocket clients ...", flush=True)
        latency = asyncio.run(_latency(port, key, token, clients, seconds * 2, 20.0))
        print(
            f"  ingest -> websocket p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms, p99 "
            f"{latency['p99_ms']} ms "
            f"({latency['deliveries']}/{latency['expected']} deliveries)",
            flush=True,
        )
    finally:
        proc.terminate()
        proc.wait(20)
        if pg_name:
            _drop_pg(db or "", pg_name)
    result = {
        "target": "api", "db": "postgresql" if pg_name else url.split(":", 1)[0],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "single_posts": single, "batches": batch, "ws_latency": latency,
        "targets": {"single_posts_per_s": 500, "batch_events_per_s": 5000, "ws_p95_ms": 100},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"bench api: figures in {out}")
    return 0
