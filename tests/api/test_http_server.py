"""The header timeout of both protocols `sharpeyes serve` can run (api/http_server.py): httptools, the
default, and h11. Headers that never end are answered 408 and the connection closed, on a new connection
and on a kept-alive one after an answer; headers sent in pieces within the time are served."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Harness, build
from tests.api.test_limits import Served

HEALTH = b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(params=["httptools", "h11"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Served]]:
    h: Harness = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    srv = Served(h, header_timeout_s=1.0, http=request.param)
    try:
        yield request.param, srv
    finally:
        srv.stop()
        h.ctx.engine.dispose()


def _read_answer(s: socket.socket) -> bytes:
    """One whole answer (headers and its Content-Length of body)."""
    out = b""
    while b"\r\n\r\n" not in out:
        out += s.recv(65536)
    head, _, body = out.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += s.recv(65536)
    return head


def _rest(s: socket.socket) -> bytes:
    """Everything until the server hangs up (the socket's timeout fails the test if it never does)."""
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def test_the_protocol_asked_for_is_the_one_serving(served: tuple[str, Served]) -> None:
    kind, srv = served
    expected = {"httptools": "GuardedHttpToolsTimed", "h11": "GuardedH11Timed"}[kind]
    assert srv.server.config.http.__name__ == expected  # type: ignore[union-attr]


def test_headers_that_never_end_are_cut_off_with_408(served: tuple[str, Served]) -> None:
    _, srv = served
    with socket.create_connection(("127.0.0.1", srv.port), timeout=8) as s:
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")   # never ends its headers
        out = _rest(s)
    assert out.startswith(b"HTTP/1.1 408 "), out[:200]


def test_a_kept_alive_connection_gets_the_same_time_for_its_next_request(served: tuple[str, Served]) -> None:
    _, srv = served
    with socket.create_connection(("127.0.0.1", srv.port), timeout=8) as s:
        s.sendall(HEALTH)
        assert _read_answer(s).startswith(b"HTTP/1.1 200 ")
        s.sendall(b"GET /api/health HTTP/1.1\r\n")   # the second request stalls in its headers
        out = _rest(s)
    assert out.startswith(b"HTTP/1.1 408 "), out[:200]


def test_headers_sent_in_pieces_within_the_time_are_served(served: tuple[str, Served]) -> None:
    _, srv = served
    with socket.create_connection(("127.0.0.1", srv.port), timeout=8) as s:
        for i in range(0, len(HEALTH), 8):
            s.sendall(HEALTH[i:i + 8])
            time.sleep(0.02)
        assert _read_answer(s).startswith(b"HTTP/1.1 200 ")
        s.sendall(HEALTH)   # and the next one on the same connection
        assert _read_answer(s).startswith(b"HTTP/1.1 200 ")


def test_headers_over_the_limit_are_refused_and_the_connection_closed(served: tuple[str, Served]) -> None:
    kind, srv = served
    pad = b"X-Pad: " + b"a" * 1000 + b"\r\n"
    with socket.create_connection(("127.0.0.1", srv.port), timeout=8) as s:
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(200):   # 200 KB of headers, never ended
                s.sendall(pad)
        except OSError:
            pass   # refused and closed while we were still sending
        try:
            out = _rest(s)
        except ConnectionResetError:
            out = b""
    # h11 answers its own 400; httptools has no limit of its own and gets ours (431)
    expected = {"httptools": b"HTTP/1.1 431 ", "h11": b"HTTP/1.1 400 "}[kind]
    assert out == b"" or out.startswith(expected), out[:200]
