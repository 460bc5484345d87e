"""create_app(settings): the FastAPI application, its background jobs and the dashboard mount."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select, text
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import Scope

import patrol
from api import __version__
from api.cluster import scaleout
from api.context import Ctx
from api.db.engine import make_engine, migrate, session_factory
from api.db.models import DEMO_MARK, AuditEntry, Camera, CameraStateChange
from api.errors import ApiError, DomainError, http_status
from api.guard import Guard, Limits
from api.live.bus import EventBus, InProcessBus
from api.live.hub import Hub
from api.live.publishers import Publisher
from api.live.topics import Topics
from api.live.ws import websocket_endpoint
from api.routes import (
    calls,
    camera_configs,
    cameras,
    incidents,
    ingest,
    media,
    notify,
    parking,
    public,
    reports,
    residents,
    sensors,
    site,
    stats,
    teams,
    users,
    viid,
)
from api.schemas import CameraOut, HealthOut
from api.services import retention, sensor_rules, whistle
from api.services.accounts import LoginLimiter
from api.services.media import MediaStore
from api.services.policy import load_policy
from api.services.viid import Viid
from api.services.viid_config import load_viid_config
from api.services.workers import WorkerKeys
from api.settings import Settings
from api.validation import safe_errors

log = logging.getLogger(__name__)
# no heartbeat for this long -> offline (workers beat every 2 s); with the 1 s sweep, on the wall within 10 s
OFFLINE_AFTER_S = 7.0
DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboard"


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p)[:100] for p in err.get("loc", ()))
        parts.append(f"{loc}: {str(err.get('msg', 'invalid'))[:300]}")
    return "; ".join(parts) or "invalid request"


_viid_fed = Camera.worker.is_not(None) & Camera.worker.startswith("viid:")   # keepalive: routes/viid.py


async def _sweep_sensors(ctx: Ctx) -> None:
    """Silent devices and silent 关爱 water meters (api/services/sensor_rules.py)."""
    while True:
        await asyncio.sleep(ctx.settings.sensor_sweep_s)
        try:
            await asyncio.to_thread(sensor_rules.sweep, ctx)
        except Exception:
            log.exception("sensor sweep failed; retrying")


async def _sweep_cameras(ctx: Ctx) -> None:
    """Mark cameras offline when their worker stops beating, and tell the pages."""
    while True:
        await asyncio.sleep(1.0)
        try:
            cutoff = datetime.now(UTC) - timedelta(seconds=OFFLINE_AFTER_S)

            def work(cutoff: datetime = cutoff) -> list[dict[str, Any]]:
                with ctx.sessions() as s:
                    stale = s.scalars(select(Camera).where(Camera.state != "offline",
                                                           Camera.state != "unknown",
                                                           Camera.last_seen_at < cutoff,
                                                           ~_viid_fed)).all()
                    for cam in stale:
                        cam.state, cam.fps, cam.detail = "offline", 0.0, "no heartbeat from its worker"
                        s.add(CameraStateChange(camera=cam.id, state="offline", detail=cam.detail))
                    s.commit()
                    return [CameraOut.model_validate(c).model_dump(mode="json") for c in stale]

            for payload in await asyncio.to_thread(work):
                ctx.publish(f"cameras/{payload['id']}/state", payload)
        except Exception:
            log.exception("camera sweep failed; retrying")


def _flag_overdue_calls(ctx: Ctx) -> None:
    with ctx.sessions() as s:
        changed = whistle.flag_overdue(s)
        s.commit()
        ctx.notify.incidents(s, changed)


async def _notify(ctx: Ctx) -> None:
    """Notifications of incident steps (api/services/outbox.py): queue the new steps, send what is due."""
    while True:
        await asyncio.sleep(ctx.settings.notify_interval_s)
        try:
            await asyncio.to_thread(_flag_overdue_calls, ctx)
            await asyncio.to_thread(ctx.outbox.run_once)
        except Exception:
            log.exception("notifier failed; retrying")


def make_bus(kind: str, redis_url: str = "") -> EventBus:
    if kind == "memory":
        return InProcessBus()
    if kind == "redis":
        from api.cluster.bus_redis import RedisBus

        return RedisBus(redis_url)
    raise ValueError(f"unknown bus {kind!r}: use memory or redis")


def make_limiter(settings: Settings) -> LoginLimiter:
    """The failed sign-in limits: in this process's memory, or in Redis where replicas share the bus."""
    kw: dict[str, Any] = {"per_address": settings.login_failures_per_address,
                          "account_after": settings.login_lockout_after,
                          "account_max_s": settings.login_lockout_max_s}
    if settings.bus == "redis":
        from api.cluster.limiter_redis import RedisLoginLimiter

        return RedisLoginLimiter(settings.redis_url, settings.login_attempts_per_minute, **kw)
    return LoginLimiter(settings.login_attempts_per_minute, **kw)


