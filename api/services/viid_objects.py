"""GA/T 1400 list objects -> records: what SharpEyes reads of motor vehicles, non-motor vehicles, persons and
faces as vendors send them (docs/gat1400.md lists the fields), with an error per object naming its field.

A record is a capture: the object's id, the capture device (APE), when it was shot, a plate for vehicles,
its box, and its images (SubImageList/SubImageInfoObject with base64 `Data`).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from api.services.viid_config import DEVICE_ID, GAT_ID

MAX_OBJECTS = 1000
MAX_IMAGES = 10


@dataclass(frozen=True)
class ListKind:
    path: str          # /VIID/<path>
    list_key: str
    object_key: str
    id_key: str
    kind: str          # a ViidRule object kind
    time_keys: tuple[str, ...]


KINDS = {k.path: k for k in (
    ListKind("MotorVehicles", "MotorVehicleListObject", "MotorVehicleObject", "MotorVehicleID",
             "motor_vehicle", ("PassTime", "MarkTime", "AppearTime")),
    ListKind("NonMotorVehicles", "NonMotorVehicleListObject", "NonMotorVehicleObject", "NonMotorVehicleID",
             "non_motor_vehicle", ("MarkTime", "AppearTime")),
    ListKind("Persons", "PersonListObject", "PersonObject", "PersonID", "person",
             ("LocationMarkTime", "PersonAppearTime", "AppearTime")),
    ListKind("Faces", "FaceListObject", "FaceObject", "FaceID", "face",
             ("LocationMarkTime", "FaceAppearTime", "AppearTime")),
)}
NO_PLATE = {"", "无车牌", "无牌", "未识别", "车牌", "unknown", "-"}
_OBJECT_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


class ObjectError(ValueError):
    """One object of a list is not usable; the message names the field and what is expected."""


@dataclass
class Image:
    type: str
    data: bytes


@dataclass
class Record:
    kind: str
    object_id: str
    device_id: str
    shot_at: datetime
    plate: str | None
    bbox: list[float]
    images: list[Image]
    data: dict[str, object] = field(default_factory=dict)   # the object as sent, image Data left out


def parse_time(value: object, tz: ZoneInfo, what: str) -> datetime | None:
    """yyyyMMddHHmmss (the standard's dateTime) in the devices' zone; None when absent."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if not re.fullmatch(r"\d{14}(\d{3})?", text):
        raise ObjectError(f"{what}: {text!r} is not a time as yyyyMMddHHmmss (e.g. 20261201093000)")
    try:
        # stored in UTC: SQLite keeps a datetime's digits and forgets its zone
        return datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=tz).astimezone(UTC)
    except ValueError as exc:
        raise ObjectError(f"{what}: {text!r} is not a real date and time") from exc


def local_time(dt: datetime, tz: ZoneInfo) -> str:
    return dt.astimezone(tz).strftime("%Y%m%d%H%M%S")


def _images(obj: dict[str, object], tz: ZoneInfo) -> tuple[list[Image], list[datetime], list[str]]:
    sub = obj.get("SubImageList")
    if sub in (None, ""):
        return [], [], []
    items = sub.get("SubImageInfoObject") if isinstance(sub, dict) else None
    if not isinstance(items, list):
        raise ObjectError("SubImageList: expected {\"SubImageInfoObject\": [ ... ]}")
    if len(items) > MAX_IMAGES:
        raise ObjectError(f"SubImageList: {len(items)} images; at most {MAX_IMAGES} per object")
    images, times, devices = [], [], []
    for i, item in enumerate(items):
        where = f"SubImageList.SubImageInfoObject[{i}]"
        if not isinstance(item, dict):
            raise ObjectError(f"{where}: expected an object")
        shot = parse_time(item.get("ShotTime"), tz, f"{where}.ShotTime")
        if shot is not None:
            times.append(shot)
        dev = str(item.get("DeviceID") or "")
        if DEVICE_ID.match(dev):
            devices.append(dev)
        data = item.get("Data")
        if data in (None, ""):
            continue     # an image by StoragePath only: kept in the record, not fetched
        if not isinstance(data, str):
            raise ObjectError(f"{where}.Data: expected the image as a base64 string")
        try:
            text = data.split(",", 1)[-1] if data.startswith("data:") else data   # a data: URL, as some send
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ObjectError(f"{where}.Data: not valid base64 ({exc})") from exc
        images.append(Image(str(item.get("Type") or ""), raw))
    return images, times, devices


