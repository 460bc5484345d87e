"""Sensors (docs/sensors.md): households and devices (operators), readings and alarms over HTTP for devices
that can only POST (X-Device-Key), device health, refusals, and the evidence of a sensor incident."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from api.db.sensor_models import Device, Household, SensorIncident, SensorRefusal
from api.deps import AnyUser, CtxDep, Operator, SessionDep
from api.errors import NotFound
from api.sensor_schemas import (
    AcceptedOut,
    DeviceCreated,
    DeviceIn,
    DeviceOut,
    HouseholdIn,
    HouseholdOut,
    RefusalOut,
    SensorEvidenceOut,
)
from api.validation import INT4_MAX
from api.views import ERRORS

router = APIRouter(prefix="/api/sensors", tags=["sensors"], responses=ERRORS)


@router.post("/households", response_model=HouseholdOut, status_code=status.HTTP_201_CREATED,
             summary="Add a household (关爱对象: care=true, with a contact)")
def add_household(body: HouseholdIn, _: Operator, ctx: CtxDep) -> HouseholdOut:
    h = ctx.sensors.add_household(body.id, body.name, body.place, body.care, body.contact_name,
                                  body.contact_phone, body.timezone)
    return HouseholdOut.model_validate(h)


@router.get("/households", response_model=list[HouseholdOut], summary="Households")
def households(_: Operator, session: SessionDep) -> list[HouseholdOut]:
    return [HouseholdOut.model_validate(h) for h in session.scalars(select(Household).order_by(Household.id))]


@router.post("/devices", response_model=DeviceCreated, status_code=status.HTTP_201_CREATED,
             summary="Register a device; its key is shown once")
def add_device(body: DeviceIn, _: Operator, ctx: CtxDep) -> DeviceCreated:
    dev, key = ctx.sensors.add_device(body.id, body.kind, body.place, body.household, body.silence_s,
                                      body.key)
    return DeviceCreated.model_validate({**DeviceOut.model_validate(dev).model_dump(), "key": key})


@router.get("/devices", response_model=list[DeviceOut],
            summary="Devices and their health (last seen, battery)")
def devices(_: Operator, session: SessionDep) -> list[DeviceOut]:
    return [DeviceOut.model_validate(d) for d in session.scalars(select(Device).order_by(Device.id))]


@router.get("/refusals", response_model=list[RefusalOut], summary="Refused messages, counted per device")
def refusals(_: Operator, session: SessionDep) -> list[RefusalOut]:
    return [RefusalOut.model_validate(r) for r in
            session.scalars(select(SensorRefusal).order_by(SensorRefusal.count.desc()))]


@router.get("/incidents/{incident_id}", response_model=SensorEvidenceOut,
            summary="What a sensor rule saw: device, household contact, the last 48 h (water meters)")
def evidence(incident_id: Annotated[int, Path(ge=1, le=INT4_MAX, description="The incident's id")],
             _: AnyUser, session: SessionDep) -> SensorEvidenceOut:
    row = session.scalar(select(SensorIncident).where(SensorIncident.incident_id == incident_id))
    if row is None:
        raise NotFound(f"incident {incident_id} was not opened by a sensor")
    return SensorEvidenceOut(incident_id=incident_id, device=row.device_id, household=row.household_id,
                             anomaly=row.anomaly, evidence=row.evidence)


@router.post("/{device}/{kind}", response_model=AcceptedOut, status_code=status.HTTP_202_ACCEPTED,
             summary="A reading or an alarm from a device that can only POST (body as on MQTT)")
async def post_message(
    request: Request, ctx: CtxDep,
    device: Annotated[str, Path(max_length=100)], kind: Literal["reading", "alarm"],
    x_device_key: Annotated[str | None, Header(description="The device key (or `key` in the body)")] = None,
) -> AcceptedOut:
    body = await request.body()
    got = await run_in_threadpool(ctx.sensors.accept, device, kind, body, x_device_key)
    return AcceptedOut(device=got.device, stored=got.stored, incidents=got.incidents)
