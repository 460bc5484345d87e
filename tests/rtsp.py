"""A real RTSP camera for the slow tests: tests/rtsp_server.py (GStreamer's RTSP server) as its own process,
run by Debian's /usr/bin/python3 with python3-gi, which scripts/test-setup.sh installs."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = "/usr/bin/python3"
SETUP_HINT = "run scripts/test-setup.sh (it installs gir1.2-gst-rtsp-server-1.0, python3-gi and the plugins)"


def clip_frames(clip: Path, folder: Path, max_frames: int | None = None) -> Path:
    """The clip's frames as numbered JPEGs, which the server plays in a loop."""
    folder.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(clip))
    n = 0
    while max_frames is None or n < max_frames:
        ok, image = cap.read()
        if not ok:
            break
        cv2.imwrite(str(folder / f"{n:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        n += 1
    cap.release()
    assert n > 0, f"no frames read from {clip}"
    return folder


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RtspCamera:
    """GStreamer's RTSP server serving `frames` at `fps` on rtsp://127.0.0.1:PORT/cam, looped.

    kill() is a camera that dies (its TCP connections close); pause() freezes it (connections stay open,
    nothing is sent); start() again serves on the same port from frame 0.
    """

    def __init__(self, frames: Path, fps: int = 10, port: int | None = None) -> None:
        self.frames, self.fps, self.port = frames, fps, port or free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        self.proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []

    def start(self, timeout_s: float = 30.0) -> RtspCamera:
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
                                "from gi.repository import GstRtspServer"], capture_output=True, text=True)
        if probe.returncode != 0:
            raise RuntimeError(
                f"{SYSTEM_PYTHON} cannot load GStreamer's RTSP server: {SETUP_HINT}\n{probe.stderr}"
            )
        self.proc = subprocess.Popen([SYSTEM_PYTHON, str(ROOT / "tests" / "rtsp_server.py"), "--frames",
                                      str(self.frames), "--fps", str(self.fps), "--port", str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()
        proc = self.proc

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.log.append(line.rstrip())
                if line.startswith("ready "):
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while not ready.wait(0.1):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the RTSP server did not start: {self.log[-5:]}; {SETUP_HINT}")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def __enter__(self) -> RtspCamera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.resume()
        self.kill()
