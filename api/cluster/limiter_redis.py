"""`RedisLoginLimiter`: the failed sign-in limits of `api.services.accounts.LoginLimiter`, kept in Redis so
that every api replica counts the same failures (scale-out, `SHARPEYES_BUS=redis`) and a restart forgets
nothing.

Same three limits and the same numbers: per (address, name) and per address in a sliding window (a sorted
set of failure times each), and per account a count of failures in a row with a doubling wait (a hash).
Each call is one Lua script, so concurrent replicas cannot both pass a limit that has one try left. Times are
the wall clock (`time.time`), shared by the replicas. Keys hold a hash of the address and name, never the
name itself, and expire when nothing in them counts any more.

When Redis cannot be reached the limits fall back to this replica's own memory (logged once per outage):
sign-in keeps working and stays limited, per replica, as without Redis.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from api.services.accounts import LoginLimiter

log = logging.getLogger(__name__)
PREFIX = "sharpeyes:login:"

# KEYS: window (address, name), window (address), account. ARGV: now, window_s, limit, per_address.
_RETRY_AFTER = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local function wait(key, limit)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) < limit then return 0 end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
local w = math.max(wait(KEYS[1], tonumber(ARGV[3])), wait(KEYS[2], tonumber(ARGV[4])))
local until_ = tonumber(redis.call('HGET', KEYS[3], 'until') or '0')
return tostring(math.max(w, until_ - now, 0))
"""

# KEYS as above. ARGV: now, window_s, account_after, account_max_s, account_forget_s, a unique member.
_FAILED = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local after, max_s, forget = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[6])
  redis.call('EXPIRE', KEYS[i], math.ceil(window) + 1)
end
local n = tonumber(redis.call('HGET', KEYS[3], 'n') or '0')
local last = tonumber(redis.call('HGET', KEYS[3], 'last') or ARGV[1])
if now - last > forget then n = 1 else n = n + 1 end
local k = n - after
local backoff = 0
if k >= 0 then backoff = math.min(max_s, 2 ^ math.min(k, 62)) end
redis.call('HSET', KEYS[3], 'n', n, 'last', ARGV[1], 'until', tostring(now + backoff))
redis.call('EXPIRE', KEYS[3], math.ceil(forget) + 1)
return n
"""


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"{PREFIX}{kind}:{digest}"


class RedisLoginLimiter(LoginLimiter):
    """`LoginLimiter` whose counts live in Redis at `url`; this replica's memory only while Redis is down."""

    def __init__(self, url: str, limit: int, window_s: float = 60.0, per_address: int = 30,
                 account_after: int = 10, account_max_s: float = 900.0, account_forget_s: float = 3600.0,
                 clock: Callable[[], float] = time.time, timeout_s: float = 1.0) -> None:
        super().__init__(limit, window_s, per_address, account_after, account_max_s, account_forget_s, clock)
        import redis

        self.url = url
        self._redis = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._retry_after = self._redis.register_script(_RETRY_AFTER)
        self._failed = self._redis.register_script(_FAILED)
        self._down = False

    def _keys(self, addr: str, name: str) -> list[str]:
        return [_key("w", addr, name), _key("w", addr), _key("a", name)]

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        """fn's answer, or None when Redis cannot be reached (then this replica's memory counts)."""
        import redis

        try:
            out = fn()
        except redis.RedisError as exc:
            if not self._down:
                log.warning("login limits: Redis at %s unreachable (%s); %s counted in this replica's memory "
                            "until it is back", self.url, exc, what)
            self._down = True
            return None
        if self._down:
            log.info("login limits: Redis at %s is back; failed sign-ins are shared again", self.url)
            self._down = False
        return out

    def retry_after(self, addr: str, name: str) -> float:
        args: list[float] = [self.clock(), self.window_s, self.limit, self.per_address]
        out = self._call("failed sign-ins", lambda: self._retry_after(keys=self._keys(addr, name), args=args))
        local = super().retry_after(addr, name)   # what was counted here while Redis was down
        return max(float(out), local) if out is not None else local

    def failed(self, addr: str, name: str) -> None:
        member = uuid.uuid4().hex   # one entry per failure in the windows' sorted sets
        args: list[str | float] = [self.clock(), self.window_s, self.account_after, self.account_max_s,
                                   self.account_forget_s, member]
        keys = self._keys(addr, name)
        if self._call("failed sign-ins", lambda: self._failed(keys=keys, args=args)) is None:
            super().failed(addr, name)

    def succeeded(self, addr: str, name: str) -> None:
        keys = self._keys(addr, name)
        self._call("sign-ins", lambda: self._redis.delete(keys[0], keys[2]))
        super().succeeded(addr, name)

    def close(self) -> None:
        self._redis.close()
