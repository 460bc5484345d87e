"""The scale-out tables come from the Alembic migrations like every other table (not created on first use),
and the stream's nonce memory refuses a replay on both databases."""

from __future__ import annotations

import time

from sqlalchemy import inspect

from api.cluster.scaleout import remember_nonce
from tests.api.conftest import Harness


def test_migrations_create_the_nonce_and_lease_tables(api: Harness) -> None:
    tables = set(inspect(api.ctx.engine).get_table_names())
    assert {"sharpeyes_stream_nonces", "sharpeyes_leases"} <= tables


def test_a_nonce_is_kept_for_its_entry_and_refused_for_another(api: Harness) -> None:
    until = time.time() + 600
    assert remember_nonce(api.ctx, "w1", "n1", "stream-0/1-0", until)
    assert remember_nonce(api.ctx, "w1", "n1", "stream-0/1-0", until)      # the same entry again (a retry)
    assert not remember_nonce(api.ctx, "w1", "n1", "stream-0/2-0", until)  # another entry: a replay
    assert remember_nonce(api.ctx, "w2", "n1", "stream-0/3-0", until)      # nonces are per worker
