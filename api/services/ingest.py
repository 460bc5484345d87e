"""Ingest: event steps from workers -> incidents, then tell the pages. One path for HTTP and the stream.

`Ingest.store(batches)` takes the SQLite write lock (one writer: waiting on a lock beats busy-waiting on
the database's), stores every batch in one transaction (idempotent on (event id, seq)), and then
publishes the changed incidents, the event steps (for MQTT) and asks patrol to dispatch the new ones.
`IngestQueue` groups HTTP requests that arrive while a transaction runs into the next one (group commit:
hundreds of single-event posts per second); on PostgreSQL several groups run at once (lanes), each
transaction holding the locks of its merge keys (camera, zone, event type) so that two lanes or two replicas
never open an incident each. The stream reader calls `store_one` from its thread.
Cameras come from one cache (`CameraCache`); an unknown camera is refused (`UnknownCamera`) before
anything is written.
"""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import Camera
from api.errors import UnknownCamera, after_commit
from api.services.actions import zones_have_actions
from api.services.incidents import CameraInfo, ingest, lock_merge_keys
from api.services.ingest_sql import INCIDENTS_BY_ID
from api.services.ports import Services
from vision.events import EventMessage

CAMERA_TTL_S = 10.0   # how long a camera's cached facts (owner, actions) are used without a look-up
# group commits at once on PostgreSQL (SQLite: one writer, one lane). More lanes overlap more round trips
# but make smaller groups, which cost more CPU per request: on a 2-core machine 2 did as well as 4
PG_LANES = 2
ATTEMPTS = 3   # a unique clash (the same step stored at once by another replica): the retry sees a duplicate


class CameraCache:
    """What ingest needs of each camera, read once and kept `ttl_s`; registration and config changes here
    forget a camera so it is read again (the TTL bounds how long another replica's change goes unseen)."""

    def __init__(self, sessions: sessionmaker[Session], ttl_s: float = CAMERA_TTL_S) -> None:
        self.sessions = sessions
        self.ttl_s = ttl_s
        self._known: dict[str, CameraInfo] = {}
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def cached(self, names: Iterable[str]) -> dict[str, CameraInfo] | None:
        """The cameras when every one is cached (no database call: for the event loop), else None."""
        now = time.monotonic()
        with self._lock:
            found = {n: self._known[n] for n in names if n in self._known and self._until[n] > now}
        return found if len(found) == len(set(names)) else None

    def get(self, names: Iterable[str]) -> dict[str, CameraInfo]:
        """Every camera of `names`, or UnknownCamera naming the first one the api does not know."""
        wanted = set(names)
        hit = self.cached(wanted)
        if hit is not None:
            return hit
        with self.sessions() as s:
            rows = s.scalars(select(Camera).where(Camera.id.in_(wanted))).all()
        until = time.monotonic() + self.ttl_s
        with self._lock:
            for c in rows:
                self._known[c.id] = CameraInfo(c.id, c.name, c.place, c.worker, zones_have_actions(c.zones))
                self._until[c.id] = until
            found = {n: self._known[n] for n in wanted if n in self._known}
        missing = sorted(wanted - found.keys())
        if missing:
            raise UnknownCamera(missing[0])
        return found

    def forget(self, camera: str) -> None:
        with self._lock:
            self._known.pop(camera, None)
            self._until.pop(camera, None)


@dataclass
class Batch:
    messages: list[EventMessage]
    worker: str
    cameras: dict[str, CameraInfo]


@dataclass
class Stored:
    """One batch's answer: its steps stored now, its duplicates, and the incidents they made or changed."""

    stored: int
    duplicates: int
    incidents: list[int] = field(default_factory=list)


