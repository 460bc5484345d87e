"""The statements of the ingest hot path, built once.

Ingest runs a fixed set of statements per batch (api/services/incidents.py: `ingest`). Building a statement
and its cache key each time cost more than running it on SQLite, so they are built here once, with expanding
parameters for the IN lists; SQLAlchemy compiles each once per dialect. The step insert runs over its rows
(insertmanyvalues makes multi-row INSERTs of them): a `.values(rows)` statement is compiled anew for each
batch size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import NamedTuple

from psycopg.rows import args_row
from sqlalchemy import bindparam, case, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from api.db.models import Event, EventStep, Incident, Media, TimelineEntry
from api.services.lifecycle import ACTIVE

# PostgreSQL: the transaction-scoped advisory locks of merge keys (`keys`, taken in the array's order, which
# the caller sorts, so two transactions never wait on each other crosswise); held to the commit
LOCK_MERGE_KEYS = text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS BIGINT[])) AS k")

EVENTS = Event.metadata.tables[Event.__tablename__]
INCIDENTS = Incident.metadata.tables[Incident.__tablename__]
TIMELINE = TimelineEntry.metadata.tables[TimelineEntry.__tablename__]
STEPS = EventStep.metadata.tables[EventStep.__tablename__]

_ev, _inc = EVENTS.c, INCIDENTS.c

# events already stored, by id (`ids`)
EVENTS_BY_ID = select(_ev.id, _ev.incident_id, _ev.last_seq, _ev.max_score, _ev.camera_id, _ev.zone,
                      _ev.event_type).where(_ev.id.in_(bindparam("ids", expanding=True)))

# the active incidents of (camera, zone, event type) groups (`groups`), oldest first
ACTIVE_INCIDENTS = (
    select(_inc.id, _inc.state, _inc.last_event_at, _inc.camera_id, _inc.zone, _inc.event_type)
    .where(tuple_(_inc.camera_id, _inc.zone, _inc.event_type).in_(bindparam("groups", expanding=True)),
           _inc.state.in_(ACTIVE))
    .order_by(_inc.id))

OPEN_INCIDENT = INCIDENTS.insert().returning(_inc.id)
# inline: no RETURNING of the new key for a single row (nothing reads it; these run pipelined)
INSERT_EVENTS = EVENTS.insert().inline()
INSERT_TIMELINE = TIMELINE.insert().inline()

# a later step of a stored event (executemany; b_id is the event id)
UPDATE_EVENTS = EVENTS.update().where(_ev.id == bindparam("b_id")).values(
    lifecycle=bindparam("lifecycle"), last_seq=bindparam("last_seq"), end_s=bindparam("end_s"),
    count=bindparam("count"), wall_time=bindparam("wall_time"), max_score=bindparam("max_score"),
    updated_at=bindparam("updated_at"))
# only older steps arrived late: the best score may still rise
UPDATE_LATE_EVENTS = EVENTS.update().where(_ev.id == bindparam("b_id")).values(
    max_score=bindparam("max_score"), updated_at=bindparam("updated_at"))

_last = bindparam("last", type_=_inc.last_event_at.type)
# n more events, and the latest event time (b_id is the incident id)
UPDATE_INCIDENTS = INCIDENTS.update().where(_inc.id == bindparam("b_id")).values(
    event_count=_inc.event_count + bindparam("n"),
    last_event_at=case((_inc.last_event_at.is_(None), _last), (_inc.last_event_at < _last, _last),
                       else_=_inc.last_event_at),
    updated_at=bindparam("now"))

# snapshots and photos of incidents (`ids`), oldest first
SNAPSHOTS = (select(Media.incident_id, Media.id)
             .where(Media.incident_id.in_(bindparam("ids", expanding=True)),
                    Media.kind.in_(("snapshot", "photo")))
             .order_by(Media.id))

# the incidents a batch changed, as ORM rows for the pages, each with its newest snapshot or photo (media
# id, or None) in the same round trip (`ids`)
INCIDENTS_BY_ID = select(Incident, select(Media.id).where(Media.incident_id == Incident.id,
                                                          Media.kind.in_(("snapshot", "photo")))
                         .order_by(Media.id.desc()).limit(1).scalar_subquery()
                         ).where(Incident.id.in_(bindparam("ids", expanding=True)))



def snapshots_of(session: Session, ids: Collection[int]) -> dict[int, int]:
    """The newest snapshot or photo (media id) of each of these incidents that has one."""
    if not ids:
        return {}
    return {inc: media for inc, media in session.execute(SNAPSHOTS, {"ids": list(ids)})
            if inc is not None}


INSERT_STEPS: dict[str, ReturningInsert[str, int]] = {
    name: insert(STEPS).on_conflict_do_nothing(index_elements=["event_id", "seq"])
    .returning(STEPS.c.event_id, STEPS.c.seq)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def merge_lock_keys(groups: Iterable[tuple[str, str, str]]) -> list[int]:
    """The advisory lock keys (signed 64-bit) of (camera, zone, event type) merge keys, sorted.

    A collision only makes two merge keys wait on each other; it never lets two open one incident each.
    """
    keys = {int.from_bytes(hashlib.blake2b("\x00".join(g).encode(), digest_size=8).digest(), "big",
                           signed=True) for g in groups}
    return sorted(keys)


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """PostgreSQL: the statements run in the block reach the database in one round trip (psycopg's pipeline
    mode), for statements whose results are not read (one whose rows are needed runs after the block).

    An error surfaces at the end of the block as SQLAlchemy's own (IntegrityError, OperationalError, ...),
    as outside it, so the callers' answers (409, 503, the retry of a unique clash) stay the same. SQLite
    (no round trips): the statements run as they come.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with raw.pipeline():   # type: ignore[attr-defined]
            yield
    except dbapi_error as exc:
        lost = conn.dialect.is_disconnect(exc, raw, None)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(None, None, exc, dbapi_error, connection_invalidated=lost,
                                  dialect=conn.dialect) from exc


