"""Camera configs (admin, engineer): list with live state and storage, add / edit / disable, the source
tried before saving, history, YAML export and import, the rule form schema; and the feed workers poll."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from api.db.models import Camera
from api.deps import CtxDep, Engineer, Worker
from api.schemas_cameras import (
    CameraConfigIn,
    CameraConfigOut,
    CameraConfigUpdate,
    CameraRowOut,
    ChangeOut,
    EnabledIn,
    OnvifIn,
    OnvifStreamOut,
    ProbeIn,
    ProbeOut,
    RetentionIn,
    SavedOut,
)
from api.services.camera_checks import ConfigInvalid, FieldError, detector_classes
from api.services.camera_health import health
from api.services.onvif_streams import onvif_streams
from api.services.retention import storage_by_camera
from api.services.rule_forms import rule_form_schema
from api.services.stream_secrets import hide
from api.views import ERRORS

router = APIRouter(prefix="/api/camera-configs", tags=["camera configs"], responses=ERRORS)
CameraId = Annotated[str, Path(max_length=100)]
PROBE_TIMEOUT_S = 8.0


def probe(source: str, field: str = "source") -> tuple[bytes, int, int]:
    """The source's first frame as JPEG, or ConfigInvalid at `field` with the decoder's error."""
    import cv2  # not at import: the api app loads no OpenCV until a source is tried

    from vision.errors import SourceError
    from vision.probe import first_frame

    try:
        img = first_frame(source, PROBE_TIMEOUT_S)
    except SourceError as exc:
        raise ConfigInvalid("", [FieldError(field, str(exc))]) from None
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ConfigInvalid("", [FieldError(field, "the first frame could not be encoded as JPEG")])
    return buf.tobytes(), int(img.shape[1]), int(img.shape[0])


def _shown(row: object) -> CameraConfigOut:
    """A stored config as the pages see it: stream passwords as *** (api.services.stream_secrets)."""
    out = CameraConfigOut.model_validate(row)
    out.config = hide(out.config)
    return out


def _probe_named(name: str, config: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    """Try the camera's streams that are new or changed (`source`, and its `detect_source` sub-stream if it
    has one); ConfigInvalid at the field of the one that does not open."""
    for field in ("source", "detect_source"):
        src = config.get(field)
        if not src or (old is not None and old.get(field) == src):
            continue
        try:
            probe(str(src), field)
        except ConfigInvalid as exc:
            raise ConfigInvalid(name, exc.errors) from None


@router.get("", response_model=list[CameraRowOut], summary="Configured cameras with live state and storage")
def list_configs(_: Engineer, ctx: CtxDep) -> list[CameraRowOut]:
    rows = ctx.camera_configs.all()
    with ctx.sessions() as s:
        live = {c.id: c for c in s.scalars(select(Camera))}
        used = storage_by_camera(s)
    well = health(ctx.sessions, [r.camera for r in rows])
    out = []
    for r in rows:
        item = CameraRowOut.model_validate(r)
        item.config = hide(item.config)
        h = well[r.camera]
        item.uptime_24h, item.reconnects_24h = h.uptime_24h, h.reconnects_24h
        item.last_error, item.last_error_at = h.last_error, h.last_error_at
        frame = ctx.frames.get(r.camera)
        if frame is not None:
            item.last_frame_at = datetime.fromtimestamp(frame.at, UTC)
        cam = live.get(r.camera)
        if cam is not None:
            item.state, item.fps, item.detail = cam.state, cam.fps, cam.detail
            item.last_seen_at, item.last_event_at = cam.last_seen_at, cam.last_event_at
            item.worker = cam.worker
        item.detect_fps = float((r.config.get("detect") or {}).get("fps", 5.0))
        item.detector_load = ctx.camera_load.get(r.camera) if item.state == "online" else None
        item.storage_files, item.storage_bytes = used.get(r.camera, (0, 0))
        out.append(item)
    return out


@router.get("/schema", summary="Rule kinds and fields (from the config's models) and each camera's classes")
def schema(_: Engineer, ctx: CtxDep,
           detector: Annotated[str | None, Query(description="A camera whose detector's classes to list")]
           = None) -> dict[str, Any]:
    section = None
    if detector:
        section = ctx.camera_configs.get(detector).config.get("detector")
    names, model = detector_classes(section, ctx.camera_configs.base_dir)
    return {"rules": rule_form_schema(), "classes": names or [], "model": model}


@router.post("/probe", response_model=ProbeOut,
             summary="Try a source: its first frame, or the decoder's error")
async def probe_source(body: ProbeIn, _: Engineer, ctx: CtxDep) -> ProbeOut:
    # a stored camera's URL read back with *** is tried with its stored password
    source = await run_in_threadpool(ctx.camera_configs.reveal, body.source)
    jpeg, w, h = await run_in_threadpool(probe, source)
    return ProbeOut(width=w, height=h, jpeg="data:image/jpeg;base64," + base64.b64encode(jpeg).decode())


@router.post("/onvif", response_model=list[OnvifStreamOut],
             summary="Read an ONVIF camera's profiles and their stream URIs (address and credentials given)")
async def onvif(body: OnvifIn, _: Engineer) -> list[OnvifStreamOut]:
    streams = await onvif_streams(body.host, body.port, body.username, body.password)
    return [OnvifStreamOut.model_validate(s) for s in streams]


@router.get("/export.yaml", response_class=Response,
            responses={200: {"content": {"application/yaml": {}}, "description": "The YAML contract"}},
            summary="Cameras as the YAML contract (all enabled ones, or those named); stream passwords as "
                    "*** unless an admin asks for them")
def export_yaml(user: Engineer, ctx: CtxDep,
                camera: Annotated[list[str] | None, Query(max_length=200)] = None,
                passwords: Annotated[bool, Query(description="Stream passwords in clear (admin only: to move "
                                                             "the cameras to another server)")] = False,
                ) -> Response:
    if passwords:
        if user.role != "admin":
            raise HTTPException(403, "only an admin may export the cameras' stream passwords; without "
                                     "passwords=true they show as *** (an import here keeps them)")
        ctx.audit(user.name, "cameras_exported_with_passwords", ",".join(camera or [])[:200])
    text = ctx.camera_configs.export_yaml(camera, passwords=passwords)
    return Response(text, media_type="application/yaml", headers={"Cache-Control": "no-store"})


@router.post("/import", response_model=list[SavedOut],
             summary="Import a YAML document of the contract: every camera, or none if one is wrong")
def import_yaml(user: Engineer, ctx: CtxDep,
                text: Annotated[str, Body(media_type="application/yaml", max_length=2_000_000)],
                ) -> list[SavedOut]:
    saved = ctx.camera_configs.import_yaml(text, user.name)
    ctx.audit(user.name, "cameras_imported", ",".join(s.camera for s in saved)[:200])
    return [SavedOut.model_validate(s) for s in saved]


@router.get("/feed", summary="What a worker with --from-api runs: the enabled cameras and their revisions")
def feed(_: Worker, ctx: CtxDep) -> dict[str, Any]:
    return ctx.camera_configs.worker_feed()


@router.post("", response_model=SavedOut, status_code=201, summary="Add a camera (its source is tried first)")
def create(body: CameraConfigIn, user: Engineer, ctx: CtxDep) -> SavedOut:
    config = ctx.camera_configs.check(body.name, body.config)
    _probe_named(body.name, config)
    saved = ctx.camera_configs.save(body.name, body.config, user.name, create=True)
    ctx.audit(user.name, "camera_created", body.name)
    return SavedOut.model_validate(saved)


@router.get("/{camera_id}", response_model=CameraConfigOut, summary="One camera's config")
def get_one(camera_id: CameraId, _: Engineer, ctx: CtxDep) -> CameraConfigOut:
    return _shown(ctx.camera_configs.get(camera_id))


@router.put("/{camera_id}", response_model=SavedOut,
            summary="Replace a camera's config (a changed source or sub-stream is tried first)")
def update(camera_id: CameraId, body: CameraConfigUpdate, user: Engineer, ctx: CtxDep) -> SavedOut:
    old = ctx.camera_configs.get(camera_id)
    config = ctx.camera_configs.check(camera_id, body.config)
    _probe_named(camera_id, config, old.config)
    saved = ctx.camera_configs.save(camera_id, body.config, user.name, create=False)
    if saved.changed:
        ctx.audit(user.name, "camera_changed", camera_id, ", ".join(saved.changed))
    return SavedOut.model_validate(saved)


@router.post("/{camera_id}/enabled", response_model=SavedOut, summary="Enable or disable a camera")
def set_enabled(camera_id: CameraId, body: EnabledIn, user: Engineer, ctx: CtxDep) -> SavedOut:
    return SavedOut.model_validate(ctx.camera_configs.set_enabled(camera_id, body.enabled, user.name))


@router.put("/{camera_id}/retention", response_model=CameraConfigOut,
            summary="How many days this camera's snapshots and clips are kept")
def set_retention(camera_id: CameraId, body: RetentionIn, user: Engineer, ctx: CtxDep) -> CameraConfigOut:
    ctx.camera_configs.set_retention(camera_id, body.model_dump(exclude_none=True), user.name)
    return _shown(ctx.camera_configs.get(camera_id))


@router.get("/{camera_id}/history", response_model=list[ChangeOut], summary="Who changed what, when")
def history(camera_id: CameraId, _: Engineer, ctx: CtxDep) -> list[ChangeOut]:
    ctx.camera_configs.get(camera_id)
    out = [ChangeOut.model_validate(c) for c in ctx.camera_configs.history(camera_id)]
    for change in out:
        change.config = hide(change.config)
    return out


@router.get("/{camera_id}/debug.jpg", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}, "description": "JPEG image"}},
            summary="The debug view (boxes, ids, scores, zones, masks, motion, what each rule counts), "
                    "about once a second while asked for (token may be a query parameter)")
def debug_frame(camera_id: CameraId, _: Engineer, ctx: CtxDep) -> Response:
    ctx.debug_watch[camera_id] = time.time()     # the worker hears it with its next live frame
    frame = ctx.debug_frames.get(camera_id)
    if frame is None or time.time() - frame.at > 15.0:
        raise HTTPException(404, f"no debug view of {camera_id!r} yet: its worker sends one within a few "
                                 "seconds of being asked, while the camera runs")
    return Response(frame.jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/{camera_id}/still.jpg", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}, "description": "JPEG image"}},
            summary="A still of the camera to draw on: its source's first frame (token may be a query "
                    "parameter)")
async def still(camera_id: CameraId, _: Engineer, ctx: CtxDep) -> Response:
    row = await run_in_threadpool(ctx.camera_configs.get, camera_id)
    jpeg, _w, _h = await run_in_threadpool(probe, str(row.config.get("source", "")))
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
