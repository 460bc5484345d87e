"""Tables (SQLAlchemy 2.0 typed). Request and response shapes live in api/schemas.py, not here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        # in UTC whatever zone it came in: SQLite keeps the wall time alone, so a bound of 00:00 Beijing time
        # (the start of a report's day) compared as 00:00 UTC with the stored UTC times, 8 hours off
        if value is not None:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Team(Base):
    """A patrol team (巡逻队); `key` and the roster fields are patrol's Team (patrol/teams.py)."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)   # patrol team id, e.g. t01
    name: Mapped[str] = mapped_column(String(100))
    leader: Mapped[str] = mapped_column(String(100))             # person id
    members: Mapped[list[Any]] = mapped_column(default=list)     # person ids
    people: Mapped[dict[str, Any]] = mapped_column(default=dict)  # person id -> {name, role, phone, skills}
    skills: Mapped[list[Any]] = mapped_column(default=list)
    home_grid: Mapped[str | None] = mapped_column(String(100))
    base: Mapped[str | None] = mapped_column(String(100))
    roster: Mapped[list[Any]] = mapped_column(default=list)
    exceptions: Mapped[list[Any]] = mapped_column(default=list)
    timezone: Mapped[str] = mapped_column(String(50), default="Asia/Shanghai")
    status: Mapped[str] = mapped_column(String(20), default="available")
    place: Mapped[str | None] = mapped_column(String(100))        # last known place on the site graph
    position: Mapped[list[Any] | None] = mapped_column(JSON)       # [x, y] metres, from the phone
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))          # admin | operator | leader | department | grid
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    # a department or grid user's body (api/db/civic.py; the foreign key is in migration 0005)
    body_id: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    # in every token; raised to revoke them all (logout, password change, deactivation)
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkerKey(Base):
    __tablename__ = "worker_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64),
                                          unique=True)   # sha256 of the key; the key is shown once
    pool: Mapped[str | None] = mapped_column(String(100))
    revoked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Camera(Base):
    __tablename__ = "cameras"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    place: Mapped[str | None] = mapped_column(String(100))
    zones: Mapped[dict[str, Any]] = mapped_column(default=dict)
    worker: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default="unknown")
    fps: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(Text, default="")
    last_event_at: Mapped[datetime | None] = mapped_column()
    last_seen_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(50))
    severity: Mapped[int] = mapped_column(Integer)          # 1 low .. 5 critical (patrol policy)
    state: Mapped[str] = mapped_column(String(20), default="open")
    source: Mapped[str] = mapped_column(String(20), default="camera")   # camera | manual | resident
    camera_id: Mapped[str | None] = mapped_column(ForeignKey("cameras.id"))
    zone: Mapped[str | None] = mapped_column(String(100))
    event_type: Mapped[str | None] = mapped_column(String(100))
    place: Mapped[str | None] = mapped_column(String(100))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    escalation_level: Mapped[int] = mapped_column(default=0)
    excluded_teams: Mapped[list[Any]] = mapped_column(default=list)  # declined / timed out: never asked again
    dispatched_at: Mapped[datetime | None] = mapped_column()
    on_site_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    event_count: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline_at: Mapped[datetime] = mapped_column()
    last_event_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_incidents_merge", "camera_id", "zone", "event_type", "state"),)


class TimelineEntry(Base):
    __tablename__ = "timeline"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Event(Base):
    __tablename__ = "events"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"), index=True)
    zone: Mapped[str] = mapped_column(String(100))
    event_type: Mapped[str] = mapped_column(String(100))
    rule: Mapped[str] = mapped_column(String(50), default="")
    label: Mapped[str] = mapped_column(String(50))
    track_id: Mapped[int | None] = mapped_column()
    first_seen_s: Mapped[float] = mapped_column(Float)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    bbox: Mapped[list[Any]] = mapped_column()
    count: Mapped[int | None] = mapped_column()
    lifecycle: Mapped[str] = mapped_column(String(10))
    last_seq: Mapped[int] = mapped_column()
    wall_time: Mapped[float | None] = mapped_column(Float)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventStep(Base):
    """One received lifecycle step; the unique key makes ingest idempotent."""

    __tablename__ = "event_steps"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100))
    seq: Mapped[int] = mapped_column()
    lifecycle: Mapped[str] = mapped_column(String(10))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("event_id", "seq", name="uq_event_steps_event_seq"),)


