"""Parking occupancy (docs/sensors.md, "Parking"): samples from the occupancy rules of the cameras' parking
zones (vision/rules/occupancy.py, sent by the worker), stored as a series per zone; the current figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import utcnow
from api.db.sensor_models import Occupancy
from api.errors import Invalid
from api.services.ingest import CameraCache


@dataclass(frozen=True)
class Sample:
    camera: str
    zone: str
    count: int
    capacity: int
    wall_time: float | None = None


@dataclass(frozen=True)
class ZoneFigure:
    camera: str
    zone: str
    count: int
    capacity: int
    at: datetime

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.count)

    @property
    def full(self) -> bool:
        return self.count >= self.capacity


def store(session: Session, cameras: CameraCache, samples: Sequence[Sample]) -> int:
    """Store samples (UnknownCamera before anything is written); the caller commits."""
    cameras.get({s.camera for s in samples})
    now = utcnow()
    rows = []
    for s in samples:
        if s.count < 0 or s.capacity < 1:
            raise Invalid(f"{s.camera}/{s.zone}: count must be >= 0 and capacity >= 1")
        at = datetime.fromtimestamp(s.wall_time, UTC) if s.wall_time is not None else now
        if (at - now).total_seconds() > 120:
            raise Invalid(f"{s.camera}/{s.zone}: sample time {at.isoformat()} is in the future")
        rows.append(Occupancy(camera_id=s.camera, zone=s.zone, at=at, count=s.count, capacity=s.capacity))
    session.add_all(rows)
    return len(rows)


def current(session: Session) -> list[ZoneFigure]:
    """The newest sample of every zone."""
    newest = (select(Occupancy.camera_id, Occupancy.zone, func.max(Occupancy.id).label("id"))
              .group_by(Occupancy.camera_id, Occupancy.zone).subquery())
    rows = session.scalars(select(Occupancy).join(newest, Occupancy.id == newest.c.id)
                           .order_by(Occupancy.camera_id, Occupancy.zone))
    return [ZoneFigure(r.camera_id, r.zone, r.count, r.capacity, r.at) for r in rows]
