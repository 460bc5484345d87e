"""Leases with heartbeats, in Redis or PostgreSQL: one holder at a time across machines.

Shared by the api and the worker. Two uses:
- `api.cluster.leader`: a background job (deadline checks, dispatch timeouts) runs on exactly one api
  replica at a time. The replica that holds the lease runs it; when that replica dies the lease expires
  and another one takes over after at most `ttl_s`.
- `CameraPool`: `sharpeyes worker --pool NAME` joins a pool; each camera is a lease. Cameras are spread by
  rendezvous hashing over the live members, so a member that joins or leaves moves only its share.
  A dead worker's leases expire after `ttl_s` and the others claim them on their next tick.

Why no two holders at once: a holder trusts its lease only until `acquired_at + ttl_s - margin` on its
own monotonic clock, measured from *before* the store call, so it stops before the store lets anyone else
take the lease (clock rates differ by far less than the margin). A camera handed over on a rebalance is
stopped first and released after.

When the store itself is unreachable nobody can claim anything, so a worker keeps the cameras it had
(`keep_on_store_error`, on by default): a Redis or PostgreSQL restart must not stop the cameras; the
events go to the worker's outbox as usual. A background job stops instead: missing a deadline check for
a few seconds is harmless, running it twice is not.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


class LeaseStoreError(ValueError):
    """A lease store URL that names no store we know: the message says what is expected."""


class LeaseStore(Protocol):
    """Where leases live. Every method may raise on a store outage; callers handle it."""

    def acquire(self, name: str, holder: str, ttl_s: float) -> int | None:
        """Take or extend the lease; the fencing token (grows with each new holder) or None if held by
        another."""
        ...

    def renew(self, name: str, holder: str, ttl_s: float) -> bool:
        """Extend a lease this holder has; False when it has lost it."""
        ...

    def release(self, name: str, holder: str) -> None:
        """Give the lease up if this holder has it."""
        ...

    def holders(self, prefix: str) -> dict[str, str]:
        """Live leases whose names start with prefix: name -> holder."""
        ...


def default_holder_id(role: str) -> str:
    """A holder id unique per process: host, pid and a random part (a restarted pid is another holder)."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


# --------------------------------------------------------------------------------------------- Redis

_ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  if cur == false then return redis.call('INCR', KEYS[2]) end
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
return nil
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLeaseStore:
    """Leases as Redis keys with a PX expiry, changed only by Lua scripts that check the holder."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", prefix: str = "sharpeyes:lease:") -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                                          decode_responses=True)
        self.prefix = prefix
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)

    def _keys(self, name: str) -> list[str]:
        return [self.prefix + name, self.prefix + "fence:" + name]

    def acquire(self, name: str, holder: str, ttl_s: float) -> int | None:
        token = self._acquire(keys=self._keys(name), args=[holder, int(ttl_s * 1000)])
        return None if token is None else int(token)

    def renew(self, name: str, holder: str, ttl_s: float) -> bool:
        return bool(self._renew(keys=self._keys(name)[:1], args=[holder, int(ttl_s * 1000)]))

    def release(self, name: str, holder: str) -> None:
        self._release(keys=self._keys(name)[:1], args=[holder])

    def holders(self, prefix: str) -> dict[str, str]:
        keys = list(self.redis.scan_iter(match=self.prefix + prefix + "*", count=500))
        if not keys:
            return {}
        values = self.redis.mget(keys)
        n = len(self.prefix)
        return {str(k)[n:]: str(v) for k, v in zip(keys, values, strict=True) if v is not None}


# ---------------------------------------------------------------------------------------- PostgreSQL

# clock_timestamp(), not now(): now() is the start of the transaction. The database's clock is the only
# clock that decides expiry, so the replicas' clocks need not agree.
_PG_ACQUIRE = """
INSERT INTO sharpeyes_leases AS l (name, holder, token, expires_at)
VALUES (:name, :holder, 1, clock_timestamp() + make_interval(secs => :ttl))
ON CONFLICT (name) DO UPDATE
  SET holder = EXCLUDED.holder,
      token = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at >= clock_timestamp()
                   THEN l.token ELSE l.token + 1 END,
      expires_at = EXCLUDED.expires_at
  WHERE l.expires_at < clock_timestamp() OR l.holder = EXCLUDED.holder
