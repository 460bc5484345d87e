"""Database engine, sessions and start-up migrations (Alembic `upgrade head`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from api.errors import ApiError

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, pooled: bool = True) -> Engine:
    """The app's engine; `pooled=False`: one or two connections of its own, outside the app's pool (the
    health check)."""
    extra: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **extra)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run while the ingest writes; NORMAL sync is durable across api crashes.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # Short connect and pool timeouts: with the database down a request fails fast (503), never hangs.
    connect_args = {"connect_timeout": 3} if url.startswith("postgresql") else {}
    if not pooled:
        return create_engine(url, pool_size=1, max_overflow=1, pool_pre_ping=True, pool_timeout=5,
                             connect_args=connect_args)
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_timeout=5,
                         connect_args=connect_args)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; run at every start-up."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    alembic_log = logging.getLogger("alembic")
    if alembic_log.getEffectiveLevel() > logging.DEBUG:
        alembic_log.setLevel(logging.WARNING)   # "Context impl SQLiteImpl" on every start is noise
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise ApiError(
            f"cannot reach the database {engine.url!r}: {exc.orig}; check --db / SHARPEYES_DB_URL"
        ) from exc


def session_factory(engine: Engine, site: object | None = None) -> sessionmaker[Session]:
    """Sessions of the app; `site` (the patrol site) rides in each session's info for the payloads."""
    return sessionmaker(engine, expire_on_commit=False, info={"site": site} if site is not None else None)
