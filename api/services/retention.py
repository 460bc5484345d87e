"""Media retention: camera snapshots and clips kept N days (per camera and category, else the defaults),
and a disk quota on them with oldest-first clean-up. The rows stay, marked gone (when, why): an incident's
timeline still says a clip existed. Photos taken by patrol leaders are evidence and never removed here.

The quota is enforced after every stored file (`enforce_quota`), so camera media exceed it by at most the
one file being stored; the age sweep runs every `media_retention_check_s` seconds.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import CameraConfig, Media
from api.services.media import MediaStore

log = logging.getLogger(__name__)
CATEGORIES = ("snapshot", "clip")
BATCH = 500
# One media write and its quota check at a time in this process: camera media never exceed the quota by more
# than the one file being stored.
WRITE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Defaults:
    snapshot_days: float = 30.0
    clip_days: float = 7.0
    quota_bytes: int = 0          # 0: no quota

    @classmethod
    def of(cls, snapshot_days: float, clip_days: float, quota_mb: float) -> Defaults:
        return cls(snapshot_days, clip_days, int(quota_mb * 1024 * 1024))


@dataclass
class Swept:
    expired: int = 0
    over_quota: int = 0
    freed_bytes: int = 0
    removed: list[int] = field(default_factory=list)   # media ids, in the order they were removed


def _gone(store: MediaStore, row: Media, reason: str, now: datetime, out: Swept) -> None:
    store.delete(row.path)
    row.gone_at, row.gone_reason = now, reason
    out.freed_bytes += row.size
    out.removed.append(row.id)


def expire(sessions: sessionmaker[Session], store: MediaStore, defaults: Defaults,
           now: datetime | None = None) -> Swept:
    """Remove camera media older than their camera's (or the default) days for their category."""
    now = now or datetime.now(UTC)
    out = Swept()
    with sessions() as s:
        own = {c.camera: c.retention or {} for c in s.scalars(select(CameraConfig))}
        for kind in CATEGORIES:
            default = float(getattr(defaults, f"{kind}_days"))
            days_by_cam = {cam: float(r.get(f"{kind}_days", default)) for cam, r in own.items()}
            shortest = min([default, *days_by_cam.values()])
            q = (select(Media).where(Media.kind == kind, Media.gone_at.is_(None),
                                     Media.created_at < now - timedelta(days=shortest))
                 .order_by(Media.created_at, Media.id))
            for row in s.scalars(q):
                days = days_by_cam.get(row.camera_id or "", default)
                if row.created_at < now - timedelta(days=days):
                    _gone(store, row, f"older than {days:g} days", now, out)
                    out.expired += 1
        s.commit()
    return out


def used_bytes(session: Session) -> int:
    q = (select(func.coalesce(func.sum(Media.size), 0))
         .where(Media.kind.in_(CATEGORIES), Media.gone_at.is_(None)))
    return int(session.scalar(q) or 0)


def enforce_quota(sessions: sessionmaker[Session], store: MediaStore, quota_bytes: int,
                  now: datetime | None = None) -> Swept:
    """Remove the oldest camera media until what is left fits in the quota (nothing when 0)."""
    out = Swept()
    if quota_bytes <= 0:
        return out
    now = now or datetime.now(UTC)
    with sessions() as s:
        used = used_bytes(s)
        while used > quota_bytes:
            q = (select(Media).where(Media.kind.in_(CATEGORIES), Media.gone_at.is_(None))
                 .order_by(Media.created_at, Media.id).limit(BATCH))
            rows = list(s.scalars(q))
            if not rows:
                break
            for row in rows:
                if used <= quota_bytes:
                    break
                _gone(store, row, f"disk quota ({quota_bytes} bytes)", now, out)
                out.over_quota += 1
                used -= row.size
            s.commit()
    if out.over_quota:
        log.info("media quota: removed %d oldest file(s), %d bytes", out.over_quota, out.freed_bytes)
    return out


def storage_by_camera(session: Session) -> dict[str, tuple[int, int]]:
    """Camera -> (files, bytes) of its media still on disk."""
    q = (select(Media.camera_id, func.count(), func.coalesce(func.sum(Media.size), 0))
         .where(Media.gone_at.is_(None), Media.camera_id.is_not(None)).group_by(Media.camera_id))
    return {str(cam): (int(n), int(b)) for cam, n, b in session.execute(q)}


async def run(sessions: sessionmaker[Session], store: MediaStore, defaults: Defaults, every_s: float) -> None:
    """The background job: expire old media, then hold the quota, every `every_s` seconds."""
    import asyncio

    while True:
        try:
            swept = await asyncio.to_thread(expire, sessions, store, defaults)
            if swept.expired:
                log.info("media retention: removed %d file(s) past their days, %d bytes", swept.expired,
                         swept.freed_bytes)
            await asyncio.to_thread(enforce_quota, sessions, store, defaults.quota_bytes)
        except Exception:  # noqa: BLE001 - the job must go on; the next round tries again
            log.exception("media retention failed; retrying")
        await asyncio.sleep(every_s)
