"""Camera workers as the api knows them: who holds a key, and one cache of that for HTTP and the stream.

HTTP ingest finds a worker by its key (`X-API-Key`); the event stream by its name (the entry is signed with
the key's hash). Both read the same rows through one cache, for `TTL_S`, so ingest does not hit the table
on every request; revoking a key clears it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import WorkerKey
from api.errors import Forbidden
from api.services.accounts import key_hash

TTL_S = 10.0


@dataclass(frozen=True)
class WorkerIdentity:
    name: str
    key_hash: str
    pool: str | None


class WorkerKeys:
    def __init__(self, sessions: sessionmaker[Session], ttl_s: float = TTL_S) -> None:
        self.sessions = sessions
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, WorkerIdentity | None]] = {}

    def _hit(self, kind: str, value: str) -> tuple[bool, WorkerIdentity | None]:
        with self._lock:
            hit = self._cache.get((kind, value))
        if hit is not None and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def cached_by_key(self, key: str) -> WorkerIdentity | None:
        """The worker of a valid key if it is in the cache (no database call: for the event loop)."""
        return self._hit("key", key_hash(key))[1]

    def by_key(self, key: str) -> WorkerIdentity | None:
        """The worker holding this key, if the key is valid and not revoked."""
        return self._lookup("key", key_hash(key))

    def by_name(self, name: str) -> WorkerIdentity | None:
        """The worker of this name, if its key is valid and not revoked."""
        return self._lookup("name", name)

    def _lookup(self, kind: str, value: str) -> WorkerIdentity | None:
        found, ident = self._hit(kind, value)
        if found:
            return ident
        column = WorkerKey.key_hash if kind == "key" else WorkerKey.name
        with self.sessions() as s:
            row = s.scalars(select(WorkerKey).where(column == value, WorkerKey.revoked.is_(False))).first()
        ident = WorkerIdentity(row.name, row.key_hash, row.pool) if row is not None else None
        with self._lock:
            # a refused key is not cached: a key made a moment later works at once
            if ident is None:
                self._cache.pop((kind, value), None)
            else:
                self._cache[(kind, value)] = (time.monotonic() + self.ttl_s, ident)
        return ident

    def may_use(self, worker: WorkerIdentity, owner: str | None) -> bool:
        """Whether `worker` may send for a camera registered by `owner`: its own, a camera of nobody, one
        whose owner's key was revoked (an admin freed it), or one of its pool's."""
        if owner is None or owner == worker.name:
            return True
        return _shares(worker, self.by_name(owner))

    def cached_may_use(self, worker: WorkerIdentity, owner: str | None) -> bool | None:
        """may_use without a database call (for the event loop), or None when it needs one."""
        if owner is None or owner == worker.name:
            return True
        found, other = self._hit("name", owner)
        return _shares(worker, other) if found else None

    def check_owner(self, worker: WorkerIdentity, camera: str, owner: str | None) -> None:
        """Forbidden when `camera` belongs to another worker (see may_use)."""
        if not self.may_use(worker, owner):
            raise Forbidden(f"camera {camera[:100]!r} belongs to worker {owner!r}: a key sends only for its "
                            "own cameras (or its pool's); to move the camera, an admin revokes that worker's "
                            "key (DELETE /api/workers/ID)")

    def forget(self) -> None:
        """After a key is revoked: the next request reads the table again."""
        with self._lock:
            self._cache.clear()


def _shares(worker: WorkerIdentity, other: WorkerIdentity | None) -> bool:
    """A camera of `other` is free to `worker`: its key was revoked (None) or both are of one pool."""
    return other is None or (worker.pool is not None and other.pool == worker.pool)
