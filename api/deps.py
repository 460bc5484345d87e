"""Shared dependencies of the routes: the app context, sessions, the current user, worker keys, roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from api.context import Ctx
from api.db.models import User
from api.services.accounts import read_token
from api.services.workers import WorkerIdentity


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
    if user is None or not user.active or claims.version != (user.token_version or 0):
        return None   # gone, deactivated, or its tokens revoked (logout, password change)
    return user


def get_current_user(
    request: Request, ctx: CtxDep,
    authorization: Annotated[str | None, Header(description="Bearer TOKEN")] = None,
    token: Annotated[str | None,
                     Query(description="The bearer token, for <img>/<video> and websocket URLs")] = None,
) -> User:
    # ?token= only where a header cannot be sent (<img>, <video>, downloads: GET); writes need the header
    raw = token if request.method in ("GET", "HEAD") else None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value:
            raw = value.strip()
    if not raw:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "not signed in: send 'Authorization: Bearer TOKEN' from POST /api/auth/login",
                            headers={"WWW-Authenticate": "Bearer"})
    # its own short session, closed before the route runs: a refused request (401/403, and its audit line)
    # never holds a pooled connection while it waits for another
    with ctx.sessions() as session:
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
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role '{user.role}' may not do this (needs {' or '.join(roles)})")
        return user

    return check


Operator = Annotated[User, Depends(require("admin", "operator"))]
Admin = Annotated[User, Depends(require("admin"))]
Engineer = Annotated[User, Depends(require("admin", "engineer"))]   # cameras, zones and rules
AnyUser = Annotated[User, Depends(require("admin", "operator", "leader"))]


async def get_worker(ctx: CtxDep, request: Request,
                     x_api_key: Annotated[str | None,
                                          Header(description="Worker API key (sharpeyes user key)")] = None,
                     x_worker_pool: Annotated[str | None,
                                              Header(description="The worker's pool (--pool); required "
                                                                 "when its key is bound to a pool")] = None,
                     ) -> WorkerIdentity:
    if not x_api_key:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "no worker key: send it in the X-API-Key header")
    found = ctx.workers.cached_by_key(x_api_key)
    if found is None:
        found = await run_in_threadpool(ctx.workers.by_key, x_api_key)
    if found is None:
        addr = request.client.host if request.client else "?"
        await run_in_threadpool(ctx.audit, f"addr:{addr}", "worker_key_refused", request.url.path)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "worker key not valid or revoked: check --key")
    name, pool = found.name, found.pool
    if pool and x_worker_pool != pool:
        # keys are bound to a pool: refused and logged, as on the event stream
        await run_in_threadpool(ctx.audit, f"worker:{name}"[:100], "worker_pool_refused",
                                request.url.path[:200],
                                f"key of pool {pool!r} used for pool {x_worker_pool or ''!r}")
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"worker key of pool {pool!r} used for pool "
            f"{x_worker_pool or ''!r}: run the worker with --pool {pool}",
        )
    return found


Worker = Annotated[WorkerIdentity, Depends(get_worker)]
