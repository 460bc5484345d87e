"""Cameras: list with live state, the newest annotated frame, and an MJPEG live view."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from api.db.models import Camera
from api.deps import CtxDep, Operator, SessionDep
from api.schemas import CameraOut
from api.views import ERRORS

router = APIRouter(prefix="/api/cameras", tags=["cameras"], responses=ERRORS)
CameraId = Annotated[str, Path(max_length=100)]
JPEG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/jpeg": {}}, "description": "JPEG image"}}


@router.get("", response_model=list[CameraOut], summary="All cameras with their live state")
def list_cameras(_: Operator, session: SessionDep) -> list[CameraOut]:
    return [CameraOut.model_validate(c) for c in session.scalars(select(Camera).order_by(Camera.id))]


@router.get("/{camera_id}", response_model=CameraOut, summary="One camera")
def get_camera(camera_id: CameraId, _: Operator, session: SessionDep) -> CameraOut:
    cam = session.get(Camera, camera_id)
    if cam is None:
        raise HTTPException(404, f"no camera {camera_id!r}")
    return CameraOut.model_validate(cam)


@router.get("/{camera_id}/latest.jpg", response_class=Response, responses=JPEG,
            summary="Newest frame with boxes and zones drawn (token may be a query parameter)")
def latest(camera_id: CameraId, _: Operator, ctx: CtxDep) -> Response:
    frame = ctx.frames.get(camera_id)
    if frame is None:
        raise HTTPException(404, f"no frame from camera {camera_id!r} yet: is its worker running?")
    return Response(frame.jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/{camera_id}/live.mjpeg", response_class=StreamingResponse,
            responses={200: {"content": {"multipart/x-mixed-replace": {}}, "description": "MJPEG stream"}},
            summary="Live view as MJPEG (for <img src>; token may be a query parameter)")
async def live(camera_id: CameraId, _: Operator, ctx: CtxDep) -> StreamingResponse:
    if camera_id not in ctx.frames:
        raise HTTPException(404, f"no frame from camera {camera_id!r} yet: is its worker running?")

    async def stream() -> AsyncIterator[bytes]:
        sent = -1
        idle = 0.0
        while idle < 30.0:  # a camera silent for 30 s ends the stream; the page reconnects
            frame = ctx.frames.get(camera_id)
            if frame is not None and frame.version != sent:
                sent = frame.version
                idle = 0.0
                yield (
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(frame.jpeg)).encode()
                    + b"\r\n\r\n"
                    + frame.jpeg
                    + b"\r\n"
                )
            await asyncio.sleep(0.1)
            idle += 0.1

    return StreamingResponse(stream(), media_type="multipart/x-mixed-replace; boundary=frame",
                             headers={"Cache-Control": "no-store"})
