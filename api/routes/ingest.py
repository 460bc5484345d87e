"""Ingest for workers (X-API-Key): events, camera registration and live state, media, live frames."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, Path, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.context import Ctx, LiveFrame
from api.db.models import Camera, Event, Incident, Media
from api.deps import CtxDep, Worker
from api.errors import UnknownCamera
from api.schemas import CameraOut, CameraRegister, CameraStateIn, IngestResult, MediaOut
from api.services.ingest import Batch
from api.views import ERRORS, incidents_out, media_out, publish_incidents
from vision.events import EventMessage

router = APIRouter(prefix="/api/ingest", tags=["ingest"], responses=ERRORS)
MAX_BATCH = 2000
MAX_FRAME_BYTES = 2 * 1024 * 1024

EventBatch = Annotated[list[EventMessage], Field(min_length=1, max_length=MAX_BATCH)]


@router.post("/events", response_model=IngestResult,
             summary="Store one event step or a batch; idempotent on (id, seq)")
async def ingest_events(body: EventMessage | EventBatch, worker: Worker, ctx: CtxDep) -> IngestResult:
    messages = body if isinstance(body, list) else [body]

    names = {m.camera for m in messages}
    cameras = ctx.ingest.cameras.cached(names)
    if cameras is None:
        cameras = await run_in_threadpool(ctx.ingest.cameras.get, names)
    stored = await ctx.ingest_queue.submit(Batch(messages, worker.name, cameras))
    return IngestResult.model_validate(stored)


@router.post("/cameras", response_model=list[CameraOut], summary="Register (upsert) the worker's cameras")
def register_cameras(body: Annotated[list[CameraRegister], Field(min_length=1, max_length=500)],
                     worker: Worker, ctx: CtxDep) -> list[CameraOut]:
    # Two workers may register the same new camera at the same moment (a pool hand-over): the loser of
    # the insert race gets an IntegrityError and simply tries again, now as an update.
    for attempt in range(3):
        try:
            items = _upsert_cameras(body, worker.name, ctx)
            break
        except IntegrityError:
            if attempt == 2:
                raise HTTPException(409,
                                    "camera registration conflicted three times; retry in a second") from None
    for item in items:
        ctx.publish(f"cameras/{item.id}/state", item.model_dump(mode="json"))
    return items


def _upsert_cameras(body: list[CameraRegister], worker: str, ctx: Ctx) -> list[CameraOut]:
    out = []
    with ctx.sessions() as session:
        for cam in body:
            row = session.get(Camera, cam.id)
            if row is None:
                row = Camera(id=cam.id)
                session.add(row)
            row.name = cam.name or cam.id
            row.place = cam.place
            row.zones = cam.zones
            row.worker = worker
            out.append(row)
            ctx.ingest.cameras.forget(cam.id)
        session.commit()
        return [CameraOut.model_validate(c) for c in out]


@router.post("/cameras/state", response_model=list[CameraOut],
             summary="Live state of the worker's cameras (heartbeat)")
def camera_state(body: Annotated[list[CameraStateIn], Field(min_length=1, max_length=500)],
                 worker: Worker, ctx: CtxDep) -> list[CameraOut]:
    now = datetime.now(UTC)
    with ctx.sessions() as session:
        rows = {
            c.id: c for c in session.scalars(select(Camera).where(Camera.id.in_([s.camera for s in body])))
        }
        for s in body:
            if s.camera not in rows:
                raise UnknownCamera(s.camera)
        changed = []
        for s in body:
            row = rows[s.camera]
            moved = row.state != s.state
            row.state, row.fps, row.detail, row.last_seen_at, row.worker = (
                s.state,
                s.fps,
                s.detail,
                now,
                worker.name,
            )
            if s.last_event_at is not None:
                row.last_event_at = s.last_event_at
            if moved:
                changed.append(row)
        session.commit()
        items = [CameraOut.model_validate(rows[s.camera]) for s in body]
    for item in items:
        # every heartbeat is pushed, so pages see fps and last-seen move
        ctx.publish(f"cameras/{item.id}/state", item.model_dump(mode="json"))
    return items


@router.put("/cameras/{camera_id}/frame", status_code=204, response_class=Response,
            summary="The newest annotated frame (JPEG body) for latest.jpg and live.mjpeg")
async def put_frame(camera_id: Annotated[str, Path(max_length=100)], request: Request, worker: Worker,
                    ctx: CtxDep) -> Response:
    data = await request.body()
    if len(data) > MAX_FRAME_BYTES:
        raise HTTPException(413, f"frame is {len(data)} bytes; the limit is {MAX_FRAME_BYTES}")
    if not data.startswith(b"\xff\xd8"):
        raise HTTPException(415, "frame must be a JPEG image (Content-Type: image/jpeg)")
    known = camera_id in ctx.frames
    if not known:
        with ctx.sessions() as session:
            known = session.get(Camera, camera_id) is not None
    if not known:
        raise UnknownCamera(camera_id)
    old = ctx.frames.get(camera_id)
    ctx.frames[camera_id] = LiveFrame(data, time.time(), (old.version + 1) if old else 1)
    if ctx.frame_event is not None:
        ctx.frame_event.set()
    return Response(status_code=204)


@router.post("/media", response_model=MediaOut, status_code=201,
             summary="Upload an event's snapshot (JPEG) or clip (MP4); idempotent on content")
def upload_media(event_id: Annotated[str, Form(min_length=1, max_length=100)],
                 kind: Annotated[Literal["snapshot", "clip"], Form()],
                 file: Annotated[UploadFile, File(description="JPEG snapshot or MP4 clip")],
                 worker: Worker, ctx: CtxDep) -> MediaOut:
    limit = ctx.settings.max_clip_bytes if kind == "clip" else ctx.settings.max_photo_bytes
    if file.size is not None and file.size > limit:
        raise HTTPException(413, f"{kind} is {file.size} bytes; the limit is {limit} bytes")
    data = file.file.read(limit + 1)
    ctype, ext = ctx.media.check_clip(data, limit) if kind == "clip" else ctx.media.check_image(data, limit)
    with ctx.sessions() as session:
        ev = session.get(Event, event_id)
        if ev is None:
            raise HTTPException(404, f"no event {event_id!r}: post the event before its media")


        sha = hashlib.sha256(data).hexdigest()
        dup = session.scalars(select(Media).where(Media.event_id == event_id, Media.kind == kind,
                                                  Media.sha256 == sha)).first()
        if dup is not None:
            return media_out(dup)
        rel, sha = ctx.media.save(kind, data, ext)
        row = Media(kind=kind, incident_id=ev.incident_id, event_id=event_id, path=rel, content_type=ctype,
                    size=len(data), sha256=sha, uploaded_by=f"worker:{worker.name}")
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            ctx.media.delete(rel)
            dup = session.scalars(select(Media).where(Media.event_id == event_id, Media.kind == kind,
                                                      Media.sha256 == sha)).one()
            return media_out(dup)
        out = media_out(row)
        inc = session.get(Incident, ev.incident_id) if ev.incident_id else None
        items = incidents_out(session,
                              [inc]) if inc is not None else []   # snapshot or clip: pages refetch media
    publish_incidents(ctx, items)
    return out
