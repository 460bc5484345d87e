"""SharpEyes as a lower platform (下级): push the worker's own findings to an upper 视图库 over GA/T 1400.4.

The worker registers with the upper platform (HTTP digest), keeps alive, reports its cameras as APEs and
posts each finding once as a structured record with its snapshot (a person -> /VIID/Persons, a car, truck or
bus -> /VIID/MotorVehicles, a bicycle or motorcycle -> /VIID/NonMotorVehicles). Records wait in their own
durable outbox (SQLite) and leave in order; an item is deleted only when the upper platform answered it with
StatusCode 0, so nothing is lost while it is down, and a resend is harmless (the record id is stable).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from worker.outbox import Item, Outbox

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 5.0
BATCH = 20
# label -> (route, list key, object key, id key, object type code, time key)
_PERSON = ("Persons", "PersonListObject", "PersonObject", "PersonID", "01", "LocationMarkTime")
_MOTOR = ("MotorVehicles", "MotorVehicleListObject", "MotorVehicleObject", "MotorVehicleID", "02", "PassTime")
_NON_MOTOR = ("NonMotorVehicles", "NonMotorVehicleListObject", "NonMotorVehicleObject", "NonMotorVehicleID",
              "12", "MarkTime")
KINDS = {"person": _PERSON, "car": _MOTOR, "truck": _MOTOR, "bus": _MOTOR, "bicycle": _NON_MOTOR,
         "motorcycle": _NON_MOTOR}
LISTS = {k[0]: k[1:3] for k in KINDS.values()}


@dataclass(frozen=True)
class UpperConfig:
    url: str                    # the upper 视图库, e.g. http://10.1.2.3:8080 (routes under /VIID)
    device_id: str              # this platform's 20-digit id, registered there with its password
    password: str
    keepalive_s: float = 30.0
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if not (len(self.device_id) == 20 and self.device_id.isdigit()):
            raise ValueError(f"upper device id {self.device_id!r} is not a GA/T 1400 id (20 digits)")


def ape_id(device_id: str, camera: str, taken: frozenset[str] | set[str] = frozenset()) -> str:
    """A camera of this platform as an APE: the device id's region and trade digits, type 132 (camera), and a
    serial from the camera's name, so a camera keeps its id when others are added or removed and across
    restarts (the upper platform files its records by it). A serial in `taken` (another camera's: about one
    chance in 100 000 for 100 cameras) moves on to the next one."""
    serial = int(hashlib.sha1(camera.encode()).hexdigest(), 16) % 9_999_999
    while True:
        ape = f"{device_id[:10]}132{serial + 1:07d}"
        if ape not in taken:
            return ape
        serial = (serial + 1) % 9_999_999


def assign_apes(device_id: str, cameras: list[str], known: dict[str, str] | None = None) -> dict[str, str]:
    """`known` plus an APE id for each camera not in it (in name order, where two serials collide)."""
    out = dict(known or {})
    for name in sorted(set(cameras) - set(out)):
        out[name] = ape_id(device_id, name, set(out.values()))
    return out


class UpperPush:
    def __init__(self, config: UpperConfig, cameras: list[str], outbox: Path) -> None:
        self.config = config
        self.tz = ZoneInfo(config.timezone)
        self.apes = assign_apes(config.device_id, cameras)
        self.outbox = Outbox(outbox)
        self.http = httpx.Client(base_url=config.url.rstrip("/"), timeout=15.0,
                                 auth=httpx.DigestAuth(config.device_id, config.password),
                                 headers={"User-Identify": config.device_id})
        self.registered = False
        self.pushed = 0
        self.failures = 0
        self.offered: set[str] = set()
        self.stop = threading.Event()
        self._next_keepalive = 0.0
        self.split = False      # a list was refused whole: send one record at a time until one passes
        self.announce = False   # cameras were added: report the APE list again
        self._thread: threading.Thread | None = None

    def add_cameras(self, cameras: list[str]) -> None:
        """Cameras started after this (`worker --from-api`): their APE ids, reported to the upper platform by
        the pushing thread before its next records."""
        new = [c for c in cameras if c not in self.apes]
        if new:
            self.apes = assign_apes(self.config.device_id, new, self.apes)
            self.announce = True
            log.info("upper 视图库: cameras %s reported as APEs %s", ", ".join(new),
                     ", ".join(self.apes[c] for c in new))

    # --- producing ------------------------------------------------------------------------------------------
    def offer(self, camera: str, messages: list[Any]) -> None:
        """Queue each new finding once, with its snapshot (at its first step that has one, else its end)."""
        items: list[tuple[str, dict[str, Any]]] = []
        for m in messages:
            kind = KINDS.get(m.label)
            if kind is None or m.id in self.offered or camera not in self.apes:
                continue
            snap = Path(m.snapshot) if m.snapshot else None
            has_snap = snap is not None and snap.is_file()
            if not has_snap and m.lifecycle != "end":
                continue
            self.offered.add(m.id)
            image = snap.read_bytes() if snap is not None and has_snap else None
            items.append(("event", {"path": kind[0], "object": self._record(camera, m, kind, image)}))
        self.outbox.put(camera, items)

    def _record(self, camera: str, m: Any, kind: tuple[str, ...], image: bytes | None) -> dict[str, Any]:
        _, _, _, id_key, type_code, time_key = kind
        ape = self.apes[camera]
        at = datetime.fromtimestamp(m.wall_time, UTC) if m.wall_time else datetime.now(UTC)
        shot = at.astimezone(self.tz).strftime("%Y%m%d%H%M%S")
        serial = int(hashlib.sha1(m.id.encode()).hexdigest(), 16) % 100000
        oid = f"{ape}02{shot}{serial:05d}{type_code}{serial:05d}"       # the standard's 48 digits
        x1, y1, x2, y2 = (int(v) for v in m.bbox)
        obj: dict[str, Any] = {id_key: oid, "InfoKind": 1, "SourceID": oid[:41], "DeviceID": ape,
                               "LeftTopX": x1, "LeftTopY": y1, "RightBtmX": x2, "RightBtmY": y2,
                               time_key: shot}
        if id_key != "PersonID":
            obj.update(HasPlate="0", PlateNo="")
        if image is not None:
            obj["SubImageList"] = {"SubImageInfoObject": [{
                "ImageID": f"{oid[:41]}01", "EventSort": 4, "DeviceID": ape, "Type": "14",
                "FileFormat": "Jpeg", "ShotTime": shot, "Data": base64.b64encode(image).decode()}]}
        return obj

    # --- delivering -----------------------------------------------------------------------------------------
    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response | None:
        try:
            return self.http.post(f"/VIID/{path}", json=body)
        except httpx.HTTPError as exc:
            log.debug("upper 视图库 %s not reachable: %s", self.config.url, exc)
            return None

    def _register(self) -> bool:
        dev = self.config.device_id
        r = self._post("System/Register", {"RegisterObject": {"DeviceID": dev}})
        if r is None or r.status_code != 200:
            if r is not None:
                log.warning("upper 视图库 refused registration of %s: %d %s", dev, r.status_code,
                            r.text[:300])
            return False
        self._announce()
        self.registered = True
        self._next_keepalive = time.monotonic() + self.config.keepalive_s
        log.info("registered with the upper 视图库 %s as %s", self.config.url, dev)
        return True

    def _announce(self) -> None:
        """Report the cameras as APEs; again later only if the upper platform could not be reached."""
        apes = [{"ApeID": ape, "Name": name, "Model": "SharpEyes", "IsOnline": "1"}
                for name, ape in self.apes.items()]
        r = self._post("APEs", {"APEListObject": {"APEObject": apes}}) if apes else None
        self.announce = bool(apes) and r is None

    def _keepalive(self) -> None:
        if time.monotonic() < self._next_keepalive:
            return
        r = self._post("System/Keepalive", {"KeepaliveObject": {"DeviceID": self.config.device_id}})
        self._next_keepalive = time.monotonic() + (self.config.keepalive_s if r is not None else 1.0)
        if r is None or r.status_code == 401:
            self.registered = False     # down, or it forgot us: register again before the next push

    def _send(self, items: list[Item]) -> bool:
        """Post one camera's head items of one route; True when the outbox moved on."""
        path = items[0].body["path"]
        items = [i for i in items if i.body["path"] == path]
        list_key, object_key = LISTS[path]
        r = self._post(path, {list_key: {object_key: [i.body["object"] for i in items]}})
        if r is None:
            return False
        if r.status_code == 401:
            self.registered = False
            return False
        try:
            answers = r.json()["ResponseStatusListObject"]["ResponseStatusObject"]
            codes = {str(a.get("Id")): str(a.get("StatusCode")) for a in answers}
        except (ValueError, KeyError, TypeError, AttributeError):
            codes = {}
        id_key = next(k for k in KINDS.values() if k[0] == path)[3]
        if r.status_code == 200 and codes:
            # per object: 0 stored; 7/8 never (dead, for a person to look at); anything else: again later
            code = {i.id: codes.get(str(i.body["object"][id_key]), "0") for i in items}
            ok = [i for i in items if code[i.id] == "0"]
            bad = [i for i in items if code[i.id] in ("7", "8")]
            self.outbox.done([i.id for i in ok])
            self.pushed += len(ok)
            self.split = self.split and not ok
            if bad:
                self.outbox.dead(bad, f"refused for good: {r.text[:500]}")
            return bool(ok or bad)
        if r.status_code == 400:    # the upper platform will never take these as they are (status 7/8)
            if len(items) > 1:      # which one? send them one by one
                self.split = True
                return False
            log.error("upper 视图库 refused a record for good: %s", r.text[:500])
            self.outbox.dead(items, f"{r.status_code} {r.text[:500]}")
            self.split = False
            return True
        log.warning("upper 视图库 answered %d: %s; retrying", r.status_code, r.text[:300])
        return False

    def run(self) -> None:
        """Until `stop`: register, keep alive, drain the outbox (in order per camera, capped backoff)."""
        backoff = 0.2
        while not self.stop.is_set():
            if not self.registered and not self._register():
                self.failures += 1
                self.stop.wait(min(MAX_BACKOFF_S, backoff))
                backoff *= 2
                continue
            self._keepalive()
            if self.announce:
                self._announce()
            moved = False
            for camera in self.outbox.cameras():
                items = self.outbox.head(camera, 1 if self.split else BATCH)
                if items and self._send(items):
                    moved = True
                elif items:
                    self.failures += 1
                    self.outbox.failed([i.id for i in items])
            if moved:
                backoff = 0.2
            else:
                self.stop.wait(min(MAX_BACKOFF_S, backoff) if self.outbox.pending() else 0.2)
                backoff = min(MAX_BACKOFF_S, backoff * 2) if self.outbox.pending() else 0.2

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="viid-upper", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop pushing; what is unsent stays in the outbox for the next start."""
        self.stop.set()
        if self._thread is not None:
            self._thread.join(20.0)
        self.outbox.close()
        self.http.close()
