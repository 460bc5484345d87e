"""Sensors (docs/sensors.md): households and devices, and one way in for their readings and alarms,
whether they came over MQTT (api/cluster/sensors_mqtt.py) or HTTP (api/routes/sensors.py).

`Sensors.accept` checks a message (known device, its key, the payload's shape, values in range, not from the
future, a meter index that does not run backwards), stores it once (a resent message is a duplicate), keeps
the device's health (last seen, battery) and runs the rules (api/services/sensor_rules.py). A refused
message raises `SensorRefused` after a log line and one more on the device's refusal counter.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.db.models import utcnow
from api.db.sensor_models import Device, Household, Reading, SensorRefusal
from api.errors import Exists, Invalid, NotFound
from api.services import sensor_rules
from api.services.ports import Services

log = logging.getLogger(__name__)

Kind = Literal["smoke", "gas", "water_meter", "door", "sos_button", "elevator"]
MessageKind = Literal["reading", "alarm"]
# accepted value range per device kind, in its unit (water meters: litres, after converting m3)
RANGES: dict[str, tuple[float, float]] = {
    "smoke": (0.0, 100.0), "gas": (0.0, 100.0), "water_meter": (0.0, 1e9), "door": (0.0, 1.0),
    "sos_button": (0.0, 1.0), "elevator": (-10.0, 200.0),
}
UNITS: dict[str, dict[str, float]] = {"water_meter": {"L": 1.0, "l": 1.0, "m3": 1000.0, "": 1.0}}
MAX_PAYLOAD = 16 * 1024
CLOCK_SKEW_S = 120.0            # a device clock this far ahead is still believed
OLDEST = timedelta(days=400)    # older readings are refused (a device with a reset clock)
ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


class SensorRefused(Invalid):
    code = "sensor_refused"

    def __init__(self, device: str, reason: str) -> None:
        super().__init__(f"device {device!r}: {reason}")
        self.device, self.reason = device, reason


class WrongKey(SensorRefused):
    code = "sensor_key"


class UnknownDevice(SensorRefused):
    code = "unknown_device"


class Payload(BaseModel):
    """A reading or alarm as the device sends it (docs/sensors.md)."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(default=None, max_length=200, description="The device key (or X-Device-Key)")
    time: datetime | float = Field(description="When measured: ISO 8601 with a zone, or Unix seconds")
    value: float | None = Field(default=None, description="The reading; alarms may omit it")
    unit: str = Field(default="", max_length=20, description="Unit of value (water meters: L or m3)")
    battery: float | None = Field(default=None, description="Battery, percent 0..100")


@dataclass(frozen=True)
class Accepted:
    device: str
    stored: bool                    # False: the same message was stored before
    incidents: list[int]


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _when(t: datetime | float) -> datetime:
    if isinstance(t, datetime):
        if t.tzinfo is None:
            raise ValueError("time has no zone: add +08:00 or Z")
        return t.astimezone(UTC)
    if not math.isfinite(t):
        raise ValueError("time is not a number")
    return datetime.fromtimestamp(t, UTC)


