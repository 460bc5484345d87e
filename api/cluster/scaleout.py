"""Wiring of the scale-out pieces into one api replica, chosen by settings (all off in the embedded default).

- `SHARPEYES_LEASE_URL` (redis://... or postgresql+psycopg://...): background jobs (patrol deadline checks
  and dispatch timeouts, the camera offline sweep) run on exactly one replica at a time (`LeaderLoop`).
  Unset: they run here, as in the single-process default.
- `SHARPEYES_BUS=redis`: websocket messages fan out across replicas (`RedisBus`); a fan-out gap closes this
  replica's websocket clients so they reconnect and get the current state replayed.
- `SHARPEYES_STREAM_INGEST=true`: this replica also reads the worker event stream (`StreamConsumer`), and
  stores what it reads through the same ingest as `POST /api/ingest/events`.
- `SHARPEYES_MQTT_HOST`: publish events and incident changes to an MQTT broker (`MqttPublisher`, one of
  the context's publishers). Each replica publishes what it ingested or changed itself, so a message
  reaches the broker once.
- `SHARPEYES_SENSORS_MQTT=true` (with the host): read sensor readings and alarms and elevator
  acknowledgements from the broker (`SensorConsumer`, docs/sensors.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text

from api.cluster.bus_redis import RedisBus
from api.cluster.mqtt import MqttPublisher, MqttSettings
from api.cluster.sensors_mqtt import SensorConsumer
from api.cluster.stream import StreamConsumer
from api.context import Ctx
from coordination.leases import lease_store_from_url
from vision.events import EventMessage

log = logging.getLogger(__name__)
JobFactory = Callable[[], Awaitable[Any]]


def mqtt_publisher(ctx: Ctx) -> MqttPublisher | None:
    """The MQTT publisher of the settings (not started), or None when MQTT is off."""
    s = ctx.settings
    if not s.mqtt_host:
        return None
    return MqttPublisher(MqttSettings(host=s.mqtt_host, port=s.mqtt_port, prefix=s.mqtt_prefix))


def resync_clients(ctx: Ctx) -> None:
    """Close every websocket client of this replica (code 1013): each reconnects and gets the replay."""
    for client in list(ctx.hub.clients):
        ctx.hub.remove(client)
        while not client.queue.empty():
            client.queue.get_nowait()
        client.queue.put_nowait(None)


def store_batch(ctx: Ctx, messages: list[EventMessage], worker: str) -> dict[str, int]:
    """The stream's ingest: the same path as `POST /api/ingest/events` (idempotent on (id, seq)), and the
    same rule: a worker sends only for its own cameras (or its pool's)."""
    ident = ctx.workers.by_name(worker)
    if ident is not None:
        for cam in ctx.ingest.cameras.get(m.camera for m in messages).values():
            ctx.workers.check_owner(ident, cam.id, cam.worker)
    stored = ctx.ingest.store_one(messages, worker)
    return {"stored": stored.stored, "duplicates": stored.duplicates}


def remember_nonce(ctx: Ctx, worker: str, nonce: str, marker: str, expires_at: float) -> bool:
    """Keep a stream nonce in the database (table `sharpeyes_stream_nonces`, an Alembic migration); False
    when another entry carried it before (a replay), also after a Redis restart."""
    with ctx.sessions() as s:
        s.execute(text("INSERT INTO sharpeyes_stream_nonces (worker, nonce, marker, expires_at) "
                       "VALUES (:w, :n, :m, :e) ON CONFLICT (worker, nonce) DO NOTHING"),
                  {"w": worker[:100], "n": nonce[:64], "m": marker[:200], "e": expires_at})
        stored = s.execute(
            text("SELECT marker FROM sharpeyes_stream_nonces WHERE worker = :w AND nonce = :n"),
            {"w": worker[:100], "n": nonce[:64]},
        ).scalar()
        if hash(nonce) % 200 == 0:   # now and then: forget nonces older than the timestamp window allows
            s.execute(text("DELETE FROM sharpeyes_stream_nonces WHERE expires_at < :now"),
                      {"now": time.time()})
        s.commit()
    return bool(stored == marker[:200])


def stream_consumer(ctx: Ctx) -> StreamConsumer:
    def refused(worker: str, reason: str) -> None:
        try:
            ctx.audit(f"worker:{worker}"[:100], "stream_refused", "event stream", reason)
        except Exception as exc:  # noqa: BLE001 - database away: the log line still records it
            log.warning("could not audit a refusal (%s): %s", exc, reason)

    settings = ctx.settings
    return StreamConsumer(settings.redis_url, lambda msgs, w: store_batch(ctx, msgs, w), ctx.workers.by_name,
                          refused, lease_store_from_url(settings.lease_url or settings.redis_url),
                          shards=settings.stream_shards, remember=lambda *a: remember_nonce(ctx, *a))


def attach(ctx: Ctx, mqtt: MqttPublisher | None) -> None:
    """Before the app starts: resync the websocket clients on a fan-out gap; MQTT joins the publishers."""
    if isinstance(ctx.bus, RedisBus):
        ctx.bus.on_gap(lambda: resync_clients(ctx))
    if mqtt is not None:
        ctx.publishers.append(mqtt)


def background(ctx: Ctx, jobs: dict[str, JobFactory], mqtt: MqttPublisher | None) -> list[Awaitable[Any]]:
    """The coroutines the app runs in its lifespan: jobs (leader-only when leases are configured), stream."""
    from api.cluster.leader import LeaderLoop

    settings = ctx.settings
    out: list[Awaitable[Any]] = []
    if settings.lease_url:
        store = lease_store_from_url(settings.lease_url)
        out += [LeaderLoop(store, name, factory).run_forever() for name, factory in jobs.items()]
    else:
        out += [factory() for factory in jobs.values()]
    if settings.stream_ingest:
        out.append(stream_consumer(ctx).run_async())
    if mqtt is not None:
        out.append(_mqtt_lifetime(mqtt))
    if settings.sensors_mqtt:
        out.append(_consumer_lifetime(sensor_consumer(ctx)))
    return out


def sensor_consumer(ctx: Ctx) -> SensorConsumer:
    s = ctx.settings
    return SensorConsumer(s.mqtt_host, s.mqtt_port, s.mqtt_prefix, {
        "sensors/+/reading": lambda device, body: ctx.sensors.accept(device, "reading", body),
        "sensors/+/alarm": lambda device, body: ctx.sensors.accept(device, "alarm", body),
        "elevator/+/ack": lambda elevator, body: ctx.actions.ack(elevator, body),
    })


async def _consumer_lifetime(consumer: SensorConsumer) -> None:
    consumer.start()
    try:
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(consumer.stop)


async def _mqtt_lifetime(pub: MqttPublisher) -> None:
    pub.start()
    try:
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(pub.stop)