class Media(Base):
    __tablename__ = "media"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))             # snapshot | clip | photo
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    event_id: Mapped[str | None] = mapped_column(String(100), index=True)
    path: Mapped[str] = mapped_column(String(300))            # relative to the media folder
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    camera_id: Mapped[str | None] = mapped_column(String(100), index=True)   # for retention and storage
    gone_at: Mapped[datetime | None] = mapped_column()        # the file was removed (retention); row kept
    gone_reason: Mapped[str] = mapped_column(String(100), default="")
    __table_args__ = (UniqueConstraint("event_id", "kind", "sha256", name="uq_media_event_kind_sha"),)


class CameraConfig(Base):
    """A camera's config as the page and the YAML import made it (one camera of the YAML contract, with
    the global sections folded in); `revision` goes up on every change, and each one is kept in history."""

    __tablename__ = "camera_configs"
    camera: Mapped[str] = mapped_column(String(100), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column()           # the camera's mapping in the YAML contract
    enabled: Mapped[bool] = mapped_column(default=True)
    retention: Mapped[dict[str, Any]] = mapped_column(default=dict)   # {snapshot_days, clip_days}
    revision: Mapped[int] = mapped_column(default=1)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CameraConfigChange(Base):
    """History of camera configs: who changed what, when (the whole config after the change)."""

    __tablename__ = "camera_config_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    camera: Mapped[str] = mapped_column(String(100), index=True)
    revision: Mapped[int] = mapped_column()
    action: Mapped[str] = mapped_column(String(30))           # created | updated | disabled | enabled | ...
    config: Mapped[dict[str, Any]] = mapped_column()
    enabled: Mapped[bool] = mapped_column()
    changed: Mapped[list[Any]] = mapped_column(default=list)  # key paths that differ from the revision before
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckIn(Base):
    __tablename__ = "checkins"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    checkpoint: Mapped[str] = mapped_column(String(100))
    person: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class PointsEntry(Base):
    """Service points ledger (积分), patrol's hash-chained entries: appended to, never edited."""

    __tablename__ = "points"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    person: Mapped[str] = mapped_column(String(100), index=True)
    delta: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(30))
    ref: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column()
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


# The audit line `sharpeyes demo` leaves in its database: outside --dev the api refuses to start on such a
# database (api.app.refuse_demo_database), so the demo's published passwords and key never reach production.
DEMO_MARK = "demo.database"


class ViidDevice(Base):
    """A GA/T 1400 device (camera, NVR, lower 视图库) registered with this 视图库: its live state."""

    __tablename__ = "viid_devices"
    id: Mapped[str] = mapped_column(String(20), primary_key=True)      # DeviceID, 20 digits
    state: Mapped[str] = mapped_column(String(20), default="offline")  # online | offline
    addr: Mapped[str] = mapped_column(String(100), default="")         # where it registered from
    registered_at: Mapped[datetime | None] = mapped_column()
    last_seen_at: Mapped[datetime | None] = mapped_column()
    apes: Mapped[list[Any]] = mapped_column(default=list)              # APEs it reported (/VIID/APEs)


class ViidRecord(Base):
    """A structured record (motor vehicle, non-motor vehicle, person, face) received over GA/T 1400."""

    __tablename__ = "viid_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(20))       # the capture device (APE)
    sender: Mapped[str] = mapped_column(String(20))          # the registered device that sent it
    camera_id: Mapped[str | None] = mapped_column(ForeignKey("cameras.id"))
    shot_at: Mapped[datetime] = mapped_column()
    plate: Mapped[str | None] = mapped_column(String(20))
    event_ids: Mapped[list[Any]] = mapped_column(default=list)
    media_ids: Mapped[list[Any]] = mapped_column(default=list)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("kind", "object_id", name="uq_viid_records_kind_object"),
                      Index("ix_viid_records_camera_shot", "camera_id", "shot_at"))


class CameraStateChange(Base):
    """A camera's live state changed (online, reconnecting, offline): uptime and reconnects over 24 h."""

    __tablename__ = "camera_states"
    id: Mapped[int] = mapped_column(primary_key=True)
    camera: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_camera_states_camera_at", "camera", "at"),)
