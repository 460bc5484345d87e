"""Ingest for workers (X-API-Key): events, camera registration and live state, media, live frames."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, Path, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from api.context import LiveFrame
from api.deps import CtxDep, Worker
from api.schemas import CameraOut, CameraRegister, CameraStateIn, IngestResult, MediaOut
from api.services import cameras, retention
from api.services.ingest import Batch
from api.services.media import attach_event_media
from api.services.workers import WorkerIdentity
from api.views import ERRORS, media_out
from vision.events import EventMessage

router = APIRouter(prefix="/api/ingest", tags=["ingest"], responses=ERRORS)
MAX_BATCH = 2000
MAX_FRAME_BYTES = 2 * 1024 * 1024
DEBUG_WATCH_S = 10.0


def owner_check(ctx: CtxDep, worker: WorkerIdentity) -> Callable[[str, str | None], None]:
    """Forbidden for a camera that belongs to another worker (`WorkerKeys.may_use`)."""
    return lambda camera, owner: ctx.workers.check_owner(worker, camera, owner)


EventBatch = Annotated[list[EventMessage], Field(min_length=1, max_length=MAX_BATCH)]


@router.post("/events", response_model=IngestResult,
             summary="Store one event step or a batch; idempotent on (id, seq)")
async def ingest_events(body: EventMessage | EventBatch, worker: Worker, ctx: CtxDep) -> IngestResult:
    messages = body if isinstance(body, list) else [body]

    names = {m.camera for m in messages}
    cameras = ctx.ingest.cameras.cached(names)
    if cameras is None:
        cameras = await run_in_threadpool(ctx.ingest.cameras.get, names)
    for cam in cameras.values():
        # not its own: allowed only for a freed camera or its pool's (a thread only when the cache lacks it)
        if not ctx.workers.cached_may_use(worker, cam.worker):
            await run_in_threadpool(ctx.workers.check_owner, worker, cam.id, cam.worker)
    stored = await ctx.ingest_queue.submit(Batch(messages, worker.name, cameras))
    return IngestResult.model_validate(stored)


@router.post("/cameras", response_model=list[CameraOut], summary="Register (upsert) the worker's cameras")
def register_cameras(body: Annotated[list[CameraRegister], Field(min_length=1, max_length=500)],
                     worker: Worker, ctx: CtxDep) -> list[CameraOut]:
    regs = [cameras.Registration(c.id, c.name, c.place, c.zones) for c in body]
    items = [CameraOut.model_validate(c) for c in cameras.register(ctx.sessions, ctx.ingest.cameras, regs,
                                                                   worker.name, owner_check(ctx, worker))]
    for item in items:
        ctx.publish(f"cameras/{item.id}/state", item.model_dump(mode="json"))
    return items


@router.post("/cameras/state", response_model=list[CameraOut],
             summary="Live state of the worker's cameras (heartbeat)")
def camera_state(body: Annotated[list[CameraStateIn], Field(min_length=1, max_length=500)],
                 worker: Worker, ctx: CtxDep) -> list[CameraOut]:
    beats = [cameras.Heartbeat(s.camera, s.state, s.fps, s.detail, s.last_event_at) for s in body]
    ctx.camera_load.update({s.camera: s.load for s in body if s.load is not None})
    items = [CameraOut.model_validate(c) for c in cameras.heartbeat(ctx.sessions, beats, worker.name,
                                                                    owner_check(ctx, worker))]
    for item in items:
        # every heartbeat is pushed, so pages see fps and last-seen move
        ctx.publish(f"cameras/{item.id}/state", item.model_dump(mode="json"))
    return items


@router.put("/cameras/{camera_id}/frame", status_code=204, response_class=Response,
            summary="The newest annotated frame (JPEG body) for latest.jpg and live.mjpeg")
async def put_frame(camera_id: Annotated[str, Path(max_length=100)], request: Request, worker: Worker,
                    ctx: CtxDep,
                    view: Annotated[Literal["live", "debug"],
                                    Query(description="debug: the cameras page's debug view")] = "live",
                    ) -> Response:
    data = await request.body()
    if len(data) > MAX_FRAME_BYTES:
        raise HTTPException(413, f"frame is {len(data)} bytes; the limit is {MAX_FRAME_BYTES}")
    if not data.startswith(b"\xff\xd8") or not ctx.media.is_jpeg(data):
        raise HTTPException(415, "frame must be a JPEG image (Content-Type: image/jpeg)")
    if camera_id not in ctx.frames or ctx.frames[camera_id].worker != worker.name:
        await run_in_threadpool(cameras.ensure_known, ctx.sessions, camera_id, owner_check(ctx, worker))
    frames = ctx.debug_frames if view == "debug" else ctx.frames
    old = frames.get(camera_id)
    frames[camera_id] = LiveFrame(data, time.time(), (old.version + 1) if old else 1, worker.name)
    if ctx.frame_event is not None and view == "live":
        ctx.frame_event.set()
    # someone watched the debug view in the last DEBUG_WATCH_S: the worker sends it too (worker/views.py)
    wanted = time.time() - ctx.debug_watch.get(camera_id, 0.0) < DEBUG_WATCH_S
    return Response(status_code=204, headers={"X-Debug-Wanted": "1"} if wanted and view == "live" else None)


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
    # decoded (clip probe, image) before the write lock: one slow file does not hold up the others
    checked = ctx.media.check_clip(data, limit) if kind == "clip" else ctx.media.check_image(data, limit)
    quota = retention.Defaults.of(0, 0, ctx.settings.media_quota_mb).quota_bytes
    with ctx.sessions() as session, retention.WRITE_LOCK:
        row, changed = attach_event_media(session, ctx.media, event_id, kind, data, limit,
                                          f"worker:{worker.name}", owner_check(ctx, worker), checked)
        retention.enforce_quota(ctx.sessions, ctx.media, quota)   # oldest first, this file included
        out = media_out(row)
        if changed is not None:   # snapshot or clip: the pages fetch the incident's media again
            ctx.notify.incidents(session, [changed])
    return out
