"""The worker's side of the event stream: `StreamProducer.send(batch)` returns once the api has stored it.

See `coordination.stream` for the format and `api.cluster.stream` for the reader.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

from coordination.stream import SIG_VERSION, STREAM_PREFIX, shard_of, signature, stream_name
from vision.events import EventMessage


class StreamRefused(Exception):
    """The api refused a batch (signature, pool, unknown camera, ...): the same batch as it is will not do.

    `code`: the api's error code when it gave one (`unknown_camera`: register the cameras again)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class StreamUnavailable(Exception):
    """No answer in time (Redis down, no replica reading, database down): keep it and retry later."""


class StreamProducer:
    """A worker's sending side: `send(batch)` returns once the api has stored it, else raises."""

    def __init__(self, url: str, worker: str, key: str, pool: str = "", shards: int = 8,
                 timeout_s: float = 10.0, prefix: str = STREAM_PREFIX) -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=timeout_s + 5,
                                          decode_responses=True)
        self.worker, self.pool, self.shards, self.timeout_s, self.prefix = (
            worker,
            pool,
            shards,
            timeout_s,
            prefix,
        )
        self._key_hash = hashlib.sha256(key.encode()).hexdigest()

    def signed_fields(self, body: str, reply: str, ts: float | None = None,
                      nonce: str | None = None) -> dict[str, str]:
        fields = {"v": SIG_VERSION, "worker": self.worker, "pool": self.pool,
                  "ts": f"{time.time() if ts is None else ts:.3f}", "nonce": nonce or secrets.token_hex(12),
                  "reply": reply, "body": body}
        fields["sig"] = signature(self._key_hash, fields)
        return fields

    def send(self, messages: Sequence[EventMessage]) -> dict[str, int]:
        """Store a batch through the stream; {"stored", "duplicates"} once every shard's part is stored."""
        import redis

        parts: dict[int, list[dict[str, Any]]] = {}
        for m in messages:
            parts.setdefault(shard_of(m.camera, self.shards), []).append(m.model_dump(mode="json"))
        reply = f"sharpeyes:reply:{self.worker}:{secrets.token_hex(8)}"
        try:
            for shard, items in parts.items():
                body = json.dumps(items, separators=(",", ":"))
                self.redis.xadd(stream_name(shard, self.prefix), self.signed_fields(body, reply))  # type: ignore[arg-type]
            total = {"stored": 0, "duplicates": 0}
            deadline = time.monotonic() + self.timeout_s
            for _ in parts:
                left = deadline - time.monotonic()
                got = self.redis.blpop([reply], timeout=max(0.01, left)) if left > 0 else None
                if got is None:
                    raise StreamUnavailable(f"no api replica stored the batch within {self.timeout_s:.0f} s")
                answer = json.loads(got[1])
                if answer.get("refused"):
                    raise StreamRefused(f"the api refused the batch: {answer['refused']}", answer.get("code"))
                if not answer.get("ok"):
                    raise StreamUnavailable(f"the api could not store the batch: {answer.get('error')}")
                total["stored"] += int(answer.get("stored", 0))
                total["duplicates"] += int(answer.get("duplicates", 0))
            return total
        except redis.RedisError as exc:
            raise StreamUnavailable(f"Redis is unreachable: {exc}") from exc
        finally:
            try:
                self.redis.delete(reply)
            except redis.RedisError:
                pass
