"""Request and response shapes of the sensor and parking routes (docs/sensors.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import In
from api.validation import INT4_MAX, JsonInt, TimezoneName


class _In(In):
    """Request bodies: the shared `In` rules (unknown keys, NUL bytes, integers beyond 64 bits, NaN/Infinity,
    deep nesting are refused; api/validation.py)."""


class HouseholdIn(_In):
    id: str = Field(min_length=1, max_length=100, description="Household id, e.g. b3-1201")
    name: str = Field(default="", max_length=200, description="Who lives there (关爱对象's name)")
    place: str | None = Field(default=None, max_length=100, description="Node of the site graph")
    care: bool = Field(default=False, description="A 关爱对象 household: water-meter anomaly rules apply")
    contact_name: str = Field(default="", max_length=100, description="Contact person (family, 网格员)")
    contact_phone: str = Field(default="", max_length=50, description="The contact's phone")
    timezone: TimezoneName = Field(default="Asia/Shanghai", description="IANA zone of the household's day")


class HouseholdOut(BaseModel):
    """As stored (no request checks: a row stored before them still lists)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    place: str | None
    care: bool
    contact_name: str
    contact_phone: str
    timezone: str


class DeviceIn(_In):
    id: str = Field(min_length=1, max_length=100, description="Device id, part of its MQTT topics")
    kind: Literal["smoke", "gas", "water_meter", "door", "sos_button", "elevator"]
    place: str | None = Field(default=None, max_length=100, description="Node of the site graph")
    household: str | None = Field(default=None, max_length=100, description="Household id, where it applies")
    silence_s: JsonInt = Field(default=6 * 3600, ge=1, le=INT4_MAX,
                           description="No message for this long: a maintenance incident")
    key: str | None = Field(default=None, min_length=16, max_length=200,
                            description="The device's key; omitted: one is made and shown once")


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    place: str | None
    household_id: str | None
    silence_s: int
    last_seen_at: datetime | None
    battery: float | None
    last_value: float | None
    readings: int
    refused: int


class DeviceCreated(DeviceOut):
    key: str = Field(description="The device key: shown once, store it on the device")


class RefusalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    device: str
    count: int
    last_reason: str
    last_at: datetime


class AcceptedOut(BaseModel):
    device: str
    stored: bool = Field(description="False: the same message was stored before")
    incidents: list[int] = Field(description="Incidents this message opened")


class SensorEvidenceOut(BaseModel):
    incident_id: int
    device: str
    household: str | None
    anomaly: str
    evidence: dict[str, Any]


class ZoneOccupancyOut(BaseModel):
    camera: str
    zone: str
    count: int
    capacity: int
    free: int
    full: bool
    at: datetime


class ParkingOut(BaseModel):
    zones: list[ZoneOccupancyOut]
    capacity: int
    occupied: int
    free: int


class OccupancyIn(_In):
    camera: str = Field(min_length=1, max_length=100)
    zone: str = Field(min_length=1, max_length=100)
    t: float = Field(ge=0, strict=True, description="Seconds from the source start")
    wall_time: float | None = Field(default=None, strict=True,
                                    description="Unix time of the sample at the worker")
    count: JsonInt = Field(ge=0, le=100000, description="Vehicles in the zone (or taken spaces)")
    capacity: JsonInt = Field(ge=1, le=100000, description="Vehicles the zone holds (or its spaces)")
