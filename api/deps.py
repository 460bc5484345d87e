"""Shared dependencies of the routes: the app context, sessions, the current user, worker keys, roles."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import AuditEntry, User, WorkerKey
from api.live.bus import EventBus
from api.live.hub import Hub
from api.services.accounts import key_hash, read_token
from api.services.policy import Policy
from api.settings import Settings


@dataclass
class LiveFrame:
    jpeg: bytes
    at: float
    version: int


@dataclass
class Ctx:
    """Everything a request may need, built once by create_app()."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    policy: Policy
    bus: EventBus
    hub: Hub
    limiter: Any
    media: Any
    patrol: Any = None
    frames: dict[str, LiveFrame] = field(default_factory=dict)
    frame_event: asyncio.Event | None = None
    _keys: dict[str, tuple[float, str, str | None]] = field(default_factory=dict)
    cameras: dict[str, Any] = field(default_factory=dict)     # id -> CameraInfo, for ingest
    # SQLite has one writer: ingest takes this lock instead of busy-waiting on the database's lock
    write_lock: Any = field(default_factory=threading.Lock)
    ingest_queue: Any = None

    def camera_infos(self, names: set[str]) -> dict[str, Any]:
        """CameraInfo for the known cameras among `names` (cached; registration refreshes it)."""
        from api.db.models import Camera
        from api.services.incidents import CameraInfo

        missing = names - self.cameras.keys()
        if missing:
            with self.sessions() as s:
                for c in s.scalars(select(Camera).where(Camera.id.in_(missing))):
                    self.cameras[c.id] = CameraInfo(c.id, c.name, c.place)
        return {n: self.cameras[n] for n in names if n in self.cameras}

    def writing(self) -> Any:
        return self.write_lock if self.settings.is_sqlite else contextlib.nullcontext()

    def audit(self, actor: str, action: str, target: str = "", detail: str = "") -> None:
        with self.sessions() as s:
            s.add(AuditEntry(actor=actor, action=action, target=target, detail=detail[:2000]))
            s.commit()

    def cached_worker(self, key: str) -> tuple[str, str | None] | None:
        """The cached (worker name, pool) of a key, without touching the database."""
        hit = self._keys.get(key_hash(key))
        if hit and hit[0] > time.monotonic():
            return hit[1], hit[2]
        return None

    def worker_for_key(self, key: str) -> tuple[str, str | None] | None:
        """(worker name, pool) of a valid key; cached for 10 s so ingest does not hit the table each time."""
        h = key_hash(key)
        hit = self._keys.get(h)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1], hit[2]
        with self.sessions() as s:
            row = s.scalars(select(WorkerKey).where(WorkerKey.key_hash == h, WorkerKey.revoked.is_(False))).first()
        if row is None:
            self._keys.pop(h, None)
            return None
        self._keys[h] = (now + 10.0, row.name, row.pool)
        return row.name, row.pool

    def forget_keys(self) -> None:
        self._keys.clear()


async def get_ctx(request: Request) -> Ctx:  # async: FastAPI would run a plain def in the threadpool
    ctx: Ctx = request.app.state.ctx
    return ctx


CtxDep = Annotated[Ctx, Depends(get_ctx)]


def get_session(ctx: CtxDep) -> Iterator[Session]:
    with ctx.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def user_from_token(ctx: Ctx, session: Session, token: str) -> User | None:
    claims = read_token(ctx.settings.secret_key, token)
    if claims is None:
        return None
    user = session.get(User, claims.user_id)
    if user is None or not user.active:
        return None
    return user


def get_current_user(
    request: Request, ctx: CtxDep, session: SessionDep,
    authorization: Annotated[str | None, Header(description="Bearer TOKEN")] = None,
    token: Annotated[str | None, Query(description="The bearer token, for <img>/<video> and websocket URLs")] = None,
) -> User:
    raw = token
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value:
            raw = value.strip()
    if not raw:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not signed in: send 'Authorization: Bearer TOKEN' from POST /api/auth/login",
                            headers={"WWW-Authenticate": "Bearer"})
    user = user_from_token(ctx, session, raw)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "token invalid or expired: sign in again",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require(*roles: str) -> Callable[..., User]:
    def check(user: CurrentUser, ctx: CtxDep, request: Request) -> User:
        if user.role not in roles:
            # refused and logged: a leader's token on an operator route is worth an audit line
            ctx.audit(f"user:{user.name}", "role_refused", f"{request.method} {request.url.path}"[:200],
                      f"role {user.role}; needs {' or '.join(roles)}")
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role '{user.role}' may not do this (needs {' or '.join(roles)})")
        return user

    return check


Operator = Annotated[User, Depends(require("admin", "operator"))]
Admin = Annotated[User, Depends(require("admin"))]
AnyUser = Annotated[User, Depends(require("admin", "operator", "leader"))]


@dataclass(frozen=True)
class WorkerIdentity:
    name: str
    pool: str | None


async def get_worker(ctx: CtxDep, request: Request,
                     x_api_key: Annotated[str | None, Header(description="Worker API key (sharpeyes user key)")] = None,
                     x_worker_pool: Annotated[str | None, Header(description="The worker's pool (--pool); required "
                                                                 "when its key is bound to a pool")] = None,
                     ) -> WorkerIdentity:
    if not x_api_key:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "no worker key: send it in the X-API-Key header")
    found = ctx.cached_worker(x_api_key)
    if found is None:
        found = await run_in_threadpool(ctx.worker_for_key, x_api_key)
    if found is None:
        addr = request.client.host if request.client else "?"
        await run_in_threadpool(ctx.audit, f"addr:{addr}", "worker_key_refused", request.url.path)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "worker key not valid or revoked: check --key")
    name, pool = found
    if pool and x_worker_pool != pool:
        # keys are bound to a pool: refused and logged, as on the event stream
        await run_in_threadpool(ctx.audit, f"worker:{name}"[:100], "worker_pool_refused", request.url.path[:200],
                                f"key of pool {pool!r} used for pool {x_worker_pool or ''!r}")
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"worker key of pool {pool!r} used for pool "
                                                       f"{x_worker_pool or ''!r}: run the worker with --pool {pool}")
    return WorkerIdentity(name, pool)


Worker = Annotated[WorkerIdentity, Depends(get_worker)]
