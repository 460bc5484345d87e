"""Rules on sensor messages (docs/sensors.md): what opens an incident.

- a smoke or gas alarm: a top-severity `fire_alarm` incident at once (an SOS button: an `elderly_care` one);
- a 关爱 household's water meter: leak, silence in its usual active hours, spike (api/services/care.py):
  an `elderly_care` incident naming the household's contact, with the last 48 h as evidence;
- a device silent for longer than its `silence_s`: a `device_maintenance` incident.
One active incident per device and anomaly: a repeat while it is open adds a timeline line instead.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Incident, utcnow
from api.db.sensor_models import Device, Household, Reading, SensorIncident
from api.errors import Invalid
from api.services import care
from api.services.incidents import new_incident, record
from api.services.lifecycle import ACTIVE
from api.services.ports import Services

log = logging.getLogger(__name__)
RULES = care.CareRules()
ALARM_EVENT = {"smoke": "smoke_alarm", "gas": "gas_alarm", "sos_button": "sos_alarm"}
ALARM_TITLE = {"smoke": "烟感报警 smoke alarm", "gas": "燃气报警 gas alarm", "sos_button": "紧急呼叫 SOS"}
CARE_EVENT = {"leak": "care_water_leak", "silence": "care_water_silence", "spike": "care_water_spike"}
CARE_TITLE = {"leak": "关爱: 用水不停 (疑漏水)", "silence": "关爱: 长时间未用水", "spike": "关爱: 用水突增"}


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"timezone {name!r} is unknown: use an IANA name such as Asia/Shanghai") from None


def _active(s: Session, device: str, anomaly: str) -> Incident | None:
    return s.scalar(select(Incident).join(SensorIncident, SensorIncident.incident_id == Incident.id)
                    .where(SensorIncident.device_id == device, SensorIncident.anomaly == anomaly,
                           Incident.state.in_(ACTIVE)).order_by(Incident.id.desc()).limit(1))


def open_incident(ctx: Services, s: Session, dev: Device, anomaly: str, event_type: str, title: str,
                  description: str, at: datetime, evidence: dict[str, object],
                  severity: int | None = None, note_repeat: bool = True) -> int | None:
    """Open one incident for the device's anomaly, or note a repeat on the open one (returns None; the
    periodic sweep notes none, or a silence would add a line a minute)."""
    hh = s.get(Household, dev.household_id) if dev.household_id else None
    current = _active(s, dev.id, anomaly)
    if current is not None:
        if note_repeat:
            record(s, current, f"device:{dev.id}", "sensor_repeat", description, at=at)
            s.commit()
        return None
    if hh is not None and hh.care:
        contact = f"{hh.contact_name} {hh.contact_phone}".strip()
        description = f"{description}. 关爱对象 {hh.name or hh.id}; contact: {contact or 'none given'}"
        evidence = {**evidence, "household": {"id": hh.id, "name": hh.name, "contact_name": hh.contact_name,
                                              "contact_phone": hh.contact_phone}}
    inc = new_incident(s, ctx.policy, title=f"{title} @ {dev.place or dev.id}", event_type=event_type,
                       actor=f"device:{dev.id}", at=at, source="sensor", description=description,
                       severity=severity, place=dev.place or (hh.place if hh else None))
    s.add(SensorIncident(incident_id=inc.id, device_id=dev.id, household_id=dev.household_id,
                         anomaly=anomaly, evidence=evidence))
    s.commit()
    ctx.notify.incidents(s, [inc], fresh={inc.id})
    ctx.patrol.on_new_incidents([inc.id])
    log.info("sensor incident %d: %s on %s", inc.id, anomaly, dev.id)
    return int(inc.id)


def water_series(s: Session, device: str, since: datetime, until: datetime) -> list[tuple[datetime, float]]:
    rows = s.execute(select(Reading.at, Reading.value).where(
        Reading.device_id == device, Reading.kind == "reading", Reading.at >= since, Reading.at <= until,
        Reading.value.is_not(None)).order_by(Reading.at))
    return [(r.at, float(r.value)) for r in rows]


def _care_findings(s: Session, dev: Device, hh: Household, now: datetime, silence: bool
                   ) -> list[tuple[care.Finding, dict[str, object]]]:
    tz = zone_of(hh.timezone)
    if silence and care.used_lately(water_series(s, dev.id, now - timedelta(hours=RULES.silence_active_hours),
                                                 now), now, RULES):
        return []   # the sweep, every minute: most meters rose lately, no need to read five weeks of them
    series = water_series(s, dev.id, now - timedelta(weeks=RULES.history_weeks + 1), now)
    checks = [care.check_leak(series, now, RULES), care.check_spike(series, tz, now, RULES)]
    if silence:
        checks = [care.check_silence(series, tz, now, RULES)]
    found = [f for f in checks if f is not None]
    return [(f, {**f.detail, "series": care.evidence(series, tz, now)}) for f in found]


def on_message(ctx: Services, device: str, kind: str, at: datetime, now: datetime) -> list[int]:
    """Rules that a message just stored may trip (a backfilled old reading trips none)."""
    opened: list[int] = []
    with ctx.sessions() as s:
        dev = s.get(Device, device)
        if dev is None:
            return []
        if kind == "alarm" and dev.kind in ALARM_EVENT:
            inc = open_incident(ctx, s, dev, "alarm", ALARM_EVENT[dev.kind], ALARM_TITLE[dev.kind],
                                f"{dev.kind} alarm from device {dev.id}", at, {"device": dev.id,
                                                                               "at": at.isoformat()},
                                severity=5)
            opened += [inc] if inc is not None else []
        elif dev.kind == "water_meter" and dev.household_id and now - at <= timedelta(hours=1):
            hh = s.get(Household, dev.household_id)
            if hh is not None and hh.care:
                for f, ev in _care_findings(s, dev, hh, at, silence=False):
                    inc = open_incident(ctx, s, dev, f.anomaly, CARE_EVENT[f.anomaly], CARE_TITLE[f.anomaly],
                                        f.summary, at, ev)
                    opened += [inc] if inc is not None else []
    return opened


def sweep(ctx: Services, now: datetime | None = None) -> list[int]:
    """The periodic check: silent devices, and silent 关爱 water meters."""
    now = now or utcnow()
    opened: list[int] = []
    with ctx.sessions() as s:
        for dev in s.scalars(select(Device)).all():
            seen = dev.last_seen_at or dev.created_at
            if now - seen > timedelta(seconds=dev.silence_s):
                inc = open_incident(ctx, s, dev, "silent", "device_silent", "设备失联 device silent",
                                    f"no message from {dev.kind} {dev.id} since {seen.isoformat()} "
                                    f"(expected within {dev.silence_s} s); battery "
                                    f"{'unknown' if dev.battery is None else f'{dev.battery:g}%'}",
                                    now, {"device": dev.id, "last_seen": seen.isoformat(),
                                          "battery": dev.battery}, note_repeat=False)
                opened += [inc] if inc is not None else []
                continue
            if dev.kind != "water_meter" or not dev.household_id:
                continue
            hh = s.get(Household, dev.household_id)
            if hh is None or not hh.care:
                continue
            for f, ev in _care_findings(s, dev, hh, now, silence=True):
                inc = open_incident(ctx, s, dev, f.anomaly, CARE_EVENT[f.anomaly], CARE_TITLE[f.anomaly],
                                    f.summary, now, ev, note_repeat=False)
                opened += [inc] if inc is not None else []
    return opened