def _bbox(obj: dict[str, object]) -> list[float]:
    try:
        box = [float(str(obj.get(k) or 0)) for k in ("LeftTopX", "LeftTopY", "RightBtmX", "RightBtmY")]
    except ValueError as exc:
        raise ObjectError("LeftTopX/LeftTopY/RightBtmX/RightBtmY: expected numbers") from exc
    if not all(0 <= v <= 1e6 for v in box):
        raise ObjectError("LeftTopX/LeftTopY/RightBtmX/RightBtmY: expected pixel positions (0 to 1000000)")
    return box


def parse_object(kind: ListKind, obj: object, tz: ZoneInfo, received: datetime) -> Record:
    if not isinstance(obj, dict):
        raise ObjectError("expected an object")
    oid = obj.get(kind.id_key)
    if not isinstance(oid, str) or not _OBJECT_ID.match(oid):
        raise ObjectError(f"{kind.id_key}: missing or not an id (up to 64 letters/digits; the standard's "
                          "is 48 digits: device id, type, time, serial)")
    images, shots, image_devices = _images(obj, tz)
    device = str(obj.get("DeviceID") or "")
    if device and not DEVICE_ID.match(device):
        raise ObjectError(f"DeviceID: {device!r} is not a device id (GA/T 1400: 20 digits)")
    # some devices leave DeviceID empty: the image's DeviceID, else the id's first 20 digits (the source)
    device = device or (image_devices[0] if image_devices else "") or (
        oid[:20] if GAT_ID.match(oid[:20]) else "")
    if not device:
        raise ObjectError("DeviceID: missing, and neither an image's DeviceID nor the object id names the "
                          "capture device")
    shot: datetime | None = None
    for key in kind.time_keys:
        shot = parse_time(obj.get(key), tz, key)
        if shot is not None:
            break
    shot = shot or (min(shots) if shots else None) or received
    plate = None
    if kind.kind == "motor_vehicle" or "PlateNo" in obj:
        raw_plate = str(obj.get("PlateNo") or "").strip()
        plate = None if raw_plate in NO_PLATE or str(obj.get("HasPlate", "1")) == "0" else raw_plate[:20]
    data: dict[str, object] = {k: v for k, v in obj.items() if k != "SubImageList"}
    sub = obj.get("SubImageList")
    items = sub.get("SubImageInfoObject") if isinstance(sub, dict) else None
    data["SubImageList"] = [{k: v for k, v in item.items() if k != "Data"}
                            for item in (items if isinstance(items, list) else []) if isinstance(item, dict)]
    return Record(kind.kind, oid, device, shot, plate, _bbox(obj), images, data)


def parse_list(kind: ListKind, body: object, tz: ZoneInfo,
               received: datetime) -> tuple[list[tuple[str, Record | ObjectError]], str | None]:
    """((object id or '#i', record or its error) per object, None), or ([], what is wrong with the body)."""
    if not isinstance(body, dict) or kind.list_key not in body:
        return [], f"expected {{\"{kind.list_key}\": {{\"{kind.object_key}\": [ ... ]}}}}"
    inner = body[kind.list_key]
    items = inner.get(kind.object_key) if isinstance(inner, dict) else None
    if isinstance(items, dict):
        items = [items]          # one object sent bare instead of in a list: some devices do
    if not isinstance(items, list) or not items:
        return [], f"{kind.list_key}.{kind.object_key}: expected a list of 1 to {MAX_OBJECTS} objects"
    if len(items) > MAX_OBJECTS:
        return [], (f"{kind.list_key}.{kind.object_key}: {len(items)} objects; at most {MAX_OBJECTS} "
                    "per request")
    out: list[tuple[str, Record | ObjectError]] = []
    for i, obj in enumerate(items):
        oid = obj.get(kind.id_key) if isinstance(obj, dict) else None
        label = oid if isinstance(oid, str) and oid else f"#{i}"
        try:
            out.append((label, parse_object(kind, obj, tz, received)))
        except ObjectError as exc:
            out.append((label, ObjectError(f"{kind.object_key}[{i}].{exc}")))
    return out, None