RETURNING token
"""
_PG_RENEW = """
UPDATE sharpeyes_leases SET expires_at = clock_timestamp() + make_interval(secs => :ttl)
WHERE name = :name AND holder = :holder AND expires_at >= clock_timestamp()
"""
_PG_RELEASE = "DELETE FROM sharpeyes_leases WHERE name = :name AND holder = :holder"
_PG_HOLDERS = """
SELECT name, holder FROM sharpeyes_leases WHERE name LIKE :prefix AND expires_at >= clock_timestamp()
"""


class PostgresLeaseStore:
    """Leases as rows of `sharpeyes_leases`, a table of the api's Alembic migrations: the api (`sharpeyes
    serve --db URL`) must have started once on this database before a worker uses it for leases."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine, text

        self._text = text
        # Short timeouts: a lease call that hangs is worse than one that fails.
        self.engine = create_engine(
            url, pool_size=2, max_overflow=2, pool_pre_ping=True, pool_timeout=3,
            connect_args={"connect_timeout": 3, "options": "-c statement_timeout=3000"},
        )

    def _exec(self, sql: str, **params: Any) -> Any:
        from sqlalchemy.exc import ProgrammingError

        try:
            with self.engine.begin() as conn:
                return conn.execute(self._text(sql), params)
        except ProgrammingError as exc:
            if "sharpeyes_leases" in str(exc) and "does not exist" in str(exc):
                raise LeaseStoreError(
                    f"no table sharpeyes_leases in {self.engine.url!r}: start the api once on "
                    "this database (sharpeyes serve --db URL migrates it), then retry"
                ) from exc
            raise

    def acquire(self, name: str, holder: str, ttl_s: float) -> int | None:
        row = self._exec(_PG_ACQUIRE, name=name, holder=holder, ttl=float(ttl_s)).first()
        return None if row is None else int(row[0])

    def renew(self, name: str, holder: str, ttl_s: float) -> bool:
        return bool(self._exec(_PG_RENEW, name=name, holder=holder, ttl=float(ttl_s)).rowcount)

    def release(self, name: str, holder: str) -> None:
        self._exec(_PG_RELEASE, name=name, holder=holder)

    def holders(self, prefix: str) -> dict[str, str]:
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return {r[0]: r[1] for r in self._exec(_PG_HOLDERS, prefix=like)}


def lease_store_from_url(url: str) -> LeaseStore:
    """redis://... -> RedisLeaseStore, postgresql...:// -> PostgresLeaseStore."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisLeaseStore(url)
    if url.startswith("postgresql"):
        return PostgresLeaseStore(url)
    raise LeaseStoreError(f"lease store URL {url!r}: expected redis://HOST:PORT/DB or postgresql+psycopg://...")


# --------------------------------------------------------------------------------------- one holder

@dataclass
class Lease:
    """One lease as its holder sees it: valid until `valid_until` on this process's monotonic clock."""

    store: LeaseStore
    name: str
    holder: str
    ttl_s: float = 15.0
    margin_s: float = 2.0
    token: int | None = None
    valid_until: float = 0.0

    @property
    def held(self) -> bool:
        return self.token is not None and time.monotonic() < self.valid_until

    def refresh(self) -> bool:
        """Acquire or renew; True while this holder may act. Store errors propagate."""
        started = time.monotonic()
        if self.token is not None and self.store.renew(self.name, self.holder, self.ttl_s):
            self.valid_until = started + self.ttl_s - self.margin_s
            return True
        token = self.store.acquire(self.name, self.holder, self.ttl_s)
        if token is None:
            self.token, self.valid_until = None, 0.0
            return False
        if token != self.token:
            log.info("lease %s taken by %s (token %d)", self.name, self.holder, token)
        self.token, self.valid_until = token, started + self.ttl_s - self.margin_s
        return True

    def release(self) -> None:
        if self.token is not None:
            self.token, self.valid_until = None, 0.0
            try:
                self.store.release(self.name, self.holder)
            except Exception as exc:  # noqa: BLE001 - the lease will expire anyway
                log.warning("could not release lease %s: %s", self.name, exc)


def _score(camera: str, member: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{camera}\0{member}".encode(), digest_size=8).digest(), "big")


def preferred_owner(camera: str, members: Iterable[str]) -> str | None:
    """Rendezvous (highest random weight) hashing: stable, and a leaving member moves only its cameras."""
    best = max(members, key=lambda m: _score(camera, m), default=None)
    return best


@dataclass
class CameraPool:
    """This worker's view of a pool of workers sharing cameras. Call `tick()` every `heartbeat_s`."""

    store: LeaseStore
    pool: str
    cameras: list[str]
    worker_id: str = field(default_factory=lambda: default_holder_id("worker"))
    ttl_s: float = 15.0
    heartbeat_s: float = 3.0
    keep_on_store_error: bool = True
    leases: dict[str, Lease] = field(default_factory=dict)
    store_ok: bool = True
    _member: Lease | None = None

    @property
    def member_prefix(self) -> str:
        return f"pool:{self.pool}:member:"

    def _lease(self, camera: str) -> Lease:
        if camera not in self.leases:
            self.leases[camera] = Lease(self.store, f"pool:{self.pool}:camera:{camera}", self.worker_id,
                                        ttl_s=self.ttl_s, margin_s=self.ttl_s / 5)
        return self.leases[camera]

    def active(self) -> set[str]:
        """Cameras this worker may process right now."""
        if not self.store_ok and self.keep_on_store_error:
            return {c for c, lease in self.leases.items() if lease.token is not None}
        return {c for c, lease in self.leases.items() if lease.held}

    def tick(self, stop: Callable[[str], None] = lambda camera: None) -> set[str]:
        """Heartbeat, renew, rebalance. `stop(camera)` is called before a camera is handed over."""
        try:
            self._tick(stop)
            if not self.store_ok:
                log.info("lease store reachable again; pool %s", self.pool)
            self.store_ok = True
        except Exception as exc:  # noqa: BLE001 - store outage: keep what we had, see module doc
            if self.store_ok:
                log.warning("lease store unreachable (%s); keeping cameras %s", exc, sorted(self.active()))
            self.store_ok = False
        return self.active()

    def _tick(self, stop: Callable[[str], None]) -> None:
        self._lease_member().refresh()
        members = {n[len(self.member_prefix):] for n in self.store.holders(self.member_prefix)}
        members.add(self.worker_id)
        owners = self.store.holders(f"pool:{self.pool}:camera:")
        for camera in self.cameras:
            lease = self._lease(camera)
            preferred = preferred_owner(camera, members)
            owner = owners.get(lease.name)
            if lease.token is not None:
                if preferred != self.worker_id:
                    # Hand over to the member it belongs to: stop first, then release.
                    stop(camera)
                    lease.release()
                    log.info("camera %s handed to %s", camera, preferred)
                    continue
                if not lease.refresh():
                    stop(camera)
                    log.warning("camera %s lost its lease (now %s)", camera, owners.get(lease.name))
            elif owner is None and preferred == self.worker_id:
                if lease.refresh():
                    log.info("camera %s claimed by %s", camera, self.worker_id)

    def _lease_member(self) -> Lease:
        if self._member is None:
            self._member = Lease(self.store, self.member_prefix + self.worker_id, self.worker_id,
                                 ttl_s=self.ttl_s)
        return self._member

    def leave(self, stop: Callable[[str], None] = lambda camera: None) -> None:
        """Stop and release everything (clean shutdown): the others take over at once, not after ttl_s."""
        for camera, lease in self.leases.items():
            if lease.token is not None:
                stop(camera)
                lease.release()
        if self._member is not None:
            self._member.release()