def refuse_demo_database(engine: Any, settings: Settings) -> None:
    """Outside --dev, a database made by `sharpeyes demo` (published passwords, its worker key) is refused."""
    if settings.dev:
        return
    with engine.connect() as conn:
        marked = conn.execute(select(AuditEntry.id).where(AuditEntry.action == DEMO_MARK).limit(1)).first()
    if marked is not None:
        raise ApiError(
            f"the database {settings.db_url.split('@')[-1]} was made by `sharpeyes demo`: its accounts have "
            "published passwords and its worker key is the demo's, so it is not served with a real secret; "
            "give `sharpeyes serve` a fresh database (--db or SHARPEYES_DB_URL) and create real accounts "
            "(`sharpeyes user add`), or run the demo database with `sharpeyes demo` / `serve --dev` only")


def create_app(settings: Settings) -> FastAPI:
    engine = make_engine(settings.db_url)
    migrate(engine)
    refuse_demo_database(engine, settings)
    bus = make_bus(settings.bus, settings.redis_url)
    hub = Hub(bus)
    plan = patrol.load_site(settings.site_path) if settings.site_path else None
    publishers: list[Publisher] = [hub]
    ctx = Ctx(settings=settings, engine=engine, sessions=session_factory(engine, site=plan),
              policy=load_policy(settings.policy_path, patrol_path=settings.patrol_policy_path),
              bus=bus, hub=hub, limiter=make_limiter(settings),
              media=MediaStore(settings.media_dir, settings.max_image_pixels),
              workers=WorkerKeys(session_factory(engine)),
              notify=Topics(lambda topic, payload, team_id: ctx.publish(topic, payload, team_id)),
              publishers=publishers, site=plan)
    if settings.viid_config is not None:
        ctx.viid = Viid(ctx, load_viid_config(settings.viid_config))
        ctx.viid.on_cameras = lambda rows: viid.publish_cameras(ctx, rows)
        ctx.viid.ensure_cameras()
    mqtt = scaleout.mqtt_publisher(ctx)
    scaleout.attach(ctx, mqtt)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        ctx.frame_event = asyncio.Event()
        await bus.start()
        background: dict[str, Any] = {"camera-sweep": lambda: _sweep_cameras(ctx),
                                      "sensor-sweep": lambda: _sweep_sensors(ctx)}
        if ctx.patrol is not None:
            background["patrol"] = ctx.patrol.run_jobs
        if ctx.viid is not None:
            background["viid-sweep"] = lambda: viid.sweep(ctx)
        background["notify"] = lambda: _notify(ctx)
        keep = retention.Defaults.of(settings.media_snapshot_days, settings.media_clip_days,
                                     settings.media_quota_mb)
        background["media-retention"] = lambda: retention.run(ctx.sessions, ctx.media, keep,
                                                              settings.media_retention_check_s)
        # one replica at a time runs them when SHARPEYES_LEASE_URL is set (api/cluster/scaleout.py)
        jobs = [asyncio.ensure_future(c) for c in scaleout.background(ctx, background, mqtt)]
        try:
            yield
        finally:
            for job in jobs:
                job.cancel()
            for job in jobs:
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            await bus.close()
            engine.dispose()
            health_engine.dispose()

    app = FastAPI(title="SharpEyes api", version=__version__, lifespan=lifespan,
                  description="Incidents from the cameras, patrol dispatch, live updates. See docs/api.md.")
    app.state.ctx = ctx

    @app.exception_handler(OperationalError)
    @app.exception_handler(SATimeoutError)
    async def _db_down(request: Request, exc: Exception) -> JSONResponse:
        # The database is down or unreachable: answer at once and recover by itself when it is back
        # (pool_pre_ping replaces the dead connections).
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                    str(exc).splitlines()[0])
        return JSONResponse(
            status_code=503,
            headers={"Retry-After": "5"},
            content={"detail": "database unavailable: nothing was changed; retry in a few seconds"},
        )

    @app.exception_handler(DomainError)
    async def _refused(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(status_code=http_status(exc), content={"detail": str(exc), "code": exc.code,
                                                                   **exc.extra()})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # keep FastAPI's documented shape (detail: list) and add one readable line; never echo the input
        return JSONResponse(status_code=422, content={"detail": safe_errors(exc.errors()),
                                                      "message": _validation_message(exc)})

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
        # the last line of defence behind the schemas: a value the database refuses (too long for its
        # column, out of range); the transaction was rolled back, nothing was stored
        log.warning("value refused by the database on %s %s: %s", request.method, request.url.path,
                    str(getattr(exc, "orig", exc)).splitlines()[0][:300])
        return JSONResponse(status_code=422, content={
            "detail": "a value does not fit what the database stores (too long or out of range): nothing "
                      "was stored; check the lengths and numbers against the api docs", "code": "invalid"})

    @app.exception_handler(OverflowError)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # an integer no column holds (SQLite: beyond 64 bits), from a route without its own bound
        return JSONResponse(status_code=422, content={
            "detail": "a number is out of range (at most 2147483647 for an id): nothing was stored",
            "code": "invalid"})

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": "request nested too deeply: flatten it",
                                                      "code": "invalid"})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route of the path; list the methods of all of them
            headers["Allow"] = ", ".join(sorted(allowed_methods(app, request.url.path)))
        content: dict[str, Any] = {"detail": exc.detail}
        if isinstance(getattr(exc, "code", None), str):
            content["code"] = exc.code   # type: ignore[attr-defined]
        return JSONResponse(content, status_code=exc.status_code, headers=headers)

    # its own connection and threads: a burst that fills the pool or the thread pool does not stall it
    health_engine = make_engine(settings.db_url, pooled=False)
    health_threads = anyio.CapacityLimiter(2)

    @app.get("/api/health", response_model=HealthOut, tags=["health"], summary="Liveness and database check")
    async def health() -> HealthOut:
        def check() -> None:
            with health_engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        await anyio.to_thread.run_sync(check, limiter=health_threads)
        return HealthOut(status="ok", db=engine.dialect.name, version=__version__)

    for module in (users, ingest, incidents, cameras, camera_configs, site, teams, media, stats, public,
                   residents, viid, calls, sensors, notify,
                   reports, parking):
        app.include_router(module.router)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket_endpoint(websocket, ctx)

    mount_dashboard(app, settings.dashboard_dir or DASHBOARD_DIR)
    limits = guard_limits(settings)
    if ctx.viid is not None:   # lists with base64 images: the 视图库's own limit, answered in its form
        limits.uploads.append((re.compile(r"^/VIID/"), ctx.viid.config.section.max_body_bytes))
    app.add_middleware(Guard, limits=lambda: limits)
    return app


