"""Ingest on PostgreSQL with concurrent writers: group commits in several lanes, and replicas sharing the
database, must open one incident per merge key (camera, zone, event type), never one each."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from api.app import create_app
from api.services.incidents import ingest
from api.services.ingest import Batch, IngestQueue
from api.settings import Settings
from tests.api.conftest import Harness, build, event
from vision.events import EventMessage

pytestmark = pytest.mark.slow   # PostgreSQL


@pytest.fixture
def pg(pg_database: str, tmp_path: Path) -> Iterator[Harness]:
    h = build(pg_database, tmp_path)
    with h.client:
        h.register("cam1", "cam2")
        yield h
    h.ctx.engine.dispose()


def _incidents(h: Harness) -> list[tuple[str, str, int]]:
    with h.ctx.engine.connect() as conn:
        return [(r.camera_id, r.zone, r.event_count) for r in conn.execute(text(
            "SELECT camera_id, zone, event_count FROM incidents ORDER BY camera_id, zone"))]


def _waiting_on_a_merge_lock(h: Harness) -> bool:
    with h.ctx.engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).scalar_one())


def test_a_second_replica_waits_for_the_first_and_merges_into_its_incident(pg: Harness,
                                                                           pg_database: str) -> None:
    other = create_app(Settings(dev=True, db_url=pg_database, media_dir=pg.tmp / "media2")).state.ctx
    try:
        a = pg.ctx
        stored: list[object] = []
        with a.sessions() as s:
            # replica A has opened an incident for (cam1, lane, fire_lane_blocked) and not committed yet
            ingest(s, a.policy, [EventMessage(**event("first"))], "worker:w1", a.ingest.cameras.get(["cam1"]))
            b = threading.Thread(target=lambda: stored.append(
                other.ingest.store_one([EventMessage(**event("second"))], "w1")))
            b.start()
            # replica B either waits on A's merge key (the fix) or, racing, opens an incident of its own
            while b.is_alive() and not _waiting_on_a_merge_lock(pg):
                time.sleep(0.01)
            s.commit()
        b.join(30)
        assert not b.is_alive() and len(stored) == 1
        assert _incidents(pg) == [("cam1", "lane", 2)]
    finally:
        other.engine.dispose()


def test_concurrent_lanes_open_one_incident_per_merge_key(pg: Harness) -> None:
    queue = IngestQueue(pg.ctx.ingest, lanes=4)
    assert len(queue.lanes) == 4
    cams = pg.ctx.ingest.cameras.get(["cam1", "cam2"])
    keys = [(c, f"z{z}") for c in ("cam1", "cam2") for z in range(3)]

    def batch(i: int) -> Batch:
        # each request names two merge keys, in either order, so requests of one key run in several lanes;
        # two workers, so a group holds several ingests (each worker's) in one transaction
        first, second = keys[i % len(keys)], keys[(i * 5 + 1) % len(keys)]
        pair = (first, second) if i % 2 else (second, first)
        return Batch([EventMessage(**event(f"e{i}-{k}", camera=c, zone=z)) for k, (c, z) in enumerate(pair)],
                     "w1" if i % 3 else "w2", cams)

    async def client(k: int) -> list[int]:   # like a worker: one request at a time
        return [(await queue.submit(batch(i))).stored for i in range(k, 120, 8)]

    async def post_all() -> list[int]:
        return [n for answers in await asyncio.gather(*(client(k) for k in range(8))) for n in answers]

    assert asyncio.run(post_all()) == [2] * 120
    found = _incidents(pg)
    assert [(c, z) for c, z, _ in found] == sorted(keys)   # one incident per merge key
    assert sum(n for _, _, n in found) == 240
