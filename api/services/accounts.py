"""Passwords (argon2), signed bearer tokens, worker API keys and the login rate limit."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import weakref
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("admin", "operator", "leader", "engineer", "department", "grid")   # department, grid: of a body
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Password checks at once: argon2 is slow and memory-hard on purpose, so a burst of sign-ins waits here (on
# the event loop, holding no thread and no connection) instead of taking every core and thread.
PASSWORD_CHECKS = max(1, (os.cpu_count() or 2) // 2)
PASSWORD_QUEUE = 256    # more waiting than this: refused at once (503), the server stays responsive
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary())


class Busy(Exception):
    """Too many sign-ins at once."""


async def check_password(password_hash: str, password: str) -> bool:
    """verify_password with at most PASSWORD_CHECKS running at once, off the event loop."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = anyio.CapacityLimiter(PASSWORD_CHECKS)
    if slots.statistics().tasks_waiting >= PASSWORD_QUEUE:
        raise Busy("too many sign-ins at once: retry in a few seconds")
    return await anyio.to_thread.run_sync(verify_password, password_hash, password, limiter=slots)


# A hash to verify against when the user does not exist, so timing does not reveal which names exist.
DUMMY_HASH = hash_password("no-such-user-" + secrets.token_hex(8))


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    role: str
    team_id: int | None
    expires: float
    version: int = 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: str, user_id: int, role: str, team_id: int | None, ttl_s: float,
               version: int = 0) -> str:
    """A signed token; `version` is the user's token_version (a token of an older one is refused)."""
    body = _b64(json.dumps({"u": user_id, "r": role, "t": team_id, "e": time.time() + ttl_s,
                            "v": version}).encode())
    sig = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig}"


def read_token(secret: str, token: str) -> TokenClaims | None:
    """The claims of a valid, unexpired token; None for anything else."""
    try:
        body, sig = token.split(".", 1)
        want = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(want, sig):
            return None
        data = json.loads(_unb64(body))
        claims = TokenClaims(int(data["u"]), str(data["r"]), data["t"], float(data["e"]),
                             int(data.get("v", 0)))
    except (ValueError, KeyError, TypeError):
        return None
    if claims.expires < time.time() or claims.role not in ROLES:
        return None
    return claims


def new_worker_key() -> str:
    return "swk_" + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class LoginLimiter:
    """Three limits on failed logins. Per (address, name): `limit` per window, and per address: `per_address`
    per window whatever the names (a spray over many accounts); then 429 until the window passes. Per
    account, from any address: after `account_after` failures in a row, each further failure makes that
    name wait 2^k seconds (k = failures beyond `account_after`: 1, 2, 4, ... up to `account_max_s`) before
    the next try is checked; a success clears it, and a name left alone for `account_forget_s` is forgotten.
    `clock` is injectable (tests)."""

    def __init__(self, limit: int, window_s: float = 60.0, per_address: int = 30, account_after: int = 10,
                 account_max_s: float = 900.0, account_forget_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.per_address = per_address
        self.window_s = window_s
        self.account_after = account_after
        self.account_max_s = account_max_s
        self.account_forget_s = max(account_forget_s, account_max_s)
        self.clock = clock
        self._fails: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._accounts: dict[str, tuple[int, float, float]] = {}   # name -> (failures, last, locked until)
        self._lock = threading.Lock()

    def _wait(self, key: tuple[str, str], limit: int, now: float) -> float:
        q = self._fails[key]
        while q and q[0] < now - self.window_s:
            q.popleft()
        if not q:
            del self._fails[key]   # the table holds only what is still counted
            return 0.0
        return q[0] + self.window_s - now if len(q) >= limit else 0.0

    def _account_wait(self, name: str, now: float) -> float:
        entry = self._accounts.get(name)
        if entry is None:
            return 0.0
        _, last, until = entry
        if now - last > self.account_forget_s:
            del self._accounts[name]
            return 0.0
        return max(0.0, until - now)

    def backoff_s(self, failures: int) -> float:
        """The wait after `failures` failures in a row of one account (0 below `account_after`)."""
        k = failures - self.account_after
        return 0.0 if k < 0 else float(min(self.account_max_s, 2.0 ** min(k, 62)))

    def retry_after(self, addr: str, name: str) -> float:
        """Seconds to wait before another try; 0 when allowed."""
        now = self.clock()
        with self._lock:
            return max(self._wait((addr, name), self.limit, now),
                       self._wait((addr, ""), self.per_address, now),
                       self._account_wait(name, now))

    def failed(self, addr: str, name: str) -> None:
        with self._lock:
            now = self.clock()
            self._fails[(addr, name)].append(now)
            self._fails[(addr, "")].append(now)
            n, last, _ = self._accounts.get(name, (0, now, now))
            n = 1 if now - last > self.account_forget_s else n + 1
            self._accounts[name] = (n, now, now + self.backoff_s(n))
            if len(self._accounts) > 100_000:   # a spray of made-up names: drop what is forgotten anyway
                for key in [k for k, v in self._accounts.items() if now - v[1] > self.account_forget_s]:
                    del self._accounts[key]

    def succeeded(self, addr: str, name: str) -> None:
        with self._lock:
            self._fails.pop((addr, name), None)
            self._accounts.pop(name, None)