# PostgreSQL: the lock and the first three reads of a batch, sent together (`first_reads`)
_PG_LOCK = "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k"
_PG_EVENTS = ("SELECT id, incident_id, last_seq, max_score, camera_id, zone, event_type FROM events "
              "WHERE id = ANY(%s::text[])")
_PG_STEPS = ("INSERT INTO event_steps (event_id, seq, lifecycle, received_at) "
             "SELECT * FROM unnest(%s::text[], %s::int[], %s::text[], %s::timestamptz[]) "
             "ON CONFLICT (event_id, seq) DO NOTHING RETURNING event_id, seq")
_PG_ACTIVE = ("SELECT id, state, last_event_at, camera_id, zone, event_type FROM incidents "
              "WHERE (camera_id, zone, event_type) IN "
              "(SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])) "
              "AND state = ANY(%s::text[]) ORDER BY id")


class EventRow(NamedTuple):
    """A row of EVENTS_BY_ID."""

    id: str
    incident_id: int | None
    last_seq: int
    max_score: float
    camera_id: str
    zone: str
    event_type: str


class ActiveRow(NamedTuple):
    """A row of ACTIVE_INCIDENTS."""

    id: int
    state: str
    last_event_at: datetime | None
    camera_id: str
    zone: str
    event_type: str


def first_reads(conn: Connection, lock: list[int] | None, ids: list[str], steps: list[tuple[str, int, str]],
                at: datetime, groups: Collection[tuple[str, str, str]]
                ) -> tuple[list[EventRow], set[tuple[str, int]], list[ActiveRow]]:
    """PostgreSQL, in one round trip: the merge keys' locks (`lock`, sorted; None: held already), the events
    of `ids` (as EVENTS_BY_ID), the steps inserted (as INSERT_STEPS: the keys stored now) and the active
    incidents of `groups` oldest first (as ACTIVE_INCIDENTS). Each is its own statement, run in this order,
    so the reads after the lock see what its previous holder committed."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    with pipelined(conn):
        if lock is not None:
            raw.execute(_PG_LOCK, (lock,))
        events = raw.cursor(row_factory=args_row(EventRow))   # type: ignore[call-arg]
        inserted = raw.cursor()
        active = raw.cursor(row_factory=args_row(ActiveRow))   # type: ignore[call-arg]
        events.execute(_PG_EVENTS, (ids,))
        inserted.execute(_PG_STEPS, ([e for e, _, _ in steps], [q for _, q, _ in steps],
                                     [lc for _, _, lc in steps], [at] * len(steps)))
        cams, zones, kinds = (list(c) for c in zip(*groups, strict=True))
        active.execute(_PG_ACTIVE, (cams, zones, kinds, list(ACTIVE)))
        return (list(events.fetchall()), {(str(e), int(q)) for e, q in inserted.fetchall()},
                list(active.fetchall()))
