"""The Redis event stream on the real Redis: signed batches stored once, refusals, XAUTOCLAIM of a dead
consumer."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import pytest
import redis

from api.cluster.stream import StreamConsumer
from api.errors import UnknownCamera
from api.services.workers import WorkerIdentity
from coordination.leases import RedisLeaseStore
from coordination.stream import GROUP, shard_of
from vision.events import EventMessage
from worker.stream import StreamProducer, StreamRefused, StreamUnavailable

pytestmark = pytest.mark.slow
KEY = "worker-secret-key-0123456789"


def _ev(camera: str, n: int) -> EventMessage:
    return EventMessage(id=f"{camera}-{n}", lifecycle="new", seq=0, camera=camera, zone="z",
                        event="loitering",
                        label="person", first_seen_s=0, start_s=1, max_score=0.5, bbox=[0, 0, 1, 1])


class Harness:
    def __init__(self, url: str, unique: str, pool: str | None = "north", shards: int = 2) -> None:
        self.url, self.unique, self.pool, self.shards = url, unique, pool, shards
        self.prefix = f"sharpeyes:{unique}:events:"
        self.stored: list[tuple[str, int]] = []
        self.refusals: list[tuple[str, str]] = []
        self.fail_store = False
        self.known_cameras: set[str] | None = None   # None: every camera is known
        self.store_calls = 0

    def store(self, messages: list[EventMessage], worker: str) -> dict[str, Any]:
        self.store_calls += 1
        if self.fail_store:
            raise RuntimeError("database unavailable")
        for m in messages:
            if self.known_cameras is not None and m.camera not in self.known_cameras:
                raise UnknownCamera(m.camera)   # what the api's ingest raises
        new = [(m.id, m.seq) for m in messages if (m.id, m.seq) not in self.stored]
        self.stored.extend(new)
        return {"stored": len(new), "duplicates": len(messages) - len(new)}

    def lookup(self, worker: str) -> WorkerIdentity | None:
        if worker != "w1":
            return None
        return WorkerIdentity("w1", hashlib.sha256(KEY.encode()).hexdigest(), self.pool)

    def consumer(self, replica: str, **kw: Any) -> StreamConsumer:
        store = RedisLeaseStore(self.url, prefix=f"sharpeyes:{self.unique}:lease:")
        return StreamConsumer(self.url, self.store, self.lookup, lambda w, r: self.refusals.append((w, r)),
                              store,
                              replica=replica, shards=self.shards, prefix=self.prefix, **kw)

    def producer(self, key: str = KEY, pool: str = "north", worker: str = "w1",
                 timeout_s: float = 5) -> StreamProducer:
        return StreamProducer(self.url, worker, key, pool=pool, shards=self.shards, timeout_s=timeout_s,
                              prefix=self.prefix)


def _serve(consumer: StreamConsumer) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    t = threading.Thread(target=consumer.run, args=(stop.is_set,), daemon=True)
    t.start()
    return stop, t


def test_batches_are_stored_once_and_in_order(redis_url: str, unique: str) -> None:
    h = Harness(redis_url, unique)
    stop, t = _serve(h.consumer("r1"))
    try:
        prod = h.producer()
        batch = [_ev("cam1", i) for i in range(5)] + [_ev("cam2", i) for i in range(3)]
        assert prod.send(batch) == {"stored": 8, "duplicates": 0}
        assert prod.send(batch[:4]) == {"stored": 0, "duplicates": 4}  # a retried batch is stored once
        assert [k for k in h.stored if k[0].startswith("cam1")] == [(f"cam1-{i}", 0) for i in range(5)]
    finally:
        stop.set()
        t.join(5)


def test_forged_replayed_and_foreign_pool_messages_are_refused(redis_url: str, unique: str) -> None:
    h = Harness(redis_url, unique)
    stop, t = _serve(h.consumer("r1"))
    r: Any = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(StreamRefused, match="bad signature"):
            h.producer(key="not-the-key").send([_ev("cam1", 1)])
        with pytest.raises(StreamRefused, match="unknown or revoked worker"):
            h.producer(worker="w9").send([_ev("cam1", 1)])
        with pytest.raises(StreamRefused, match="pool 'north' used for pool 'south'"):
            h.producer(pool="south").send([_ev("cam1", 1)])
        prod = h.producer()
        # A genuine entry, captured and added again (a replay), and one with an altered body.
        body = json.dumps([_ev("cam1", 7).model_dump(mode="json")])
        reply = f"sharpeyes:reply:w1:{unique}"
        fields = prod.signed_fields(body, reply)
        stream = f"{h.prefix}{shard_of('cam1', h.shards)}"
        r.xadd(stream, fields)
        assert json.loads(r.blpop([reply], timeout=5)[1])["ok"] is True
        r.xadd(stream, fields)
        assert "replayed" in json.loads(r.blpop([reply], timeout=5)[1])["refused"]
        altered = dict(fields, nonce="fresh-nonce", body=json.dumps([_ev("cam1", 8).model_dump(mode="json")]))
        r.xadd(stream, altered)
        assert "bad signature" in json.loads(r.blpop([reply], timeout=5)[1])["refused"]
        stale = prod.signed_fields(body, reply, ts=time.time() - 3600)
        r.xadd(stream, stale)
        assert "stale" in json.loads(r.blpop([reply], timeout=5)[1])["refused"]
        assert h.stored == [("cam1-7", 0)]
        reasons = [reason for _, reason in h.refusals]
        assert len(reasons) == 6 and all(reasons)  # each refusal was logged
    finally:
        stop.set()
        t.join(5)


def test_an_unknown_camera_is_refused_for_good_with_its_code(redis_url: str, unique: str) -> None:
    """Not taken for a database outage: answered with the code at once, acknowledged, never claimed again."""
    h = Harness(redis_url, unique)
    h.known_cameras = {"cam1"}
    stop, t = _serve(h.consumer("r1", claim_idle_ms=300))
    r: Any = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(StreamRefused, match="unknown camera 'ghost'") as refused:
            h.producer().send([_ev("ghost", 1)])
        assert refused.value.code == "unknown_camera"
        time.sleep(1.5)   # five claim periods: a pending entry would have been handled again by now
        assert h.store_calls == 1
        stream = f"{h.prefix}{shard_of('ghost', h.shards)}"
        assert r.xpending(stream, GROUP)["pending"] == 0
        assert h.producer().send([_ev("cam1", 1)]) == {"stored": 1, "duplicates": 0}
    finally:
        stop.set()
        t.join(5)


def test_database_outage_keeps_the_batch_and_it_arrives_later(redis_url: str, unique: str) -> None:
    h = Harness(redis_url, unique)
    prod = h.producer(timeout_s=2)
    with pytest.raises(StreamUnavailable):  # nobody reads yet
        prod.send([_ev("cam1", 1)])
    h.fail_store = True
    stop, t = _serve(h.consumer("r1", claim_idle_ms=300))
    try:
        with pytest.raises(StreamUnavailable, match="database unavailable"):
            prod.send([_ev("cam1", 2)])
        h.fail_store = False
        # the entries left pending are claimed again and stored, without the worker sending again
        deadline = time.monotonic() + 10
        while {("cam1-1", 0), ("cam1-2", 0)} - set(h.stored):
            assert time.monotonic() < deadline, h.stored
            time.sleep(0.1)
        assert prod.send([_ev("cam1", 1), _ev("cam1", 2)])["duplicates"] == 2
    finally:
        stop.set()
        t.join(5)


def test_a_dead_consumers_entries_are_claimed_by_the_next_shard_holder(redis_url: str, unique: str) -> None:
    h = Harness(redis_url, unique, shards=1)
    r: Any = redis.Redis.from_url(redis_url, decode_responses=True)
    dead = h.consumer("dead")
    dead.pool.ttl_s = 1.0
    dead.poll_once(block_ms=10)  # takes the shard's lease and creates the group
    prod = h.producer()
    stream = f"{h.prefix}0"
    fields = prod.signed_fields(json.dumps([_ev("cam1", 1).model_dump(mode="json")]),
                                f"sharpeyes:reply:w1:{unique}")
    r.xadd(stream, fields)
    got = r.xreadgroup(GROUP, "dead", {stream: ">"}, count=10)  # read, then "crash" before storing
    assert got and not h.stored
    alive = h.consumer("alive", claim_idle_ms=200)
    t0 = time.monotonic()
    while not h.stored:
        alive.poll_once(block_ms=100)
        assert time.monotonic() - t0 < 10
    assert h.stored == [("cam1-1", 0)]
    assert r.xpending(stream, GROUP)["pending"] == 0
    alive.pool.leave()
