"""The `/ws` endpoint: sign-in by `token` query parameter, replay of the current state, then live messages."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from api.context import Ctx
from api.db.models import Camera, Incident, Team
from api.deps import user_from_token
from api.live.hub import Client
from api.schemas import CameraOut, TeamOut
from api.services.lifecycle import ACTIVE
from api.views import incidents_out

REPLAY_CLOSED_HOURS = 24


def current_state(ctx: Ctx, role: str, team_id: int | None) -> list[tuple[str, dict[str, Any]]]:
    """What a client of this role must know on (re)connect, as (topic, payload) messages."""
    from datetime import UTC, datetime, timedelta

    out: list[tuple[str, dict[str, Any]]] = []
    with ctx.sessions() as s:
        if role in ("admin", "operator"):
            since = datetime.now(UTC) - timedelta(hours=REPLAY_CLOSED_HOURS)
            rows = s.scalars(
                select(Incident)
                .where((Incident.state.in_(ACTIVE)) | (Incident.updated_at >= since))
                .order_by(Incident.id)
            ).all()
            for item in incidents_out(s, rows):
                out.append(("incidents", item.model_dump(mode="json")))
            for team in s.scalars(select(Team).order_by(Team.id)):
                out.append(("teams", TeamOut.model_validate(team).model_dump(mode="json")))
            for cam in s.scalars(select(Camera).order_by(Camera.id)):
                out.append((f"cameras/{cam.id}/state", CameraOut.model_validate(cam).model_dump(mode="json")))
            tasks = s.scalars(select(Incident).where(Incident.team_id.is_not(None),
                                                     Incident.state.in_(ACTIVE))
                              .order_by(Incident.id)).all()
        else:
            mine = s.get(Team, team_id) if team_id is not None else None
            if mine is not None:
                out.append(("teams", TeamOut.model_validate(mine).model_dump(mode="json")))
            tasks = s.scalars(select(Incident).where(Incident.team_id == team_id, Incident.state.in_(ACTIVE))
                              .order_by(Incident.id)).all() if team_id is not None else []
        for item in incidents_out(s, tasks, "leader"):
            out.append(("tasks", item.model_dump(mode="json")))
    return out


async def websocket_endpoint(websocket: WebSocket, ctx: Ctx) -> None:
    token = websocket.query_params.get("token", "")

    def who() -> tuple[str, int | None] | None:
        with ctx.sessions() as s:
            user = user_from_token(ctx, s, token)
            return (user.role, user.team_id) if user else None

    found = await run_in_threadpool(who) if token else None
    if found is None:
        # 4401 = not signed in; the page should sign in again rather than retry. Accepted first: a close
        # before the handshake reaches the browser as an HTTP 403 (code 1006), which it would retry for ever
        await websocket.accept()
        await websocket.close(code=4401, reason="token missing, invalid or expired: sign in again")
        return
    await websocket.accept()
    client = Client(websocket, found[0], found[1])
    ctx.hub.add(client)   # before reading the state, so nothing published meanwhile is missed
    writer: asyncio.Task[None] | None = None
    try:
        replay = await run_in_threadpool(current_state, ctx, client.role, client.team_id)
        writer = asyncio.create_task(ctx.hub.writer(client, replay))
        reader = asyncio.create_task(_drain(websocket))
        done, _ = await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
        for task in (writer, reader):
            if task not in done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                    await task
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        ctx.hub.remove(client)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, e.g. pings; ends when it disconnects."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            msg = await websocket.receive()
            if msg["type"] == "websocket.disconnect":
                return
