"""Issue 7's refusals, each refused *and* logged in the audit log: a worker key used for another pool over
HTTP ingest, a worker message replayed after Redis lost its nonces, a leader token on an operator route."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from api.cluster.scaleout import stream_consumer
from api.db.models import AuditEntry, EventStep, User, WorkerKey
from api.services.accounts import key_hash, make_token
from coordination.stream import shard_of
from tests.api.conftest import build
from vision.events import EventMessage
from worker.stream import StreamProducer

POOL_KEY = "swk_pool_north_0123456789abcdef"
CAM = {"id": "pcam", "name": "pcam", "zones": {}}


def _ev(n: int, camera: str = "pcam") -> EventMessage:
    return EventMessage(id=f"{camera}-{n}", lifecycle="new", seq=0, camera=camera, zone="z",
                        event="loitering",
                        label="person", first_seen_s=0, start_s=1, max_score=0.5, bbox=[0, 0, 1, 1])


def _audit(ctx: Any, action: str) -> list[AuditEntry]:
    with ctx.sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _steps(ctx: Any) -> int:
    with ctx.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(EventStep)) or 0)


def test_http_ingest_refuses_a_worker_key_of_another_pool(tmp_path: Path) -> None:
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    with h.client as c:
        with h.ctx.sessions() as s:
            s.add(WorkerKey(name="north1", key_hash=key_hash(POOL_KEY), pool="north"))
            s.commit()
        north = {"X-API-Key": POOL_KEY, "X-Worker-Pool": "north"}
        assert c.post("/api/ingest/cameras", json=[CAM], headers=north).status_code == 200
        for headers, said in (({"X-API-Key": POOL_KEY, "X-Worker-Pool": "south"}, "'south'"),
                              ({"X-API-Key": POOL_KEY}, "''")):
            r = c.post("/api/ingest/events", json=[_ev(1).model_dump(mode="json")], headers=headers)
            assert r.status_code == 403, r.text
            assert "pool 'north'" in r.json()["detail"] and "--pool north" in r.json()["detail"]
            assert _steps(h.ctx) == 0, "a refused batch was stored"
            entry = _audit(h.ctx, "worker_pool_refused")[-1]
            assert (
                entry.actor == "worker:north1"
                and said in entry.detail
                and entry.target == "/api/ingest/events"
            )
        assert len(_audit(h.ctx, "worker_pool_refused")) == 2
        # the right pool goes through; a key bound to no pool (the fixed-camera worker) needs no header
        r = c.post("/api/ingest/events", json=[_ev(1).model_dump(mode="json")], headers=north)
        assert r.status_code == 200 and r.json()["stored"] == 1, r.text
        own = {"X-API-Key": h.worker_key}
        assert c.post("/api/ingest/cameras", json=[{**CAM, "id": "fixed"}], headers=own).status_code == 200
        r = c.post("/api/ingest/events", json=[_ev(2, "fixed").model_dump(mode="json")], headers=own)
        assert r.status_code == 200 and r.json()["stored"] == 1, r.text
        # ... but not for the pool's camera: a camera belongs to the worker (or pool) that registered it
        r = c.post("/api/ingest/events", json=[_ev(3).model_dump(mode="json")], headers=own)
        assert r.status_code == 403 and "belongs to worker 'north1'" in r.json()["detail"], r.text


def test_a_leader_token_on_an_operator_route_is_refused_and_logged(tmp_path: Path) -> None:
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    with h.client as c:
        with h.ctx.sessions() as s:
            lead = s.scalars(select(User).where(User.name == "lead1")).one()
            token = make_token(h.ctx.settings.secret_key, lead.id, lead.role, lead.team_id, 3600)
        bearer = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/cameras", headers=bearer).status_code == 403
        r = c.post("/api/incidents", headers=bearer, json={"category": "fire_safety", "title": "x"})
        assert r.status_code in (403, 422), r.text
        entries = _audit(h.ctx, "role_refused")
        assert entries, "the refusal was not logged"
        assert entries[0].actor == "user:lead1" and entries[0].target == "GET /api/cameras"
        assert "role leader" in entries[0].detail and "operator" in entries[0].detail


@pytest.mark.slow
def test_a_replay_after_redis_lost_its_nonces_is_refused_and_logged(tmp_path: Path, redis_url: str) -> None:
    """Redis keeps the nonces it has seen; a restart without persistence loses them. The shared Redis is
    not restarted here (other tests use it): deleting the nonce keys is exactly what the restart does to
    them. The database copy of the nonces still refuses the replay."""
    url = redis_url.rsplit("/", 1)[0] + "/7"
    r: Any = redis.Redis.from_url(url, decode_responses=True)
    r.flushdb()
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, redis_url=url)
    with h.client as c:
        assert c.post("/api/ingest/cameras", json=[CAM],
                      headers={"X-API-Key": h.worker_key}).status_code == 200
        consumer = stream_consumer(h.ctx)
        stop = threading.Event()
        t = threading.Thread(target=consumer.run, args=(stop.is_set,), daemon=True)
        t.start()
        try:
            prod = StreamProducer(url, "w1", h.worker_key, shards=consumer.shards)
            assert prod.send([_ev(1)]) == {"stored": 1, "duplicates": 0}
            body = json.dumps([_ev(2).model_dump(mode="json")])
            reply = "sharpeyes:reply:w1:replaytest"
            fields = prod.signed_fields(body, reply)
            stream = f"sharpeyes:events:{shard_of('pcam', consumer.shards)}"
            r.xadd(stream, fields)
            assert json.loads(r.blpop([reply], timeout=15)[1])["ok"] is True
            nonces = list(r.scan_iter(match="sharpeyes:nonce:*"))
            assert nonces
            r.delete(*nonces)        # what a Redis restart without persistence does to them
            r.xadd(stream, fields)   # the captured entry, sent again within the timestamp window
            answer = json.loads(r.blpop([reply], timeout=15)[1])
            assert "replayed" in answer.get("refused", "") and "database" in answer["refused"], answer
            deadline = time.monotonic() + 5
            while not _audit(h.ctx, "stream_refused") and time.monotonic() < deadline:
                time.sleep(0.1)
            entries = _audit(h.ctx, "stream_refused")
            assert len(entries) == 1 and entries[0].actor == "worker:w1" and "replayed" in entries[0].detail
            assert _steps(h.ctx) == 2
        finally:
            stop.set()
            t.join(10)
            r.flushdb()
