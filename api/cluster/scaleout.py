"""Wiring of the scale-out pieces into one api replica, chosen by settings (all off in the embedded default).

- `SHARPEYES_LEASE_URL` (redis://... or postgresql+psycopg://...): background jobs (patrol deadline checks
  and dispatch timeouts, the camera offline sweep) run on exactly one replica at a time (`LeaderLoop`).
  Unset: they run here, as in the single-process default.
- `SHARPEYES_BUS=redis`: websocket messages fan out across replicas (`RedisBus`); a fan-out gap closes this
  replica's websocket clients so they reconnect and get the current state replayed.
- `SHARPEYES_STREAM_INGEST=true`: this replica also reads the worker event stream (`StreamConsumer`).
- `SHARPEYES_MQTT_HOST`: publish events and incident changes to an MQTT broker (`MqttPublisher`). Each
  replica publishes what it ingested or changed itself, so a message reaches the broker once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.db.models import Incident, WorkerKey
from api.deps import Ctx
from api.services.incidents import ingest
from vision.events import EventMessage

log = logging.getLogger(__name__)
JobFactory = Callable[[], Awaitable[Any]]


def resync_clients(ctx: Ctx) -> None:
    """Close every websocket client of this replica (code 1013): each reconnects and gets the replay."""
    for client in list(ctx.hub.clients):
        ctx.hub.remove(client)
        while not client.queue.empty():
            client.queue.get_nowait()
        client.queue.put_nowait(None)


def store_batch(ctx: Ctx, messages: list[EventMessage], worker: str) -> dict[str, Any]:
    """The stream's ingest: the same steps as `POST /api/ingest/events` (idempotent on (id, seq))."""
    from api.views import incidents_out, publish_incidents

    for attempt in range(3):
        with ctx.sessions() as session:
            try:
                outcome = ingest(session, ctx.policy, messages, actor=f"worker:{worker}")
                changed = session.scalars(select(Incident).where(Incident.id.in_(outcome.incidents))).all()
                items = incidents_out(session, changed)
                session.commit()
            except IntegrityError:
                session.rollback()  # the same step stored at once elsewhere: the retry sees a duplicate
                if attempt == 2:
                    raise
                continue
        publish_incidents(ctx, items)
        publish_events(ctx, messages)
        if ctx.patrol is not None and outcome.new_incidents:
            ctx.patrol.on_new_incidents(outcome.new_incidents)
        return {"stored": outcome.stored, "duplicates": outcome.duplicates}
    raise AssertionError("unreachable")


def publish_events(ctx: Ctx, messages: list[EventMessage]) -> None:
    """MQTT `sharpeyes/events` and counts, when MQTT is configured."""
    mqtt = getattr(ctx, "mqtt", None)
    if mqtt is not None:
        for m in messages:
            mqtt.publish_event(m)


def _stream_consumer(ctx: Ctx) -> Any:
    from api.cluster.stream import StreamConsumer, WorkerIdentity
    from coordination.leases import lease_store_from_url

    def lookup(name: str) -> WorkerIdentity | None:
        with ctx.sessions() as s:
            row = s.scalars(select(WorkerKey).where(WorkerKey.name == name, WorkerKey.revoked.is_(False))).first()
            return WorkerIdentity(row.name, row.key_hash, row.pool) if row is not None else None

    def refused(worker: str, reason: str) -> None:
        try:
            ctx.audit(f"worker:{worker}"[:100], "stream_refused", "event stream", reason)
        except Exception as exc:  # noqa: BLE001 - database away: the log line still records it
            log.warning("could not audit a refusal (%s): %s", exc, reason)

    settings = ctx.settings
    return StreamConsumer(settings.redis_url, lambda msgs, w: store_batch(ctx, msgs, w), lookup, refused,
                          lease_store_from_url(settings.lease_url or settings.redis_url),
                          shards=settings.stream_shards, remember=lambda *a: remember_nonce(ctx, *a))


_NONCE_TABLE = """CREATE TABLE IF NOT EXISTS sharpeyes_stream_nonces (
  worker varchar(100) NOT NULL, nonce varchar(64) NOT NULL, marker varchar(200) NOT NULL,
  expires_at double precision NOT NULL, PRIMARY KEY (worker, nonce))"""
_nonce_ready: set[int] = set()


def remember_nonce(ctx: Ctx, worker: str, nonce: str, marker: str, expires_at: float) -> bool:
    """Keep a stream nonce in the database (table created on first use, like the leases: not part of the
    data model); False when another entry carried it before (a replay), also after a Redis restart."""
    import time

    from sqlalchemy import text

    with ctx.sessions() as s:
        if id(ctx) not in _nonce_ready:
            s.execute(text(_NONCE_TABLE))
            s.commit()
            _nonce_ready.add(id(ctx))
        s.execute(text("INSERT INTO sharpeyes_stream_nonces (worker, nonce, marker, expires_at) "
                       "VALUES (:w, :n, :m, :e) ON CONFLICT (worker, nonce) DO NOTHING"),
                  {"w": worker[:100], "n": nonce[:64], "m": marker[:200], "e": expires_at})
        stored = s.execute(text("SELECT marker FROM sharpeyes_stream_nonces WHERE worker = :w AND nonce = :n"),
                           {"w": worker[:100], "n": nonce[:64]}).scalar()
        if hash(nonce) % 200 == 0:   # now and then: forget nonces older than the timestamp window allows
            s.execute(text("DELETE FROM sharpeyes_stream_nonces WHERE expires_at < :now"), {"now": time.time()})
        s.commit()
    return stored == marker[:200]


def attach(ctx: Ctx) -> None:
    """Before the app starts: hook gap resync and the MQTT publisher of incident changes."""
    on_gap = getattr(ctx.bus, "on_gap", None)
    if on_gap is not None:
        on_gap(lambda: resync_clients(ctx))
    settings = ctx.settings
    if settings.mqtt_host:
        from api.cluster.mqtt import MqttPublisher, MqttSettings

        pub = MqttPublisher(MqttSettings(host=settings.mqtt_host, port=settings.mqtt_port,
                                         prefix=settings.mqtt_prefix))
        ctx.mqtt = pub  # type: ignore[attr-defined]
        original = ctx.hub.emit

        def emit(topic: str, payload: dict[str, Any], team_id: int | None = None) -> None:
            # Emitted here means changed here: publish once, not once per replica that receives the fan-out.
            if topic == "incidents":
                pub.publish_incident(str(payload.get("state", "changed")), payload)
            original(topic, payload, team_id)

        ctx.hub.emit = emit  # type: ignore[method-assign]


def background(ctx: Ctx, jobs: dict[str, JobFactory]) -> list[Awaitable[Any]]:
    """The coroutines the app runs in its lifespan: jobs (leader-only when leases are configured), stream."""
    settings = ctx.settings
    out: list[Awaitable[Any]] = []
    if settings.lease_url:
        from api.cluster.leader import LeaderLoop
        from coordination.leases import lease_store_from_url

        store = lease_store_from_url(settings.lease_url)
        out += [LeaderLoop(store, name, factory).run_forever() for name, factory in jobs.items()]
    else:
        out += [factory() for factory in jobs.values()]
    if settings.stream_ingest:
        out.append(_stream_consumer(ctx).run_async())
    mqtt = getattr(ctx, "mqtt", None)
    if mqtt is not None:
        out.append(_mqtt_lifetime(mqtt))
    return out


async def _mqtt_lifetime(pub: Any) -> None:
    pub.start()
    try:
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(pub.stop)
