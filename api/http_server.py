"""How `sharpeyes serve` runs the app under uvicorn, with the limits uvicorn leaves open for slow clients.

uvicorn closes an idle keep-alive connection (`timeout_keep_alive`) but waits for a request's headers
forever, so a client that sends them a byte at a time holds a socket for as long as it likes. The protocols
here (`GuardedHttpTools`, the default, and `GuardedH11`) give every request `header_timeout_s` to arrive whole
from the moment its connection may send it; the body's own timeout is the guard's (api/guard.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # uvicorn[standard]: httptools

MAX_HEADER_BYTES = 16 * 1024   # a request's line and headers (h11's own limit; httptools has none)


def _answer(status: bytes, detail: bytes) -> bytes:
    body = b'{"detail":"' + detail + b'"}'
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


TOO_SLOW = _answer(b"408 Request Timeout", b"request headers did not arrive in time: send them at once")
TOO_LARGE = _answer(b"431 Request Header Fields Too Large",
                    b"request line and headers over 16 KiB: send fewer or shorter headers")


class _HeaderClock:
    """The header timer both protocols share: armed when a connection may send a request, disarmed when the
    request's headers are all there; when it fires first, a 408 (if nothing is under way) and the hang-up."""

    header_timeout_s = 10.0
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _waiting_for_headers(self) -> bool:
        raise NotImplementedError

    def _idle(self) -> bool:
        raise NotImplementedError

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._waiting_for_headers():
            self._refuse(TOO_SLOW)

    def _refuse(self, answer: bytes) -> None:
        """Answer (when nothing else is under way on the connection) and hang up."""
        if not self.transport.is_closing():
            if self._idle():
                self.transport.write(answer)
            self.transport.close()


class GuardedH11(_HeaderClock, H11Protocol):
    """uvicorn's pure-Python h11 protocol with the header timeout."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def _waiting_for_headers(self) -> bool:
        return self.conn.their_state is h11.IDLE

    def _idle(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:   # a whole request line and headers arrived
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()   # the next request on this connection gets the same time

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)


class GuardedHttpTools(_HeaderClock, HttpToolsProtocol):
    """uvicorn's httptools (C parser) protocol with the header timeout: the default, as it costs less CPU
    per request than h11 (bench api: about 15 % of the api's CPU per single-event post). httptools takes
    headers of any size, so their bytes are counted here: over MAX_HEADER_BYTES, 431 and the hang-up."""

    _headers_done = False
    _header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._headers_done:   # this chunk did not complete the headers: all of it counts
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(TOO_LARGE)

    def _waiting_for_headers(self) -> bool:
        return not self._headers_done

    def _idle(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def on_message_begin(self) -> None:
        self._headers_done = False
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._headers_done, self._header_bytes = True, 0
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)   # its headers are here already
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._headers_done = False
            self._arm_header_timer()   # the next request on this connection gets the same time

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)


def server_config(app: Any, host: str, port: int, header_timeout_s: float = 10.0, trusted_proxies: str = "",
                  **kw: Any) -> uvicorn.Config:
    """uvicorn's config for the app with the header timeout (GuardedHttpTools; `http="h11"` for GuardedH11)
    and a short keep-alive. X-Forwarded-For is believed only from `trusted_proxies` (comma-separated; empty:
    from nobody)."""
    base: type[_HeaderClock] = GuardedH11 if kw.pop("http", "httptools") == "h11" else GuardedHttpTools
    protocol = type(base.__name__ + "Timed", (base,), {"header_timeout_s": header_timeout_s})
    kw.setdefault("timeout_keep_alive", 5)
    proxies = [p.strip() for p in trusted_proxies.split(",") if p.strip()]
    kw.setdefault("proxy_headers", bool(proxies))
    if proxies:
        kw.setdefault("forwarded_allow_ips", proxies)
    return uvicorn.Config(app, host=host, port=port, http=protocol, **kw)
