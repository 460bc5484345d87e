"""A camera added by its ONVIF address: profiles and stream URIs read from a virtual ONVIF camera (ipycam) on
127.0.0.1, its HTTP service alone (no WS-Discovery multicast, no streaming); wrong credentials or address are
refused at their field."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.api.conftest import Harness


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def virtual_onvif_camera() -> Iterator[int]:
    """ipycam's ONVIF service on 127.0.0.1 (user admin, password s3cret!); yields its port."""
    from ipycam.camera import IPCamera, ReusableThreadingTCPServer
    from ipycam.config import CameraConfig
    from ipycam.http import IPCameraHTTPHandler

    port = _free_port()
    cam = IPCamera(CameraConfig(local_ip="127.0.0.1", onvif_port=port, username="admin", password="s3cret!"))
    IPCameraHTTPHandler.camera = cam
    server = ReusableThreadingTCPServer(("127.0.0.1", port), IPCameraHTTPHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def onvif_camera() -> Iterator[int]:
    with virtual_onvif_camera() as port:
        yield port


def test_onvif_profiles_and_stream_uris(api: Harness, onvif_camera: int) -> None:
    admin = api.auth("admin")
    body = {"host": "127.0.0.1", "port": onvif_camera, "username": "admin", "password": "s3cret!"}
    r = api.client.post("/api/camera-configs/onvif", json=body, headers=admin)
    assert r.status_code == 200, r.text
    streams = {s["token"]: s for s in r.json()}
    assert set(streams) == {"Profile_Main", "Profile_Sub"}
    main = streams["Profile_Main"]
    assert (main["width"], main["height"]) == (1920, 1080)
    assert main["uri"] == "rtsp://127.0.0.1:8554/video_main"
    assert main["source"] == "rtsp://admin:s3cret%21@127.0.0.1:8554/video_main"

    r = api.client.post("/api/camera-configs/onvif", json={**body, "password": "wrong"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    assert "refused the user name or password" in r.json()["errors"][0]["message"]
    r = api.client.post("/api/camera-configs/onvif", json={**body, "port": _free_port()}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "host"
    assert api.client.post("/api/camera-configs/onvif", json=body, headers=api.auth("op")).status_code == 403
