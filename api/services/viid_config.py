"""The api's GA/T 1400 (视图库) config: the devices that may register, and each structured camera's APEs and
rules (docs/gat1400.md, docs/config.md "viid").

The file has the camera config's shape, so one file can hold a camera's video pipeline (read by the worker)
and its structured records (read here): the api reads the top-level `viid` section and each camera's `name`,
`location` and `viid`; the other camera-config keys are the worker's and are not checked here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from api.errors import ApiError
from patrol.errors import first_error

GAT_ID = re.compile(r"^\d{20}$")              # the standard's ids: region, trade, type, serial
DEVICE_ID = re.compile(r"^[0-9A-Za-z_-]{1,20}$")   # what devices are found set to in the field (e.g. "001")
ObjectKind = Literal["motor_vehicle", "non_motor_vehicle", "person", "face"]
# the worker's keys (vision/config.py): allowed in the file, not read here
VISION_TOP = {"detector", "detect", "tracker", "events", "motion", "objects"}
VISION_CAMERA = {"source", "detect", "zones", "detector", "tracker", "events", "motion", "objects",
                 "clip_start"}


def _gat_id(value: str, what: str) -> str:
    if not DEVICE_ID.match(value):
        raise ValueError(f"{what} {value!r} is not a device id: GA/T 1400 ids are 20 digits (e.g. "
                         "31010400001190000001); up to 20 letters and digits are accepted")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ViidDeviceConfig(_Model):
    password: str = Field(min_length=1, description="Digest password of the device (HTTP digest, RFC 7616)")
    name: str = Field(default="", description="What the device is, for people (e.g. 3号楼 NVR)")
    keepalive_s: float = Field(default=60, gt=0, description="The keepalive interval the device is set to; "
                               "it shows offline after `offline_after` intervals without one")


class ViidRule(_Model):
    objects: list[ObjectKind] = Field(min_length=1, description="Record kinds the rule takes: motor_vehicle, "
                                      "non_motor_vehicle, person, face")
    event: str = Field(min_length=1, max_length=100, description="Event type raised, e.g. ebike_in_elevator")
    zone: str = Field(default="capture", min_length=1, max_length=100,
                      description="Zone name the events carry (incident title, merge key)")
    min_seconds: float = Field(default=0, ge=0, description="0: every capture counts. > 0: only a plate seen "
                               "at this camera across captures for this long (motor vehicles with a plate)")
    gap_s: float = Field(default=180, gt=0, description="With min_seconds: captures of a plate further apart "
                         "than this start a new stay")
    dedup_s: float = Field(default=120, ge=0, description="Captures of one object (same plate, or any object "
                           "without a plate) within this many seconds of the last are one event")

    @model_validator(mode="after")
    def _dwell_needs_vehicles(self) -> ViidRule:
        if self.min_seconds > 0 and self.objects != ["motor_vehicle"]:
            raise ValueError("min_seconds (a plate staying) works on objects: [motor_vehicle] only")
        return self


class ViidCamera(_Model):
    device: str | None = Field(default=None, description="The registered device whose records and keepalive "
                               "are this camera's (an NVR or the camera itself); default: the first APE")
    apes: list[str] = Field(min_length=1, description="Capture devices (ApeID / DeviceID of records) "
                            "that are this camera")
    rules: list[ViidRule] = Field(default_factory=list, description="Records -> events")

    @field_validator("apes")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        return [_gat_id(x, "APE id") for x in v]

    @field_validator("device")
    @classmethod
    def _device(cls, v: str | None) -> str | None:
        return None if v is None else _gat_id(v, "device id")

    @property
    def device_id(self) -> str:
        return self.device or self.apes[0]


class Location(_Model):
    node: str


class CameraEntry(BaseModel):
    model_config = ConfigDict(extra="allow")   # the worker's keys; checked against VISION_CAMERA below
    name: str | None = Field(default=None, description="Display name")
    location: Location | None = None
    viid: ViidCamera | None = None


class ViidSection(_Model):
    server_id: str = Field(default="31000000005030000001", description="This 视图库's own id (VIIDServerID)")
    realm: str = Field(default="sharpeyes-viid", min_length=1, description="Digest realm")
    timezone: str = Field(default="Asia/Shanghai", description="Zone of the devices' times (ShotTime, ...)")
    offline_after: float = Field(default=3, gt=0, description="Keepalive intervals missed before offline")
    max_body_bytes: int = Field(default=32 * 2**20, gt=0, description="Largest request body (base64 images)")
    keep_days: float = Field(default=30, gt=0, description="Records are kept this long; then they and their "
                             "images go, except the images that became an incident's snapshots")
    devices: dict[str, ViidDeviceConfig] = Field(default_factory=dict, description="Device id -> password")

    @field_validator("server_id")
    @classmethod
    def _sid(cls, v: str) -> str:
        if not GAT_ID.match(v):
            raise ValueError(f"server_id {v!r} is not a GA/T 1400 id (20 digits, e.g. 31010400005030000001)")
        return v

    @field_validator("devices")
    @classmethod
    def _dev_ids(cls, v: dict[str, ViidDeviceConfig]) -> dict[str, ViidDeviceConfig]:
        for k in v:
            _gat_id(k, "device id")
        return v


class ViidFile(BaseModel):
    model_config = ConfigDict(extra="allow")
    viid: ViidSection = Field(default_factory=ViidSection)
    cameras: dict[str, CameraEntry] = Field(default_factory=dict)


class ViidConfig:
    """The checked file: devices, cameras by APE, and which cameras follow which device."""

    def __init__(self, data: ViidFile) -> None:
        self.section = data.viid
        self.cameras = {name: cam for name, cam in data.cameras.items() if cam.viid is not None}
        self.names = {name: cam.name or name for name, cam in self.cameras.items()}
        self.places = {name: cam.location.node if cam.location else None
                       for name, cam in self.cameras.items()}
        self.by_ape: dict[str, str] = {}
        self.by_device: dict[str, list[str]] = {}
        for name, cam in self.cameras.items():
            assert cam.viid is not None
            for ape in cam.viid.apes:
                self.by_ape[ape] = name
            self.by_device.setdefault(cam.viid.device_id, []).append(name)

    def rules(self, camera: str) -> list[ViidRule]:
        cam = self.cameras[camera].viid
        return cam.rules if cam is not None else []

    def device_of(self, camera: str) -> str:
        cam = self.cameras[camera].viid
        assert cam is not None
        return cam.device_id

    def device(self, device_id: str) -> ViidDeviceConfig | None:
        return self.section.devices.get(device_id)


def load_viid_config(path: Path) -> ViidConfig:
    """Read and check the file; every mistake is an ApiError naming the file, the key path and the fix."""
    try:
        raw: object = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ApiError(f"{path}: cannot read the GA/T 1400 config: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ApiError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ApiError(f"{path}: expected a mapping with `viid` and `cameras` (docs/gat1400.md)")
    extra = sorted(set(raw) - {"viid", "cameras"} - VISION_TOP)
    if extra:
        raise ApiError(f"{path}: unknown key {extra[0]!r} (expected viid, cameras, or the camera config's "
                       f"{', '.join(sorted(VISION_TOP))})")
    for name, cam in (raw.get("cameras") or {}).items():
        bad = sorted(set(cam or {}) - {"name", "location", "viid"} - VISION_CAMERA)
        if bad:
            raise ApiError(f"{path}: camera {name!r}: unknown key {bad[0]!r} (expected name, location, viid "
                           "or the worker's camera keys, docs/config.md)")
    try:
        data = ViidFile.model_validate(raw)
    except ValidationError as exc:
        where, msg = first_error(exc)
        raise ApiError(f"{path}: key '{where}': {msg}") from exc
    cfg = ViidConfig(data)
    for name, cam in cfg.cameras.items():
        assert cam.viid is not None
        if cam.viid.device_id not in cfg.section.devices:
            raise ApiError(f"{path}: camera {name!r}: its device {cam.viid.device_id} is not in viid.devices "
                           "(add it with its password, or set viid.device to the NVR that sends its records)")
    return cfg
