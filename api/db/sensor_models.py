"""Tables of the sensors (docs/sensors.md): households, devices, readings, refusals, sensor incidents,
parking occupancy and fired actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db.models import Base, utcnow


class Household(Base):
    """A household a device belongs to; `care`: a 关爱对象 (an elderly person living alone)."""

    __tablename__ = "households"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    place: Mapped[str | None] = mapped_column(String(100))
    care: Mapped[bool] = mapped_column(default=False)
    contact_name: Mapped[str] = mapped_column(String(100), default="")
    contact_phone: Mapped[str] = mapped_column(String(50), default="")
    timezone: Mapped[str] = mapped_column(String(50), default="Asia/Shanghai")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))   # smoke gas water_meter door sos_button elevator
    place: Mapped[str | None] = mapped_column(String(100))
    household_id: Mapped[str | None] = mapped_column(ForeignKey("households.id"))
    key_hash: Mapped[str] = mapped_column(String(64))
    silence_s: Mapped[int] = mapped_column(default=6 * 3600)
    last_seen_at: Mapped[datetime | None] = mapped_column()
    battery: Mapped[float | None] = mapped_column(Float)
    last_value: Mapped[float | None] = mapped_column(Float)
    readings: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reading(Base):
    """One reading or alarm; (device, at, kind) is unique, so a message sent twice is stored once."""

    __tablename__ = "readings"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    kind: Mapped[str] = mapped_column(String(10))       # reading | alarm
    at: Mapped[datetime] = mapped_column()
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20), default="")
    battery: Mapped[float | None] = mapped_column(Float)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("device_id", "at", "kind", name="uq_readings_device_at_kind"),
                      Index("ix_readings_device_at", "device_id", "at"))


class SensorRefusal(Base):
    """Refused messages, counted per device name as sent (an unknown device too)."""

    __tablename__ = "sensor_refusals"
    device: Mapped[str] = mapped_column(String(100), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    last_reason: Mapped[str] = mapped_column(Text, default="")
    last_at: Mapped[datetime] = mapped_column(default=utcnow)


class SensorIncident(Base):
    """What a sensor rule opened an incident for: the device, household, anomaly and its evidence."""

    __tablename__ = "sensor_incidents"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    household_id: Mapped[str | None] = mapped_column(String(100))
    anomaly: Mapped[str] = mapped_column(String(50))
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Occupancy(Base):
    """A parking zone's vehicle count at one time (the occupancy rule of the vision pipeline)."""

    __tablename__ = "occupancy"
    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(100))
    zone: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column()
    count: Mapped[int] = mapped_column()
    capacity: Mapped[int] = mapped_column()
    __table_args__ = (Index("ix_occupancy_zone_at", "camera_id", "zone", "at"),)


class FiredAction(Base):
    """A rule action fired for an event (an elevator hold); the unique key fires it once per event."""

    __tablename__ = "fired_actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100))
    index: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(30))
    target: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    acked_at: Mapped[datetime | None] = mapped_column()
    at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("event_id", "index", name="uq_fired_actions_event_index"),)
