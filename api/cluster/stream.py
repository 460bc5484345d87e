"""The api's side of the worker event stream: `StreamConsumer` reads, verifies and stores signed batches.

The event stream lets workers hand events to the api through Redis instead of HTTP
(`worker.stream.StreamProducer` writes it; `coordination.stream` is the format):

- A worker signs each batch with its key (HMAC-SHA256 keyed by sha256(key), the hash the api stores;
  the key itself never travels) over its name, pool, a timestamp, a nonce and the body, and `XADD`s it to
  shard `hash(camera) % shards` of `sharpeyes:events:<i>`, so one camera's events stay in order.
- Each shard is read by one replica at a time, the holder of the shard's lease
(`coordination.leases.CameraPool`
  over shard names): consumer group `api`, at-least-once. The entry is `XACK`ed (and deleted) only after
  the incident is stored. When a replica dies, the next holder of its shards `XAUTOCLAIM`s what it left.
- The api answers on the batch's reply list; the worker deletes the batch from its durable outbox only on
  an `ok` answer. A timeout (Redis restarted and lost the entry, no replica up, database down) keeps the
  batch in the outbox and it is sent again later; ingest is idempotent on (event id, seq), so a batch
  delivered twice is stored once.
- Refused and logged (audit log `stream_refused`): a bad signature, an unknown or revoked worker, a
  worker key used for another pool, a timestamp outside the window, a nonce seen before (a replay).
  Nonces are kept in Redis (fast path) and, through `remember`, in the database, so a replay still within
  the timestamp window after a Redis restart (which loses the Redis nonces) is refused too.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from api.errors import DomainError
from api.services.workers import WorkerIdentity
from coordination.stream import GROUP, SIG_VERSION, STREAM_PREFIX, signature, stream_name
from vision.events import EventMessage

log = logging.getLogger(__name__)


StoreFn = Callable[[list[EventMessage], str], dict[str, Any]]
LookupFn = Callable[[str], WorkerIdentity | None]
RefuseFn = Callable[[str, str], None]
RememberFn = Callable[[str, str, str, float], bool]


@dataclass
class StreamConsumer:
    """Reads the event stream's shards this replica holds; see the module doc.

    `store(messages, worker_name)` stores a batch (raises on a database outage) and returns
    {"stored", "duplicates"}; `lookup(worker_name)` gives the worker's key hash and pool;
    `refused(worker_name, reason)` records a refusal (audit log); `remember(worker, nonce, marker,
    expires_at)` stores a nonce durably and returns False when it was stored before for another entry.
    """

    url: str
    store: StoreFn
    lookup: LookupFn
    refused: RefuseFn
    lease_store: Any
    replica: str = field(default_factory=lambda: f"api-{os.getpid()}-{secrets.token_hex(3)}")
    shards: int = 8
    window_s: float = 300.0
    claim_idle_ms: int = 5000
    prefix: str = STREAM_PREFIX
    remember: RememberFn | None = None

    def __post_init__(self) -> None:
        import redis

        from coordination.leases import CameraPool

        self.redis = redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5,
                                          decode_responses=True)
        self.pool = CameraPool(self.lease_store, f"stream:{self.prefix}",
                               [stream_name(i, self.prefix) for i in range(self.shards)],
                               worker_id=self.replica, ttl_s=10.0, heartbeat_s=2.0, keep_on_store_error=False)
        self._groups: set[str] = set()

    # -- verification

    def check(self, entry_id: str, fields: dict[str, str], stream: str) -> str | None:
        """None when the entry is genuine and fresh; else the reason it is refused."""
        needed = ("v", "worker", "pool", "ts", "nonce", "reply", "body", "sig")
        if any(k not in fields for k in needed) or fields["v"] != SIG_VERSION:
            return "malformed stream entry (missing fields or unknown version)"
        ident = self.lookup(fields["worker"])   # cached by api.services.workers
        if ident is None:
            return f"unknown or revoked worker {fields['worker']!r}"
        if not hmac.compare_digest(signature(ident.key_hash, fields), fields["sig"]):
            return "bad signature (forged, altered, or signed with another key)"
        if ident.pool and fields["pool"] != ident.pool:
            return f"worker key of pool {ident.pool!r} used for pool {fields['pool']!r}"
        try:
            ts = float(fields["ts"])
        except ValueError:
            return "bad timestamp"
        # The nonce remembers the entry that first carried it: the same entry delivered again (a retry,
        # XAUTOCLAIM) is fine, another entry with the same nonce is a replay.
        nonce_key = f"sharpeyes:nonce:{fields['worker']}:{fields['nonce']}"
        marker = f"{stream}/{entry_id}"
        first = self.redis.set(nonce_key, marker, nx=True, ex=int(self.window_s * 2))
        if not first and self.redis.get(nonce_key) != marker:
            return "replayed message (nonce already used)"
        if first and abs(time.time() - ts) > self.window_s:
            return f"stale or future timestamp ({time.time() - ts:.0f} s off; window {self.window_s:.0f} s)"
        if self.remember is not None and not self.remember(fields["worker"], fields["nonce"], marker,
                                                           time.time() + self.window_s * 2):
            return "replayed message (nonce already used; kept in the database)"
        return None

    # -- the loop

    def _ensure_group(self, stream: str) -> None:
        import redis

        if stream in self._groups:
            return
        try:
            self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add(stream)

    def handle(self, stream: str, entry_id: str, fields: dict[str, str]) -> None:
        """Verify, store, answer, acknowledge. A database outage leaves the entry pending (retried)."""
        import redis

        reply = fields.get("reply", "")
        try:
            reason = self.check(entry_id, fields, stream)
        except redis.RedisError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. the database is down: cannot verify now, stays pending
            log.warning("cannot verify stream entry %s now: %s", entry_id, str(exc).splitlines()[0])
            self._answer(reply, {"ok": False, "error": str(exc).splitlines()[0][:200]})
            return
        if reason is not None:
            worker = fields.get("worker", "?")
            log.warning("stream entry %s from %r refused: %s", entry_id, worker, reason)
            self.refused(worker, reason)
            self._answer(reply, {"refused": reason})
            self._ack(stream, entry_id)
            return
        try:
            messages = [EventMessage.model_validate(m) for m in json.loads(fields["body"])]
        except (ValueError, ValidationError) as exc:
            reason = f"body is not a list of events: {str(exc).splitlines()[0]}"
            self.refused(fields["worker"], reason)
            self._answer(reply, {"refused": reason})
            self._ack(stream, entry_id)
            return
        try:
            outcome = self.store(messages, fields["worker"])
        except DomainError as exc:
            # refused for good (e.g. an unknown camera): answered with its code, acknowledged, not retried;
            # the worker acts on the code (registers its cameras again) and sends the events anew
            log.warning("stream entry %s from %r refused: %s", entry_id, fields["worker"], exc)
            self._answer(reply, {"refused": str(exc), "code": exc.code})
            self._ack(stream, entry_id)
            return
        except Exception as exc:  # noqa: BLE001 - database away: stays pending, claimed again later
            log.warning("could not store stream entry %s: %s", entry_id, exc)
            self._answer(reply, {"ok": False, "error": str(exc).splitlines()[0][:200]})
            return
        self._ack(stream, entry_id)
        self._answer(reply, {"ok": True, **outcome})

    def _ack(self, stream: str, entry_id: str) -> None:
        pipe = self.redis.pipeline()
        pipe.xack(stream, GROUP, entry_id)
        pipe.xdel(stream, entry_id)
        pipe.execute()

    def _answer(self, reply: str, answer: dict[str, Any]) -> None:
        if not reply.startswith("sharpeyes:reply:"):
            return  # never write where an entry tells us to, unless it is a reply list
        pipe = self.redis.pipeline()
        pipe.rpush(reply, json.dumps(answer, default=str))
        pipe.expire(reply, 60)
        pipe.execute()

    def poll_once(self, block_ms: int = 500) -> int:
        """One round: rebalance shards, claim what dead consumers left, read new entries. Entries handled."""
        active = sorted(self.pool.tick())
        if not active:
            time.sleep(block_ms / 1000)
            return 0
        n = 0
        for stream in active:
            self._ensure_group(stream)
            res: Any = self.redis.xautoclaim(stream, GROUP, self.replica, self.claim_idle_ms,
                                             start_id="0-0", count=50)
            for entry_id, fields in res[1]:
                if fields:  # None when the entry was deleted meanwhile
                    self.handle(stream, entry_id, fields)
                    n += 1
        read: Any = self.redis.xreadgroup(GROUP, self.replica, {s: ">" for s in active}, count=100,
                                          block=block_ms)
        for stream, entries in read or []:
            for entry_id, fields in entries:
                if stream not in self.pool.active():
                    break  # lease lost mid-batch: leave the rest pending for the new holder
                self.handle(stream, entry_id, fields)
                n += 1
        return n

    def run(self, stop: Callable[[], bool]) -> None:
        """Blocking loop (run it in a thread) until stop() is true. Redis outages are waited out."""
        import redis

        delay = 0.2
        while not stop():
            try:
                self.poll_once()
                delay = 0.2
            except redis.RedisError as exc:
                log.warning("event stream: Redis unreachable (%s); retrying in %.1f s", exc, delay)
                self._groups.clear()  # a restarted Redis has no groups
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception:  # noqa: BLE001 - the reader must outlive any outage; entries stay pending
                log.exception("event stream: unexpected error; retrying in %.1f s", delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.pool.leave()

    async def run_async(self) -> None:
        stopping = False
        try:
            await asyncio.to_thread(self.run, lambda: stopping)
        except asyncio.CancelledError:
            stopping = True
            raise
