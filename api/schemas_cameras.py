"""Request and response shapes of the camera config routes (api/routes/camera_configs.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import In
from api.validation import JsonInt


class _In(In):
    """Request bodies: the shared `In` rules (unknown keys, NUL bytes, integers beyond 64 bits, NaN/Infinity,
    deep nesting are refused; api/validation.py)."""


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CameraConfigIn(_In):
    name: str = Field(min_length=1, max_length=100, description="Camera name: letters, digits, '_' or '-'")
    config: dict[str, Any] = Field(description="The camera's mapping of the YAML contract (source, detect, "
                                               "location, zones, objects, motion, ...)")


class CameraConfigUpdate(_In):
    config: dict[str, Any] = Field(description="The camera's whole new mapping of the YAML contract")


class EnabledIn(_In):
    enabled: bool


class RetentionIn(_In):
    snapshot_days: float | None = Field(default=None, gt=0, le=3650, strict=True,
                                        description="Keep snapshots this many days; empty: the default")
    clip_days: float | None = Field(default=None, gt=0, le=3650, strict=True,
                                    description="Keep clips this many days; empty: the default")


class ProbeIn(_In):
    source: str = Field(min_length=1, max_length=1000, description="File path (on the server) or stream URL")


class OnvifIn(_In):
    host: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.\-:\[\]]+$",
                      description="The camera's address (no discovery: give it)")
    port: JsonInt = Field(default=80, ge=1, le=65535,
                      description="Its ONVIF (HTTP) port, often 80 or 8080")
    username: str = Field(default="", max_length=100)
    password: str = Field(default="", max_length=200)


class OnvifStreamOut(_Out):
    token: str
    name: str
    width: int | None
    height: int | None
    uri: str
    source: str = Field(description="The stream URI with the credentials, to use as the camera's source")


class ProbeOut(_Out):
    width: int
    height: int
    jpeg: str = Field(description="The first frame as a data: URL (image/jpeg)")


class SavedOut(_Out):
    camera: str
    revision: int
    changed: list[str] = Field(description="Key paths changed by this save (empty: nothing changed)")


class CameraConfigOut(_Out):
    camera: str
    config: dict[str, Any]
    enabled: bool
    retention: dict[str, Any]
    revision: int
    updated_by: str
    updated_at: datetime


class CameraRowOut(CameraConfigOut):
    state: str = "unknown"
    fps: float | None = None
    detail: str = ""
    last_seen_at: datetime | None = None
    last_event_at: datetime | None = None
    worker: str | None = None
    detect_fps: float | None = None
    detector_load: float | None = Field(default=None, description="Share of its time in its pipeline")
    storage_bytes: int = 0
    storage_files: int = 0
    uptime_24h: float | None = Field(default=None, description="Share of the last 24 h online (0..1)")
    reconnects_24h: int = 0
    last_error: str = ""
    last_error_at: datetime | None = None
    last_frame_at: datetime | None = Field(default=None, description="When the newest live frame came")


class ChangeOut(_Out):
    id: int
    camera: str
    revision: int
    action: str
    changed: list[str]
    actor: str
    at: datetime
    enabled: bool
    config: dict[str, Any]