class Ingest:
    def __init__(self, ctx: Services) -> None:
        self.ctx = ctx
        self.cameras = CameraCache(ctx.sessions)
        # SQLite has one writer: ingest takes this lock instead of busy-waiting on the database's lock
        self._write_lock = threading.Lock()

    def writing(self) -> AbstractContextManager[object]:
        return self._write_lock if self.ctx.settings.is_sqlite else nullcontext()

    def store_one(self, messages: list[EventMessage], worker: str) -> Stored:
        """One batch (the stream's entry): UnknownCamera before anything is written."""
        return self.store([Batch(messages, worker, self.cameras.get(m.camera for m in messages))])[0]

    def store(self, group: list[Batch]) -> list[Stored]:
        for attempt in range(ATTEMPTS):
            try:
                return self._store(group)
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _store(self, group: list[Batch]) -> list[Stored]:
        ctx = self.ctx
        with ctx.sessions() as session:
            with self.writing():
                touched: set[int] = set()
                created: list[int] = []
                first_seen: list[str] = []
                incident_of: dict[str, int] = {}
                answers: dict[int, Stored] = {}
                # one ingest per worker in the group (usually one), each batch answered for its own steps
                by_worker: dict[str, list[Batch]] = {}
                for b in group:
                    by_worker.setdefault(b.worker, []).append(b)
                # the whole group's merge keys at once (one order: no two lanes wait on each other crosswise);
                # a group of one worker's requests (the usual) has them taken by its one ingest
                several = len(by_worker) > 1
                if several:
                    lock_merge_keys(session, [m for b in group for m in b.messages])
                for worker, batches in by_worker.items():
                    merged = {c: info for b in batches for c, info in b.cameras.items()}
                    outcome = ingest(session, ctx.policy, [m for b in batches for m in b.messages],
                                     f"worker:{worker}", merged, keys_locked=several)
                    touched.update(outcome.incidents)
                    created.extend(outcome.new_incidents)
                    first_seen.extend(outcome.new_event_ids)
                    incident_of.update(outcome.incident_of)
                    claimed: set[tuple[str, int]] = set()
                    for b in batches:
                        mine = {(m.id, m.seq) for m in b.messages}
                        new = (mine & outcome.stored_keys) - claimed
                        claimed |= new
                        incs = sorted({outcome.incident_of[e] for e, _ in new if e in outcome.incident_of})
                        answers[id(b)] = Stored(len(new), len(b.messages) - len(new), incs)
                # with their snapshots, read here in the transaction (after the commit the look-up would take
                # a connection and a transaction of its own)
                found = session.execute(INCIDENTS_BY_ID, {"ids": list(touched)}).all() if touched else []
                session.commit()
            rows = [inc for inc, _ in found]
            snaps = {inc.id: media for inc, media in found if media is not None}
            with after_commit("ingest: publishing incidents"):
                ctx.notify.incidents(session, rows, fresh=set(created), snapshots=snaps)
        if ctx.wants("events"):   # MQTT, when configured
            with after_commit("ingest: publishing events"):
                for b in group:
                    for m in b.messages:
                        ctx.publish("events", m.model_dump(mode="json"))
        # rule actions (an elevator hold), once per event; only cameras with actions need the look-up
        acting = [m for b in group for m in b.messages
                  if (cam := b.cameras.get(m.camera)) is None or cam.actions] if first_seen else []
        if acting:
            with after_commit("ingest: rule actions"):
                ctx.actions.on_new_events(acting, first_seen, incident_of)
        if ctx.patrol is not None and created:
            with after_commit("ingest: dispatch"):
                ctx.patrol.on_new_incidents(created)
        return [answers[id(b)] for b in group]


class IngestQueue:
    """Group commit for HTTP: requests that arrive while a transaction runs are stored together in the next.

    Each request still gets its own answer; one commit per group instead of one per request. `lanes`
    groups run at once (PostgreSQL; SQLite has one writer, so one lane): a request goes to the lane of its
    first step's merge key (camera, zone, event type), so the steps of one event and the events that merge
    meet in one lane. Correctness does not rest on the routing: ingest holds a lock per merge key to the
    commit (api/services/incidents.py), as it must between replicas anyway.
    """

    MAX_GROUP = 2000

    def __init__(self, ingest: Ingest, lanes: int = 1) -> None:
        self.ingest = ingest
        self.lanes = [_Lane() for _ in range(max(1, lanes))]

    def _lane(self, batch: Batch) -> _Lane:
        if len(self.lanes) == 1 or not batch.messages:
            return self.lanes[0]
        m = batch.messages[0]
        return self.lanes[zlib.crc32(f"{m.camera}\0{m.zone}\0{m.event}".encode()) % len(self.lanes)]

    async def submit(self, batch: Batch) -> Stored:
        fut: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        lane = self._lane(batch)
        lane.pending.append((batch, fut))
        if not lane.running:
            lane.running = True
            asyncio.get_running_loop().create_task(self._drain(lane))
        return await fut

    async def _drain(self, lane: _Lane) -> None:
        try:
            while lane.pending:
                group: list[tuple[Batch, asyncio.Future[Stored]]] = []
                size = 0
                while lane.pending and (
                    not group or size + len(lane.pending[0][0].messages) <= self.MAX_GROUP
                ):
                    item = lane.pending.pop(0)
                    group.append(item)
                    size += len(item[0].messages)
                try:
                    results = await asyncio.to_thread(self.ingest.store, [b for b, _ in group])
                except Exception as exc:  # noqa: BLE001 - each waiting request gets its own answer
                    if len(group) == 1 or isinstance(exc, OperationalError | SATimeoutError):
                        for _, fut in group:   # the database is down: every request hears so (503)
                            if not fut.done():
                                fut.set_exception(exc)
                        continue
                    # one request's steps failed the shared transaction: store each alone, so only the
                    # bad one fails (with its own error) and the others are stored
                    for batch, fut in group:
                        try:
                            res = (await asyncio.to_thread(self.ingest.store, [batch]))[0]
                        except Exception as one:  # noqa: BLE001
                            if not fut.done():
                                fut.set_exception(one)
                        else:
                            if not fut.done():
                                fut.set_result(res)
                    continue
                for (_, fut), res in zip(group, results, strict=True):
                    if not fut.done():
                        fut.set_result(res)
        finally:
            lane.running = False


@dataclass
class _Lane:
    pending: list[tuple[Batch, asyncio.Future[Stored]]] = field(default_factory=list)
    running: bool = False
