"""Media retention: camera media older than their camera's (or the default) days are removed with their rows
kept and marked gone; the disk quota removes the oldest first and is never exceeded by more than one clip."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from api.db.models import Media
from api.services import retention
from tests.api.conftest import build, event, jpeg_bytes, mp4_bytes

ROOT = Path(__file__).resolve().parents[2]


def _clip(n: int) -> bytes:
    return mp4_bytes(pad=n)


def _upload(h, eid: str, kind: str, data: bytes) -> int:  # type: ignore[no-untyped-def]
    name, ctype = ("c.mp4", "video/mp4") if kind == "clip" else ("s.jpg", "image/jpeg")
    r = h.client.post("/api/ingest/media", headers=h.wk, data={"event_id": eid, "kind": kind},
                      files={"file": (name, data, ctype)})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _on_disk(h) -> int:  # type: ignore[no-untyped-def]
    return sum(p.stat().st_size for p in (h.tmp / "media").rglob("*") if p.is_file())


def test_media_past_their_days_are_removed_and_their_rows_kept(tmp_path: Path) -> None:
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, media_snapshot_days=30, media_clip_days=7)
    with h.client:
        h.register("cam1", "cam2")
        h.ctx.camera_configs.save("cam1", {"source": str(ROOT / "sample_videos" / "vtest.avi"), "zones": {
            "z": {"polygon": [[0, 0], [1, 0], [1, 1]], "rules": [
                {"kind": "presence", "labels": ["person"], "min_seconds": 1, "event": "x"}]}}}, "eng")
        h.ctx.camera_configs.set_retention("cam1", {"snapshot_days": 1}, "eng")
        ages = {}   # media id -> (camera, kind, age in days, kept?)
        plan = [("cam1", "snapshot", 2, False), ("cam1", "snapshot", 0.5, True), ("cam1", "clip", 3, True),
                ("cam2", "snapshot", 2, True), ("cam2", "clip", 8, False), ("cam2", "clip", 6, True)]
        for i, (cam, kind, age, kept) in enumerate(plan):
            eid = f"e{i}"
            assert h.post_events([event(eid, camera=cam)]).status_code == 200
            mid = _upload(h, eid, kind, jpeg_bytes() if kind == "snapshot" else _clip(5000 + i))
            ages[mid] = (cam, kind, age, kept)
        now = datetime.now(UTC)
        with h.ctx.sessions() as s:
            for mid, (_, _, age, _) in ages.items():
                s.execute(update(Media).where(Media.id == mid).values(created_at=now - timedelta(days=age)))
            s.commit()
            paths = {m.id: h.ctx.media.root / m.path for m in s.scalars(select(Media))}
        swept = retention.expire(h.ctx.sessions, h.ctx.media, retention.Defaults(30, 7), now)
        assert swept.expired == 2
        with h.ctx.sessions() as s:
            rows = {m.id: m for m in s.scalars(select(Media))}
        assert len(rows) == len(plan)                                  # every row kept
        for mid, (cam, _kind, _age, kept) in ages.items():
            assert paths[mid].exists() == kept, (cam, _kind, _age)
            assert (rows[mid].gone_at is None) == kept
            if not kept:
                assert "older than" in rows[mid].gone_reason
                token = h.login("admin")
                r = h.client.get(f"/api/media/{mid}", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 410 and "record is kept" in r.json()["detail"]
        token = h.login("admin")
        cams = h.client.get("/api/camera-configs", headers={"Authorization": f"Bearer {token}"}).json()
        kept_cam1 = [mid for mid, v in ages.items() if v[0] == "cam1" and v[3]]
        assert cams[0]["camera"] == "cam1" and cams[0]["storage_files"] == len(kept_cam1)
        assert cams[0]["storage_bytes"] == sum(rows[m].size for m in kept_cam1)


def test_the_quota_removes_the_oldest_and_is_never_exceeded_by_more_than_one_clip(tmp_path: Path) -> None:
    quota = 100 * 1024
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, media_quota_mb=quota / 1024 / 1024)
    rng = random.Random(7)
    with h.client:
        h.register("cam1")
        ids, sizes = [], []
        for i in range(14):
            data = _clip(rng.randint(9_000, 30_000))
            assert h.post_events([event(f"e{i}", camera="cam1")]).status_code == 200
            ids.append(_upload(h, f"e{i}", "clip", data))
            sizes.append(len(data))
            assert _on_disk(h) <= quota      # after each stored clip, back within the quota
            assert _on_disk(h) <= quota + len(data)
        with h.ctx.sessions() as s:
            rows = {m.id: m for m in s.scalars(select(Media))}
    assert len(rows) == 14
    gone = [mid for mid in ids if rows[mid].gone_at is not None]
    assert gone and gone == ids[:len(gone)]                      # oldest first
    assert all("quota" in rows[mid].gone_reason for mid in gone)
    left = sum(rows[mid].size for mid in ids if rows[mid].gone_at is None)
    assert left <= quota and left + sizes[len(gone) - 1] > quota    # nothing removed that did not have to be
