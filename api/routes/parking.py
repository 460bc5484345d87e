"""Parking occupancy: samples from the workers (X-API-Key) and the current figures per zone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from api.deps import AnyUser, CtxDep, SessionDep, Worker
from api.sensor_schemas import OccupancyIn, ParkingOut, ZoneOccupancyOut
from api.services import parking
from api.views import ERRORS

router = APIRouter(tags=["parking"], responses=ERRORS)


@router.post("/api/ingest/occupancy", summary="Occupancy samples of parking zones (from a worker)")
def ingest_occupancy(body: Annotated[list[OccupancyIn], Field(min_length=1, max_length=1000)], _: Worker,
                     ctx: CtxDep) -> dict[str, int]:
    with ctx.sessions() as s:
        n = parking.store(s, ctx.ingest.cameras, [parking.Sample(o.camera, o.zone, o.count, o.capacity,
                                                                 o.wall_time) for o in body])
        s.commit()
    return {"stored": n}


@router.get("/api/parking", response_model=ParkingOut, summary="Free spaces per parking zone, now")
def current(_: AnyUser, session: SessionDep) -> ParkingOut:
    zones = [ZoneOccupancyOut(camera=z.camera, zone=z.zone, count=z.count, capacity=z.capacity, free=z.free,
                              full=z.full, at=z.at) for z in parking.current(session)]
    cap = sum(z.capacity for z in zones)
    used = sum(min(z.count, z.capacity) for z in zones)
    return ParkingOut(zones=zones, capacity=cap, occupied=used, free=cap - used)
