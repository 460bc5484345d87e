"""A camera's health over the last 24 h from its state changes: the share of time online, how often it had
to reconnect, and its last error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import CameraStateChange

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Health:
    uptime_24h: float | None      # 0..1 of the time the api has known the camera in the window
    reconnects_24h: int
    last_error: str
    last_error_at: datetime | None


def health(sessions: sessionmaker[Session], cameras: list[str], now: datetime | None = None
           ) -> dict[str, Health]:
    now = now or datetime.now(UTC)
    since = now - WINDOW
    with sessions() as s:
        q = (select(CameraStateChange).where(CameraStateChange.camera.in_(cameras))
             .order_by(CameraStateChange.camera, CameraStateChange.at, CameraStateChange.id))
        rows = list(s.scalars(q))
    by_cam: dict[str, list[CameraStateChange]] = {}
    for r in rows:
        by_cam.setdefault(r.camera, []).append(r)
    out: dict[str, Health] = {}
    for cam in cameras:
        changes = by_cam.get(cam, [])
        before = [c for c in changes if c.at < since]
        inside = [c for c in changes if c.at >= since]
        state, start = (before[-1].state, since) if before else (None, inside[0].at if inside else now)
        online = known = 0.0
        t = start
        for c in inside:
            if state is not None:
                span = (c.at - t).total_seconds()
                known += span
                online += span if state == "online" else 0.0
            state, t = c.state, c.at
        if state is not None:
            span = (now - t).total_seconds()
            known += span
            online += span if state == "online" else 0.0
        errors = [c for c in changes if c.state != "online" and c.detail]
        out[cam] = Health(uptime_24h=round(online / known, 4) if known > 0 else None,
                          reconnects_24h=sum(1 for c in inside if c.state == "reconnecting"),
                          last_error=errors[-1].detail if errors else "",
                          last_error_at=errors[-1].at if errors else None)
    return out
