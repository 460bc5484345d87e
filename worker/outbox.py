"""The worker's durable outbox (SQLite): what it has to send, kept across api outages and worker restarts.

Items leave in order per camera: events (batched), then the media of those events. An item is deleted only
after the api acknowledged it; ingest is idempotent on (event id, seq), so a resend after a crash between
the api's answer and the delete changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  camera TEXT NOT NULL,
  kind TEXT NOT NULL,            -- event | media
  body TEXT NOT NULL,            -- event: the EventMessage JSON; media: {"event_id", "kind", "path"}
  attempts INTEGER NOT NULL DEFAULT 0,
  created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_camera ON outbox (camera, id);
CREATE TABLE IF NOT EXISTS dead (
  id INTEGER PRIMARY KEY, camera TEXT, kind TEXT, body TEXT, reason TEXT, at REAL
);
"""


@dataclass(frozen=True)
class Item:
    id: int
    camera: str
    kind: str
    body: dict[str, Any]
    attempts: int


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")   # an event the pipeline produced survives a power cut
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, camera: str, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Append (kind, body) items for one camera, in one transaction."""
        if not items:
            return
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO outbox (camera, kind, body, created) VALUES (?, ?, ?, ?)",
                                 [(camera, kind, json.dumps(body), now) for kind, body in items])
            self._db.execute("COMMIT")

    def cameras(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT camera FROM outbox")]

    def head(self, camera: str, limit: int = 500) -> list[Item]:
        """The oldest items of a camera: a run of events (up to `limit`), or one media item."""
        with self._lock:
            rows = self._db.execute("SELECT id, camera, kind, body, attempts FROM outbox WHERE camera = ? "
                                    "ORDER BY id LIMIT ?", (camera, limit)).fetchall()
        out: list[Item] = []
        for r in rows:
            item = Item(r[0], r[1], r[2], json.loads(r[3]), r[4])
            if out and (item.kind != "event" or out[0].kind != "event"):
                break
            out.append(item)
            if item.kind != "event":
                break
        return out

    def done(self, ids: list[int]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def failed(self, ids: list[int]) -> None:
        with self._lock:
            self._db.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", [(i,
                                                                                             ) for i in ids])

    def dead(self, items: list[Item], reason: str) -> None:
        """Give up on items the api refused for good (kept in `dead` for a person to look at)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO dead (id, camera, kind, body, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
                [(i.id, i.camera, i.kind, json.dumps(i.body), reason, time.time()) for i in items],
            )
            self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i.id,) for i in items])
            self._db.execute("COMMIT")

    def pending(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def dead_count(self) -> int:
        """Items the api refused for good (kept for the operator, never sent again)."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM dead").fetchone()[0])