def guard_limits(settings: Settings) -> Limits:
    """The request size limits of the guard (api/guard.py): a route's upload limit by its path."""
    from api.routes.ingest import MAX_FRAME_BYTES
    from api.services.residents import MAX_PHOTOS

    return Limits(max_body_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_photo_bytes,
                  body_timeout_s=settings.body_timeout_s,
                  uploads=[(re.compile(r"^/api/ingest/media$"), max(settings.max_clip_bytes,
                                                                     settings.max_photo_bytes)),
                           (re.compile(r"^/api/ingest/cameras/[^/]+/frame$"), MAX_FRAME_BYTES),
                           (re.compile(r"^/api/incidents/[^/]+/photos$"), settings.max_photo_bytes),
                           (PUBLIC_REPORTS, MAX_PHOTOS * settings.resident_photo_bytes)],
                  public=[PUBLIC_REPORTS])


# the residents' page: no account (api/routes/public.py)
PUBLIC_REPORTS = re.compile(r"^/api/public/reports$")


def mount_dashboard(app: FastAPI, folder: Path) -> None:
    """Hook for the dashboard: serve dashboard/m at /m (phone page) and dashboard/ at / when present."""
    if not (folder / "index.html").is_file():
        return
    if (folder / "m" / "index.html").is_file():
        app.router.routes.append(_StaticMount("/m", StaticFiles(directory=folder / "m", html=True),
                                              name="dashboard-mobile"))
    app.router.routes.append(_StaticMount("/", StaticFiles(directory=folder, html=True), name="dashboard"))


def allowed_methods(app: FastAPI, path: str) -> set[str]:
    """Methods the OpenAPI schema lists for the path (FastAPI's included routers are not plain routes)."""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "allow_table", None)
    if table is None:
        table = [(re.compile("^" + re.sub(r"\\{[^}/]+\\}", "[^/]+", re.escape(p)) + "$"),
                  {m.upper() for m in ops})
                 for p, ops in app.openapi().get("paths", {}).items()]
        app.state.allow_table = table
    return {m for rx, methods in table if rx.match(path) for m in methods}


class _StaticMount(Mount):
    """A static mount that never claims api paths, so `/api/...` keeps JSON 404s and correct 405 Allow
    headers."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("path", "").startswith(API_PREFIXES):
            return Match.NONE, {}
        return super().matches(scope)


API_PREFIXES = ("/api/", "/ws", "/docs", "/redoc", "/openapi.json", "/VIID")


__all__ = ["create_app", "mount_dashboard"]
