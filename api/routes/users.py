"""Sign-in, users and worker keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from api.db.civic import Body
from api.db.models import Team, User, WorkerKey
from api.deps import Admin, CtxDep, CurrentUser, SessionDep
from api.schemas import (
    LoginIn,
    TokenOut,
    UserCreate,
    UserOut,
    WorkerKeyCreate,
    WorkerKeyOut,
)
from api.schemas_auth import PasswordChange, UserUpdate
from api.services.accounts import (
    DUMMY_HASH,
    Busy,
    check_password,
    hash_password,
    key_hash,
    make_token,
    new_worker_key,
)
from api.views import ERRORS, commit_new

router = APIRouter(prefix="/api", tags=["users"], responses=ERRORS)


def _find_user(ctx: CtxDep, name: str) -> User | None:
    with ctx.sessions() as s:   # closed before argon2 runs: no pooled connection is held meanwhile
        return s.scalars(select(User).where(User.name == name)).first()


@router.post("/auth/login", response_model=TokenOut, summary="Sign in; returns a bearer token")
async def login(body: LoginIn, request: Request, ctx: CtxDep) -> TokenOut:
    addr = request.client.host if request.client else "?"
    # in threads: the limits may live in Redis (replicas share them), a network call
    wait = await run_in_threadpool(ctx.limiter.retry_after, addr, body.username)
    if wait > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many failed sign-ins for '{body.username}': try again in {int(wait) + 1} s",
                            headers={"Retry-After": str(int(wait) + 1)})
    # counted before the check, so a burst of concurrent tries is limited like a sequence of them
    await run_in_threadpool(ctx.limiter.failed, addr, body.username)
    user = await run_in_threadpool(_find_user, ctx, body.username)
    try:
        ok = await check_password(user.password_hash if user else DUMMY_HASH, body.password)
    except Busy as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc),
                            headers={"Retry-After": "2"}) from exc
    if not ok or user is None or not user.active:
        await run_in_threadpool(ctx.audit, f"addr:{addr}", "login_failed", body.username)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password")
    await run_in_threadpool(ctx.limiter.succeeded, addr, body.username)
    ttl = ctx.settings.token_ttl_s
    token = make_token(ctx.settings.secret_key, user.id, user.role, user.team_id, ttl,
                       user.token_version or 0)
    return TokenOut(access_token=token, expires_in=ttl, user=UserOut.model_validate(user))


def _revoke(ctx: CtxDep, user_id: int, **changes: object) -> User:
    """Apply `changes` to the user and raise its token_version: every token it holds stops working."""
    with ctx.sessions() as s:
        row = s.get(User, user_id)
        if row is None:
            raise HTTPException(404, f"no user {user_id}")
        for k, v in changes.items():
            setattr(row, k, v)
        row.token_version = (row.token_version or 0) + 1
        s.commit()
        return row


@router.post("/auth/logout", status_code=204, response_class=Response,
             summary="Sign out everywhere: every token of the caller stops working")
def logout(user: CurrentUser, ctx: CtxDep) -> Response:
    _revoke(ctx, user.id)
    ctx.audit(user.name, "logout")
    return Response(status_code=204)


@router.post("/auth/password", status_code=204, response_class=Response,
             summary="Change my password (the old one is needed); every token of mine stops working")
async def change_password(body: PasswordChange, user: CurrentUser, ctx: CtxDep) -> Response:
    row = await run_in_threadpool(_find_user, ctx, user.name)
    try:
        ok = row is not None and await check_password(row.password_hash, body.old_password)
    except Busy as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "2"}) from exc
    if not ok:
        raise HTTPException(422, "the old password is wrong: nothing changed")
    await run_in_threadpool(_revoke, ctx, user.id, password_hash=hash_password(body.new_password))
    await run_in_threadpool(ctx.audit, user.name, "password_changed")
    return Response(status_code=204)


@router.patch("/users/{user_id}", response_model=UserOut,
              summary="Deactivate or reactivate a user, or set a password (admin); revokes its tokens")
def update_user(user_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: UserUpdate, admin: Admin,
                ctx: CtxDep) -> UserOut:
    changes: dict[str, object] = {}
    if body.active is not None:
        changes["active"] = body.active
    if body.password is not None:
        changes["password_hash"] = hash_password(body.password)
    row = _revoke(ctx, user_id, **changes)
    ctx.audit(admin.name, "user_changed", row.name, ", ".join(sorted(changes)) or "tokens revoked")
    return UserOut.model_validate(row)


@router.get("/auth/me", response_model=UserOut, summary="The signed-in user")
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.get("/users", response_model=list[UserOut], summary="All users (admin)")
def list_users(_: Admin, session: SessionDep) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in session.scalars(select(User).order_by(User.id))]


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a user (admin)")
def create_user(body: UserCreate, admin: Admin, ctx: CtxDep, session: SessionDep) -> UserOut:
    if body.role == "leader" and body.team_id is None:
        raise HTTPException(422, "a leader needs a team: give team_id")
    if body.team_id is not None and session.get(Team, body.team_id) is None:
        raise HTTPException(404, f"no team {body.team_id}: create it first (POST /api/teams)")
    if body.role in ("department", "grid") and body.body_id is None:
        raise HTTPException(422, f"a {body.role} user needs a body: give body_id (GET /api/bodies)")
    if body.body_id is not None and session.get(Body, body.body_id) is None:
        raise HTTPException(404, f"no body {body.body_id}: create it first (POST /api/bodies)")
    user = User(name=body.name, password_hash=hash_password(body.password), role=body.role,
                team_id=body.team_id, body_id=body.body_id)
    session.add(user)
    commit_new(session, f"user '{body.name}'")
    ctx.audit(admin.name, "user_created", body.name, body.role)
    return UserOut.model_validate(user)


@router.get("/workers", response_model=list[WorkerKeyOut], summary="Worker keys (admin; keys not shown)")
def list_workers(_: Admin, session: SessionDep) -> list[WorkerKeyOut]:
    rows = session.scalars(select(WorkerKey).where(WorkerKey.revoked.is_(False)).order_by(WorkerKey.id))
    return [WorkerKeyOut(id=w.id, name=w.name, pool=w.pool) for w in rows]


@router.post("/workers", response_model=WorkerKeyOut, status_code=201,
             summary="Create a worker key (admin); shown once")
def create_worker(body: WorkerKeyCreate, admin: Admin, ctx: CtxDep, session: SessionDep) -> WorkerKeyOut:
    key = new_worker_key()
    row = WorkerKey(name=body.name, key_hash=key_hash(key), pool=body.pool)
    session.add(row)
    commit_new(session, f"worker '{body.name}'")
    ctx.audit(admin.name, "worker_key_created", body.name)
    return WorkerKeyOut(id=row.id, name=row.name, pool=row.pool, key=key)


@router.delete("/workers/{worker_id}", response_model=WorkerKeyOut, summary="Revoke a worker key (admin)")
def revoke_worker(worker_id: Annotated[int, Path(ge=1)], admin: Admin, ctx: CtxDep,
                  session: SessionDep) -> WorkerKeyOut:
    row = session.get(WorkerKey, worker_id)
    if row is None or row.revoked:
        raise HTTPException(404, f"no active worker key {worker_id}")
    row.revoked = True
    # a unique-free name so the same worker name can be given a new key
    row.name = f"{row.name}#revoked{row.id}"
    session.commit()
    ctx.workers.forget()
    ctx.audit(admin.name, "worker_key_revoked", row.name)
    return WorkerKeyOut(id=row.id, name=row.name, pool=row.pool)
