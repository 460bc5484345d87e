"""Cameras as their workers report them: registration (upsert), live state (heartbeat), the frame check.

Two workers may register the same new camera at the same moment (a pool hand-over): the loser of the
insert race gets a unique clash and simply tries again, now as an update.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import Camera, CameraStateChange
from api.errors import Conflict, UnknownCamera
from api.services.ingest import CameraCache

ATTEMPTS = 3


@dataclass(frozen=True)
class Registration:
    id: str
    name: str | None
    place: str | None
    zones: dict[str, object]


@dataclass(frozen=True)
class Heartbeat:
    camera: str
    state: str
    fps: float | None
    detail: str
    last_event_at: datetime | None = None


OwnerCheck = Callable[[str, str | None], None]   # (camera, its owner): Forbidden when not the caller's


def _anyone(camera: str, owner: str | None) -> None:
    return None


def register(sessions: sessionmaker[Session], cache: CameraCache, cams: list[Registration],
             worker: str, check: OwnerCheck = _anyone) -> list[Camera]:
    """Create or update the worker's cameras; Conflict when the race is lost three times running;
    Forbidden (nothing changed) for a camera of another worker."""
    for _ in range(ATTEMPTS):
        try:
            return _upsert(sessions, cache, cams, worker, check)
        except IntegrityError:
            continue
    raise Conflict("camera registration conflicted three times; retry in a second")


def _upsert(sessions: sessionmaker[Session], cache: CameraCache, cams: list[Registration],
            worker: str, check: OwnerCheck) -> list[Camera]:
    out = []
    with sessions() as session:
        for cam in cams:
            row = session.get(Camera, cam.id)
            if row is not None:
                check(row.id, row.worker)
            if row is None:
                row = Camera(id=cam.id)
                session.add(row)
            row.name, row.place, row.zones, row.worker = cam.name or cam.id, cam.place, cam.zones, worker
            out.append(row)
            cache.forget(cam.id)
        session.commit()
    return out


def heartbeat(sessions: sessionmaker[Session], beats: list[Heartbeat], worker: str,
              check: OwnerCheck = _anyone) -> list[Camera]:
    """Store the live state of each camera (UnknownCamera for one never registered); in the order given."""
    now = datetime.now(UTC)
    with sessions() as session:
        wanted = select(Camera).where(Camera.id.in_([b.camera for b in beats]))
        rows = {c.id: c for c in session.scalars(wanted)}
        for b in beats:
            if b.camera not in rows:
                raise UnknownCamera(b.camera)
            check(b.camera, rows[b.camera].worker)
        for b in beats:
            row = rows[b.camera]
            if row.state != b.state:   # the camera's state history: uptime and reconnects over 24 h
                session.add(CameraStateChange(camera=b.camera, state=b.state, detail=b.detail, at=now))
            row.state, row.fps, row.detail = b.state, b.fps, b.detail
            row.last_seen_at, row.worker = now, worker
            if b.last_event_at is not None:
                row.last_event_at = b.last_event_at
        session.commit()
    return [rows[b.camera] for b in beats]


def ensure_known(sessions: sessionmaker[Session], camera: str, check: OwnerCheck = _anyone) -> None:
    with sessions() as session:
        row = session.get(Camera, camera)
        if row is None:
            raise UnknownCamera(camera)
        check(camera, row.worker)
