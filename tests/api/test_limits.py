"""Request size and time limits (api/guard.py, api/http_server.py): refused early, answered small, never a
stalled or crashed server."""

from __future__ import annotations

import json
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from api.http_server import server_config
from tests.api.conftest import Harness, build
from tests.api.servers import free_port

SMALL = 64 * 1024   # no error answer may be larger


class Served:
    def __init__(self, h: Harness, **kw: float) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(server_config(h.app, "127.0.0.1", self.port, log_level="warning", **kw))
        import threading

        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def raw(self, head: bytes, body: bytes = b"", wait_s: float = 5.0) -> bytes:
        """Send a request head (and part of a body), then read what comes back within wait_s."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=wait_s) as s:
            s.sendall(head + body)
            out = b""
            try:
                while chunk := s.recv(65536):
                    out += chunk
                    if b"\r\n\r\n" in out and len(out) > out.index(b"\r\n\r\n") + 4:
                        break
            except TimeoutError:
                pass
            return out


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Harness, Served]]:
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, body_timeout_s=1.0)
    srv = Served(h, header_timeout_s=1.0)
    try:
        yield h, srv
    finally:
        srv.stop()
        h.ctx.engine.dispose()


def _status(raw: bytes) -> int:
    assert raw.startswith(b"HTTP/1.1 "), raw[:200]
    return int(raw[9:12])


def test_huge_json_body_refused_413_before_reading(api: Harness) -> None:
    body = b'{"username": "' + b"a" * (5 * 2**20) + b'", "password": "x"}'
    r = api.client.post("/api/auth/login", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and len(r.content) < SMALL
    assert "limit" in r.json()["detail"]


def test_chunked_body_counted_as_it_streams(api: Harness) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"username": "'
        for _ in range(80):
            yield b"a" * 65536
        yield b'", "password": "x"}'

    r = api.client.post("/api/auth/login", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and len(r.content) < SMALL


def test_validation_error_never_echoes_a_large_input(api: Harness) -> None:
    r = api.client.post("/api/auth/login", json={"username": "u" * 2_000_000, "password": "x"})
    assert r.status_code == 422 and len(r.content) < SMALL
    assert "username" in r.json()["message"]


@pytest.mark.parametrize("raw", [b'{"username": NaN, "password": "x"}',
                                 b'{"username": "a", "password": Infinity}',
                                 b'{"username": 1e999, "password": "x"}'])
def test_login_with_nan_or_infinity_is_422_not_500(api: Harness, raw: bytes) -> None:
    r = api.client.post("/api/auth/login", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and len(r.content) < SMALL
    json.loads(r.content)   # valid JSON (no bare NaN in it)


def test_deeply_nested_json_is_refused(api: Harness) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    r = api.client.post("/api/ingest/events", content=body,
                        headers={**api.wk, "Content-Type": "application/json"})
    assert r.status_code in (400, 422) and len(r.content) < SMALL


def _png_header_only(w: int, h: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)   # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(
        b"IEND", b"")


def test_decompression_bomb_photo_refused_413(api: Harness) -> None:
    r = api.client.post("/api/incidents", headers=api.auth("op"), json={"title": "t"})
    inc = r.json()["id"]
    bomb = _png_header_only(20000, 20000)
    r = api.client.post(f"/api/incidents/{inc}/photos", headers=api.auth("op"),
                        files={"file": ("b.png", bomb, "image/png")})
    assert r.status_code == 413 and "pixels" in r.json()["detail"]
    assert api.count("media") == 0


def test_decompression_bomb_snapshot_refused_413(api: Harness) -> None:
    from tests.api.conftest import event

    api.register("cam1")
    api.post_events(event("e1"))
    r = api.client.post("/api/ingest/media", headers=api.wk, data={"event_id": "e1", "kind": "snapshot"},
                        files={"file": ("b.png", _png_header_only(20000, 20000), "image/png")})
    assert r.status_code == 413 and api.count("media") == 0


def test_security_headers_on_every_answer(api: Harness) -> None:
    for r in (api.client.get("/api/health"), api.client.get("/api/incidents"), api.client.get("/")):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_nul_in_query_refused_400(api: Harness) -> None:
    r = api.client.get("/api/incidents?category=a%00b", headers=api.auth("op"))
    assert r.status_code == 400 and "NUL" in r.json()["detail"]


def test_unauthenticated_upload_refused_before_its_body(served: tuple[Harness, Served]) -> None:
    _, srv = served
    head = (b"POST /api/ingest/media HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 50000000\r\n\r\n")
    t0 = time.monotonic()
    out = srv.raw(head, b"--b\r\n", wait_s=5)
    assert _status(out) == 401 and time.monotonic() - t0 < 3


def test_oversized_photo_refused_413_before_upload(served: tuple[Harness, Served]) -> None:
    h, srv = served
    head = (b"POST /api/incidents/1/photos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + h.tokens.get("op", "x").encode() + b"\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: " + str(300 * 2**20).encode() + b"\r\n\r\n")
    t0 = time.monotonic()
    out = srv.raw(head, b"--b\r\n", wait_s=5)
    assert _status(out) == 413 and time.monotonic() - t0 < 3


def test_slow_body_answered_408(served: tuple[Harness, Served]) -> None:
    _, srv = served
    head = (b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n")
    t0 = time.monotonic()
    out = srv.raw(head, b'{"username": ', wait_s=6)
    assert _status(out) == 408 and time.monotonic() - t0 < 5


def test_slow_headers_cut_off(served: tuple[Harness, Served]) -> None:
    _, srv = served
    t0 = time.monotonic()
    out = srv.raw(b"GET /api/health HTTP/1.1\r\nHost: x\r\n", wait_s=6)   # never ends its headers
    assert time.monotonic() - t0 < 5
    assert out == b"" or _status(out) == 408


def test_full_media_folder_is_503_and_leaves_nothing(api: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from tests.api.conftest import jpeg_bytes

    real = Path.write_bytes

    def half_then_full(self: Path, data: bytes) -> int:   # type: ignore[override]
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    inc = api.client.post("/api/incidents", headers=api.auth("op"), json={"title": "t"}).json()["id"]
    monkeypatch.setattr(Path, "write_bytes", half_then_full)
    r = api.client.post(f"/api/incidents/{inc}/photos", headers=api.auth("op"),
                        files={"file": ("p.jpg", jpeg_bytes(), "image/jpeg")})
    monkeypatch.undo()
    assert r.status_code == 503 and r.json()["code"] == "storage_unavailable"
    assert api.count("media") == 0
    assert not [p for p in (api.tmp / "media").rglob("*") if p.is_file()]


def test_frame_starting_like_a_jpeg_but_not_one_is_415(api: Harness) -> None:
    from tests.api.conftest import jpeg_bytes

    api.register("cam1")
    r = api.client.put("/api/ingest/cameras/cam1/frame", headers=api.wk, content=b"\xff\xd8" + b"x" * 1000)
    assert r.status_code == 415
    r = api.client.put("/api/ingest/cameras/cam1/frame", headers=api.wk, content=jpeg_bytes())
    assert r.status_code == 204


def test_a_clip_is_stored_only_when_it_decodes(api: Harness) -> None:
    """Bytes with `ftyp` at offset 4 are not a clip: the clip is probed by decoding a frame, and what does not
    decode is refused 415 with the reason, nothing stored (no row, no file)."""
    from tests.api.conftest import event, mp4_bytes

    api.register("cam1")
    api.post_events(event("e1"))
    real = mp4_bytes()
    fakes = {"ftyp then junk": b"\x00\x00\x00\x18ftypisom" + b"\x00" * 4000,
             "ftyp then random": b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20,
             "truncated clip": real[: len(real) // 3]}
    for what, data in fakes.items():
        r = api.client.post("/api/ingest/media", headers=api.wk, data={"event_id": "e1", "kind": "clip"},
                            files={"file": ("c.mp4", data, "video/mp4")})
        assert r.status_code == 415, (what, r.status_code, r.text)
        assert "not a playable MP4 clip" in r.json()["detail"] and "H.264 MP4" in r.json()["detail"], what
    assert api.count("media") == 0
    assert not [p for p in (api.tmp / "media").rglob("*") if p.is_file()]
    r = api.client.post("/api/ingest/media", headers=api.wk, data={"event_id": "e1", "kind": "clip"},
                        files={"file": ("c.mp4", real, "video/mp4")})
    assert r.status_code == 201, r.text
    assert api.count("media") == 1
