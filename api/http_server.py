"""How `sharpeyes serve` runs the app under uvicorn, with the limits uvicorn leaves open for slow clients.

uvicorn closes an idle keep-alive connection (`timeout_keep_alive`) but waits for a request's headers
forever, so a client that sends them a byte at a time holds a socket for as long as it likes. `GuardedH11`
gives every request `header_timeout_s` to arrive whole from the moment its connection may send it; the body's
own timeout is the guard's (api/guard.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol


class GuardedH11(H11Protocol):
    header_timeout_s = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state in (h11.IDLE,) and not self.transport.is_closing():
            # the headers are not all there: answer 408 if nothing is under way, then hang up
            if self.cycle is None or self.cycle.response_complete:
                body = b'{"detail":"request headers did not arrive in time: send them at once"}'
                self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                                     b"connection: close\r\ncontent-length: " + str(len(body)).encode()
                                     + b"\r\n\r\n" + body)
            self.transport.close()

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


def server_config(app: Any, host: str, port: int, header_timeout_s: float = 10.0, trusted_proxies: str = "",
                  **kw: Any) -> uvicorn.Config:
    """uvicorn's config for the app with the header timeout (GuardedH11) and a short keep-alive.
    X-Forwarded-For is believed only from `trusted_proxies` (comma-separated; empty: from nobody)."""
    protocol = type("GuardedH11Timed", (GuardedH11,), {"header_timeout_s": header_timeout_s})
    kw.setdefault("timeout_keep_alive", 5)
    proxies = [p.strip() for p in trusted_proxies.split(",") if p.strip()]
    kw.setdefault("proxy_headers", bool(proxies))
    if proxies:
        kw.setdefault("forwarded_allow_ips", proxies)
    return uvicorn.Config(app, host=host, port=port, http=protocol, **kw)
