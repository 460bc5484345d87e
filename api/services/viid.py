"""The 视图库's devices (GA/T 1400.4): registration, keepalive, unregistration, and their cameras' state.

A registered device is online while its keepalives come; one silent for `offline_after` of its intervals
goes offline, and so do the cameras it sends records for (the camera list shows it). Records are
`api.services.viid_records`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import Camera, ViidDevice
from api.services import cameras
from api.services.ingest import Ingest
from api.services.media import MediaStore
from api.services.ports import Notifier
from api.services.viid_config import ViidConfig
from api.services.viid_digest import DigestAuth
from api.settings import Settings


class ViidHost(Protocol):
    """What the 视图库 uses of the app context (`api.context.Ctx` is one)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def media(self) -> MediaStore: ...

    @property
    def ingest(self) -> Ingest: ...

    @property
    def notify(self) -> Notifier: ...


def worker_name(device_id: str) -> str:
    """The cameras table's `worker` of a camera fed by a GA/T 1400 device (the worker sweep skips these)."""
    return f"viid:{device_id}"


class Viid:
    def __init__(self, host: ViidHost, config: ViidConfig) -> None:
        self.host = host
        self.config = config
        self.tz = ZoneInfo(config.section.timezone)
        self.digest = DigestAuth(host.settings.secret_key, config.section.realm)
        self.lock = threading.Lock()    # records: one request at a time judges captures against the last
        self.on_cameras: Callable[[list[Camera]], None] = lambda rows: None

    @property
    def passwords(self) -> dict[str, str]:
        return {k: d.password for k, d in self.config.section.devices.items()}

    def ensure_cameras(self) -> None:
        """Every structured camera of the config has its row (name, place), fed by its device."""
        for device, names in self.config.by_device.items():
            regs = [cameras.Registration(n, self.config.names[n], self.config.places[n], {}) for n in names]
            cameras.register(self.host.sessions, self.host.ingest.cameras, regs, worker_name(device))

    def _set_cameras(self, s: Session, device_id: str, state: str, detail: str,
                     now: datetime) -> list[Camera]:
        names = self.config.by_device.get(device_id, [])
        rows = list(s.scalars(select(Camera).where(Camera.id.in_(names)))) if names else []
        changed = [c for c in rows if c.state != state]
        for cam in rows:
            cam.state, cam.detail, cam.fps, cam.worker = state, detail, None, worker_name(device_id)
            if state == "online":
                cam.last_seen_at = now
        return changed

    def register(self, device_id: str, addr: str) -> None:
        now = datetime.now(UTC)
        with self.host.sessions() as s:
            row = s.get(ViidDevice, device_id) or ViidDevice(id=device_id, apes=[])
            row.state, row.addr, row.registered_at, row.last_seen_at = "online", addr, now, now
            s.add(row)
            changed = self._set_cameras(s, device_id, "online", "GA/T 1400: registered", now)
            s.commit()
        self.on_cameras(changed)

    def keepalive(self, device_id: str, addr: str) -> bool:
        """False when the device is not registered (it must register again)."""
        now = datetime.now(UTC)
        with self.host.sessions() as s:
            row = s.get(ViidDevice, device_id)
            if row is None or row.state != "online":
                return False
            row.last_seen_at, row.addr = now, addr
            changed = self._set_cameras(s, device_id, "online", "GA/T 1400: keepalive", now)
            s.commit()
        self.on_cameras(changed)
        return True

    def unregister(self, device_id: str) -> bool:
        now = datetime.now(UTC)
        with self.host.sessions() as s:
            row = s.get(ViidDevice, device_id)
            if row is None:
                return False
            row.state, row.last_seen_at = "offline", now
            changed = self._set_cameras(s, device_id, "offline", "GA/T 1400: unregistered", now)
            s.commit()
        self.on_cameras(changed)
        return True

    def is_online(self, device_id: str, addr: str) -> bool:
        """A device registered from this address and still within its keepalive."""
        with self.host.sessions() as s:
            row = s.get(ViidDevice, device_id)
            return row is not None and row.state == "online" and row.addr == addr

    def sweep(self, now: datetime | None = None) -> list[Camera]:
        """Devices silent past `offline_after` keepalive intervals go offline with their cameras."""
        now = now or datetime.now(UTC)
        changed: list[Camera] = []
        with self.host.sessions() as s:
            for row in s.scalars(select(ViidDevice).where(ViidDevice.state == "online")):
                dev = self.config.device(row.id)
                interval = dev.keepalive_s if dev else 60.0
                limit = timedelta(seconds=interval * self.config.section.offline_after)
                if row.last_seen_at is None or now - row.last_seen_at > limit:
                    row.state = "offline"
                    silent = (now - row.last_seen_at).total_seconds() if row.last_seen_at else 0.0
                    changed += self._set_cameras(s, row.id, "offline",
                                                 f"GA/T 1400: no keepalive from device {row.id} for "
                                                 f"{silent:.0f} s (interval {interval:g} s)", now)
            s.commit()
        return changed

    def report_apes(self, device_id: str, apes: list[dict[str, object]]) -> list[tuple[str, str]]:
        """Store the capture devices a device reports; (ApeID, what SharpEyes does with it) per APE."""
        out = []
        with self.host.sessions() as s:
            row = s.get(ViidDevice, device_id) or ViidDevice(id=device_id, state="offline", apes=[])
            known = {str(a.get("ApeID")): a for a in row.apes if isinstance(a, dict)}
            for ape in apes:
                ape_id = str(ape.get("ApeID") or "")
                known[ape_id] = {k: v for k, v in ape.items() if k not in ("Password", "UserId")}
                cam = self.config.by_ape.get(ape_id)
                out.append((ape_id, f"camera {cam}" if cam else "stored; mapped to no camera"))
            row.apes = list(known.values())
            s.add(row)
            s.commit()
        return out
