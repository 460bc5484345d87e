"""A real api server process and a worker that posts through the real ingest routes, for the browser tests."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import imageio_ffmpeg
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "sample_videos" / "vtest.avi"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ApiServer:
    data: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    seed: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        import patrol

        return {**os.environ, "SHARPEYES_DEV": "true",
                "SHARPEYES_DB_URL": f"sqlite:///{self.data / 'db.sqlite3'}",
                "SHARPEYES_MEDIA_DIR": str(self.data / "media"), "SHARPEYES_SITE_PATH": str(patrol.DEMO_SITE)}

    def prepare(self) -> None:
        """Migrate and seed the demo teams and accounts (the same code as `sharpeyes demo`)."""
        from api.db.engine import make_engine, migrate, session_factory
        from api.demo.run import seed_demo

        self.data.mkdir(parents=True, exist_ok=True)
        engine = make_engine(self.env()["SHARPEYES_DB_URL"])
        migrate(engine)
        self.seed = seed_demo(session_factory(engine), key_file=self.data / "worker.key")
        engine.dispose()

    def start(self) -> None:
        log = open(self.data / "server.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "api.demo.run:env_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--ws-ping-interval", "5"],
            cwd=str(ROOT), env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"api server exited: see {self.data / 'server.log'}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("api server did not start within 60 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def account(self, role: str) -> tuple[str, str, int | None]:
        acc = next(a for a in self.seed.accounts if a.role == role)
        return acc.name, acc.password, self.seed.team_ids.get(acc.team)

    def token(self, role: str) -> str:
        name, pw, _ = self.account(role)
        r = httpx.post(f"{self.url}/api/auth/login", json={"username": name, "password": pw})
        r.raise_for_status()
        return str(r.json()["access_token"])


def clip_frames(n: int = 20) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(CLIP))
    frames: list[np.ndarray] = []
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def h264_mp4(frames: list[np.ndarray], fps: int = 10) -> bytes:
    """A browser-playable H.264 MP4 from frames (imageio-ffmpeg's bundled ffmpeg)."""
    h, w = frames[0].shape[:2]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "clip.mp4")
        writer = imageio_ffmpeg.write_frames(path, (w, h), fps=fps, codec="libx264", pix_fmt_in="bgr24",
                                             output_params=["-pix_fmt", "yuv420p", "-movflags", "+faststart"])
        writer.send(None)
        for f in frames:
            writer.send(np.ascontiguousarray(f).tobytes())
        writer.close()
        return Path(path).read_bytes()


def jpeg(frame: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", frame)
    assert ok
    return buf.tobytes()


class IngestWorker:
    """What `sharpeyes worker` sends, posted with the worker key through the real ingest routes."""

    def __init__(self, server: ApiServer, camera: str = "fire_lane_east",
                 place: str = "fire_lane_east") -> None:
        self.server, self.camera, self.place = server, camera, place
        self.http = httpx.Client(base_url=server.url, headers={"X-API-Key": server.seed.worker_key},
                                 timeout=30)
        self.frames = clip_frames()

    def register(self) -> None:
        self.http.post("/api/ingest/cameras", json=[{"id": self.camera, "name": "东侧消防通道",
                                                     "place": self.place}]).raise_for_status()

    def heartbeat(self, state: str = "online") -> None:
        self.http.post("/api/ingest/cameras/state", json=[{"camera": self.camera, "state": state,
                                                           "fps": 5.0}]).raise_for_status()
        self.http.put(f"/api/ingest/cameras/{self.camera}/frame", content=jpeg(self.frames[0]),
                      headers={"Content-Type": "image/jpeg"}).raise_for_status()

    def beat(self, every_s: float = 2.0) -> threading.Event:
        """Heartbeats in the background, as a running worker sends them; set the returned event to stop."""
        stop = threading.Event()

        def run() -> None:
            with httpx.Client(base_url=self.server.url, headers={"X-API-Key": self.server.seed.worker_key},
                              timeout=10) as c:
                while not stop.wait(every_s):
                    try:
                        c.post("/api/ingest/cameras/state", json=[{"camera": self.camera, "state": "online",
                                                                   "fps": 5.0}])
                    except httpx.HTTPError:
                        pass

        threading.Thread(target=run, name=f"beat-{self.camera}", daemon=True).start()
        return stop

    def event(self, event: str = "fire_lane_blocked") -> dict[str, Any]:
        eid = f"{self.camera}-{uuid.uuid4().hex[:8]}"
        msg = {"id": eid, "lifecycle": "new", "seq": 0, "camera": self.camera, "zone": "fire_lane",
               "event": event,
               "rule": "stationary", "label": "car", "track_id": 7, "first_seen_s": 0.0, "start_s": 10.0,
               "max_score": 0.81, "bbox": [600.0, 20.0, 760.0, 140.0], "wall_time": time.time()}
        r = self.http.post("/api/ingest/events", json=msg)
        r.raise_for_status()
        files = {"file": ("snap.jpg", io.BytesIO(jpeg(self.frames[0])), "image/jpeg")}
        self.http.post("/api/ingest/media", data={"event_id": eid, "kind": "snapshot"},
                       files=files).raise_for_status()
        files = {"file": ("clip.mp4", io.BytesIO(h264_mp4(self.frames)), "video/mp4")}
        self.http.post("/api/ingest/media", data={"event_id": eid, "kind": "clip"},
                       files=files).raise_for_status()
        out: dict[str, Any] = r.json()
        return out
