"""The signed event stream's format, shared by the worker (producer) and the api (consumer).

A worker signs each batch with its key (HMAC-SHA256 keyed by sha256(key), the hash the api stores; the key
itself never travels) over its name, pool, a timestamp, a nonce and the body, and `XADD`s it to shard
`hash(camera) % shards` of `sharpeyes:events:<i>`, so one camera's events stay in order.
"""

from __future__ import annotations

import hashlib
import hmac
import zlib

STREAM_PREFIX = "sharpeyes:events:"
GROUP = "api"
SIG_VERSION = "1"
FIELDS = ("v", "worker", "pool", "ts", "nonce", "reply", "body")



def signing_key(key_sha256_hex: str) -> bytes:
    return key_sha256_hex.encode()


def signature(key_sha256_hex: str, fields: dict[str, str]) -> str:
    text = "\n".join(fields[k] for k in FIELDS)
    return hmac.new(signing_key(key_sha256_hex), text.encode(), hashlib.sha256).hexdigest()


def shard_of(camera: str, shards: int) -> int:
    return zlib.crc32(camera.encode()) % shards


def stream_name(shard: int, prefix: str = STREAM_PREFIX) -> str:
    return f"{prefix}{shard}"
