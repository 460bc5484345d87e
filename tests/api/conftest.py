"""API test harness: a freshly migrated database per test (SQLite file, or a PostgreSQL database per session
with tables emptied between tests), the real app through Starlette's TestClient, users and a worker key."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select, text

from api.app import create_app
from api.db.models import Base, Team, User, WorkerKey
from api.services.accounts import hash_password, key_hash, make_token
from api.settings import Settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "correct-horse-battery"
PASSWORD_HASH = hash_password(PASSWORD)   # argon2 is slow on purpose: hash once per test session

SITE = {
    "name": "test site", "walking_speed_mps": 1.0, "office": "office",
    "plan": {"width_m": 500, "height_m": 50},
    "places": {f"p{i}": {"kind": "checkpoint" if i % 2 else "junction", "xy": [i * 100.0,
                                                                               10.0]} for i in range(5)},
    "links": [[f"p{i}", f"p{i + 1}"] for i in range(4)],
    "grids": {"W": {"worker": "gw_w", "polygon": [[-1, 0], [250, 0], [250, 50], [-1, 50]]},
              "E": {"worker": "gw_e", "polygon": [[250, 0], [501, 0], [501, 50], [250, 50]]}},
}
ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    name = f"sharpeyes_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'api.db'}"
    url: str = request.getfixturevalue("pg_database")
    return url


def mp4_bytes(pad: int = 0, frames: int = 5) -> bytes:
    """A real MP4 clip (MPEG-4 Part 2, 64 x 48) that decodes; `pad` random bytes in a trailing `free` box
    make clips of any size and content that still decode."""
    import struct
    import tempfile

    import cv2
    import numpy as np

    with tempfile.TemporaryDirectory() as d:
        path = str(Path(d) / "c.mp4")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
        for i in range(frames):
            writer.write(np.full((48, 64, 3), i * 40 % 256, np.uint8))
        writer.release()
        data = Path(path).read_bytes()
    return data + (struct.pack(">I", pad + 8) + b"free" + os.urandom(pad) if pad else b"")


def jpeg_bytes(w: int = 64, h: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "JPEG")
    return buf.getvalue()


def event(eid: str = "ev1", seq: int = 0, lifecycle: str = "new", camera: str = "cam1", zone: str = "lane",
          kind: str = "fire_lane_blocked", wall_time: float | None = None, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": eid,
        "lifecycle": lifecycle,
        "seq": seq,
        "camera": camera,
        "zone": zone,
        "event": kind,
        "rule": "stationary",
        "label": "car",
        "track_id": 3,
        "first_seen_s": 1.0,
        "start_s": 61.0,
        "end_s": None,
        "max_score": 0.8,
        "bbox": [1, 2, 30, 40],
        "wall_time": wall_time,
    }
    data.update(kw)
    return data


@dataclass
class Harness:
    client: TestClient
    app: Any
    tmp: Path
    tokens: dict[str, str] = field(default_factory=dict)
    worker_key: str = ""
    teams: dict[str, int] = field(default_factory=dict)

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    @property
    def wk(self) -> dict[str, str]:
        return {"X-API-Key": self.worker_key}

    def login(self, name: str, password: str = PASSWORD) -> str:
        r = self.client.post("/api/auth/login", json={"username": name, "password": password})
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        self.tokens[name] = token
        return token

    def register(self, *cams: str, place: str | None = "p2") -> None:
        r = self.client.post("/api/ingest/cameras", headers=self.wk,
                             json=[{"id": c, "name": c.upper(), "place": place, "zones": {}} for c in cams])
        assert r.status_code == 200, r.text

    def post_events(self, body: Any) -> Any:
        return self.client.post("/api/ingest/events", headers=self.wk, json=body)

    def count(self, table: str) -> int:
        with self.ctx.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def _empty(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


def seed(app: Any) -> tuple[str, dict[str, int]]:
    """Users admin/op/lead1/lead2, teams t1 (lead1) and t2 (lead2) on shift all day, a worker key."""
    ctx = app.state.ctx
    key = "swk_test_" + uuid.uuid4().hex
    with ctx.sessions() as s:
        teams = {}
        for tid, base in (("t1", "p1"), ("t2", "p4")):
            t = Team(key=tid, name=f"Team {tid}", leader=f"{tid}_lead", members=[f"{tid}_lead", f"{tid}_m"],
                     people={}, skills=["fire_safety"], home_grid=None, base=base,
                     roster=[{"days": ALL_DAYS, "start": "00:00", "end": "23:59"}], exceptions=[], place=base)
            s.add(t)
            s.flush()
            teams[tid] = t.id
        s.add_all([
            User(name="admin", password_hash=PASSWORD_HASH, role="admin"),
            User(name="op", password_hash=PASSWORD_HASH, role="operator"),
            User(name="lead1", password_hash=PASSWORD_HASH, role="leader", team_id=teams["t1"]),
            User(name="lead2", password_hash=PASSWORD_HASH, role="leader", team_id=teams["t2"]),
            WorkerKey(name="w1", key_hash=key_hash(key)),
        ])
        s.commit()
    if ctx.patrol is not None:
        ctx.patrol.teams_changed()
    return key, teams


def build(db_url: str, tmp_path: Path, site: bool = False, **settings: Any) -> Harness:
    if db_url.startswith("postgresql"):
        from api.db.engine import make_engine, migrate

        migrate(make_engine(db_url))
        _empty(db_url)
    site_path = None
    if site:
        site_path = tmp_path / "site.yaml"
        site_path.write_text(yaml.safe_dump(SITE))
    app = create_app(Settings(dev=True, db_url=db_url, media_dir=tmp_path / "media", site_path=site_path,
                              **settings))
    key, teams = seed(app)
    h = Harness(TestClient(app), app, tmp_path, worker_key=key, teams=teams)
    return h


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Harness]:
    h = build(db_url, tmp_path, site=True)
    with h.client:
        with h.ctx.sessions() as s:
            for user in s.scalars(select(User)):
                h.tokens[user.name] = make_token(h.ctx.settings.secret_key, user.id, user.role, user.team_id,
                                                 3600)
        yield h
    h.ctx.engine.dispose()