class Sensors:
    def __init__(self, ctx: Services) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------------------------------ registry

    def add_household(self, hid: str, name: str = "", place: str | None = None, care: bool = False,
                      contact_name: str = "", contact_phone: str = "", timezone: str = "Asia/Shanghai"
                      ) -> Household:
        _check_id(hid, "household")
        sensor_rules.zone_of(timezone)
        with self.ctx.sessions() as s:
            if s.get(Household, hid) is not None:
                raise Exists(f"household {hid!r}")
            h = Household(id=hid, name=name, place=place, care=care, contact_name=contact_name,
                          contact_phone=contact_phone, timezone=timezone)
            s.add(h)
            s.commit()
            return h

    def add_device(self, did: str, kind: str, place: str | None = None, household: str | None = None,
                   silence_s: int = 6 * 3600, key: str | None = None) -> tuple[Device, str]:
        """Register a device; returns it and its key (shown once: only its hash is stored)."""
        _check_id(did, "device")
        if kind not in RANGES:
            raise Invalid(f"device kind {kind!r} is not one of {', '.join(RANGES)}")
        if silence_s < 1:
            raise Invalid("silence_s must be at least 1 second")
        key = key or secrets.token_urlsafe(18)
        with self.ctx.sessions() as s:
            if s.get(Device, did) is not None:
                raise Exists(f"device {did!r}")
            if household is not None and s.get(Household, household) is None:
                raise NotFound(f"no household {household!r}: add it first (POST /api/sensors/households)")
            d = Device(id=did, kind=kind, place=place, household_id=household, key_hash=key_hash(key),
                       silence_s=silence_s)
            s.add(d)
            s.commit()
            return d, key

    # ------------------------------------------------------------------------------------ messages

    def refuse(self, device: str, reason: str, cls: type[SensorRefused] = SensorRefused) -> SensorRefused:
        """Log and count a refused message; returns the error to raise."""
        name = device[:100] if device else "?"
        log.warning("sensor message refused: device=%r reason=%s", name, reason)
        try:
            with self.ctx.sessions() as s:
                dialect = s.get_bind().dialect.name
                ins = pg_insert if dialect == "postgresql" else sqlite_insert
                now = utcnow()
                stmt = ins(SensorRefusal).values(device=name, count=1, last_reason=reason[:500], last_at=now)
                s.execute(stmt.on_conflict_do_update(
                    index_elements=["device"],
                    set_={"count": SensorRefusal.count + 1, "last_reason": reason[:500], "last_at": now}))
                dev = s.get(Device, name)
                if dev is not None:
                    dev.refused += 1
                s.commit()
        except Exception:   # the database away: the log line above still records it
            log.exception("could not count a refused sensor message")
        return cls(name, reason)

    def accept(self, device: str, kind: str, body: bytes | str | dict[str, object],
               header_key: str | None = None, now: datetime | None = None) -> Accepted:
        now = now or utcnow()
        if kind not in ("reading", "alarm"):
            raise self.refuse(device, f"unknown message kind {kind!r}: use reading or alarm")
        if not device or len(device) > 100 or not set(device) <= ID_CHARS:
            raise self.refuse(device, "device id is empty, too long or has characters other than "
                              "letters, digits, _ - .", UnknownDevice)
        if not isinstance(body, dict) and len(body) > MAX_PAYLOAD:
            raise self.refuse(device, f"payload of {len(body)} bytes is over {MAX_PAYLOAD}")
        try:
            data = body if isinstance(body, dict) else json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self.refuse(device, f"malformed payload: not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise self.refuse(device, "malformed payload: a JSON object is needed (docs/sensors.md)")
        try:
            p = Payload.model_validate(data)
            at = _when(p.time)
        except (ValidationError, ValueError, OverflowError, OSError) as exc:
            first = exc.errors()[0] if isinstance(exc, ValidationError) else None
            what = (f"{'.'.join(map(str, first['loc']))}: {first['msg']}" if first else str(exc))
            raise self.refuse(device, f"malformed payload: {what}") from None
        with self.ctx.sessions() as s:
            dev = s.get(Device, device)
            if dev is None:
                raise self.refuse(device, "unknown device: register it (POST /api/sensors/devices)",
                                  UnknownDevice)
            key = p.key or header_key or ""
            if not hmac.compare_digest(key_hash(key), dev.key_hash):
                raise self.refuse(device, "wrong or missing key", WrongKey)
            value = self._check_values(dev, kind, p, at, now, s)
            stored = self._store(s, dev, kind, at, value, p)
            s.commit()
        incidents = sensor_rules.on_message(self.ctx, device, kind, at, now) if stored else []
        return Accepted(device, stored, incidents)

    def _check_values(self, dev: Device, kind: str, p: Payload, at: datetime, now: datetime,
                      s: Session) -> float | None:
        if at > now + timedelta(seconds=CLOCK_SKEW_S):
            raise self.refuse(dev.id, f"time {at.isoformat()} is in the future (now {now.isoformat()}): "
                              "set the device clock")
        if at < now - OLDEST:
            raise self.refuse(dev.id, f"time {at.isoformat()} is more than {OLDEST.days} days old")
        if p.battery is not None and not (0.0 <= p.battery <= 100.0):
            raise self.refuse(dev.id, f"battery {p.battery} is outside 0..100 (percent)")
        if p.value is None:
            if kind == "reading":
                raise self.refuse(dev.id, "malformed payload: a reading needs a value")
            return None
        scale = UNITS.get(dev.kind, {}).get(p.unit) if dev.kind in UNITS else 1.0
        if scale is None:
            raise self.refuse(dev.id, f"unit {p.unit!r} is not one of {', '.join(UNITS[dev.kind])} "
                              f"for a {dev.kind}")
        value = p.value * scale
        lo, hi = RANGES[dev.kind]
        if not math.isfinite(value) or not (lo <= value <= hi):
            raise self.refuse(dev.id, f"value {p.value} {p.unit} is outside {lo:g}..{hi:g} for a {dev.kind}")
        if dev.kind == "water_meter" and kind == "reading":
            before = s.scalar(select(Reading.value).where(
                Reading.device_id == dev.id, Reading.kind == "reading", Reading.at < at
            ).order_by(Reading.at.desc()).limit(1))
            if before is not None and value < before - 1e-6:
                raise self.refuse(dev.id, f"meter index {value:g} L is below the earlier {before:g} L: "
                                  "a meter that ran backwards (replace it, then register it anew)")
        return value

    @staticmethod
    def _store(s: Session, dev: Device, kind: str, at: datetime, value: float | None, p: Payload) -> bool:
        dialect = s.get_bind().dialect.name
        ins = pg_insert if dialect == "postgresql" else sqlite_insert
        row = s.execute(ins(Reading).values(device_id=dev.id, kind=kind, at=at, value=value,
                                            unit="L" if dev.kind == "water_meter" else p.unit,
                                            battery=p.battery, received_at=utcnow())
                        .on_conflict_do_nothing(index_elements=["device_id", "at", "kind"])
                        .returning(Reading.id)).first()
        # heard from now, even when it sends what it measured before or resends a message (a QoS 1 redelivery)
        dev.last_seen_at = utcnow()
        if row is None:
            return False
        dev.readings += 1
        later = s.scalar(select(Reading.at).where(Reading.device_id == dev.id, Reading.at > at).limit(1))
        newest = later is None
        if newest:
            if p.battery is not None:
                dev.battery = p.battery
            if value is not None:
                dev.last_value = value
        return True


def _check_id(value: str, what: str) -> None:
    if not value or len(value) > 100 or not set(value) <= ID_CHARS:
        raise Invalid(f"{what} id {value!r}: use 1-100 letters, digits, _ - . (it is part of MQTT topics)")
