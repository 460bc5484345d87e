"""Alembic environment: migrations run at api start-up on the connection api/db/engine.py hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import api.db.civic  # noqa: F401  (its tables on the same Base)
import api.db.sensor_models  # noqa: F401  (likewise)
from api.db.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
