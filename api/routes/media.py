"""Media files (snapshots, clips, photos), served only to users allowed to see their incident."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import FileResponse

from api.db.models import Incident, Media
from api.deps import AnyUser, CtxDep, SessionDep
from api.schemas import ErrorOut
from api.views import ERRORS

router = APIRouter(prefix="/api/media", tags=["media"], responses=ERRORS)


@router.get("/{media_id}", response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {},
                                         "video/mp4": {}},
                             "description": "The file"},
                       410: {"model": ErrorOut, "description": "Removed by media retention (record kept)"}},
            summary="A stored file (token may be a query parameter, for <img>/<video>)")
def get_media(media_id: Annotated[int, Path(ge=1, le=2**31 - 1)], user: AnyUser, ctx: CtxDep,
              session: SessionDep) -> FileResponse:
    row = session.get(Media, media_id)
    if row is not None and user.role == "leader":
        inc = session.get(Incident, row.incident_id) if row.incident_id else None
        if inc is None or inc.team_id != user.team_id:
            row = None
    if row is None:
        raise HTTPException(404, f"no media {media_id} (or not one of your team's)")
    if row.gone_at is not None:
        raise HTTPException(410, f"media {media_id} was removed on {row.gone_at:%Y-%m-%d %H:%M} UTC "
                                 f"({row.gone_reason}); the record is kept")
    path = ctx.media.resolve(row.path)
    if path is None:
        raise HTTPException(404, f"media {media_id} is missing from the media folder")
    return FileResponse(path, media_type=row.content_type, headers={"Cache-Control": "private, max-age=3600"})
