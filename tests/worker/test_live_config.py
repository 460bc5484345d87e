"""A worker that takes its cameras from the api applies a changed camera within seconds, restarting only that
camera and ending its running events cleanly; a disabled camera stops, a new one starts."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api.db.models import Event
from tests.api.conftest import build
from tests.api.servers import FakePipeline, ServerThread, write_clip
from worker.run import Worker


def _camera(clip: Path, x0: float = 0.0) -> dict[str, Any]:
    return {"source": str(clip), "detect": {"fps": 5},
            "zones": {"lane": {"polygon": [[x0, 0.0], [1.0, 0.0], [1.0, 1.0], [x0, 1.0]],
                               "rules": [{"kind": "presence", "labels": ["person"], "min_seconds": 1,
                                          "event": "crowd"}]}}}


def _wait(what: Any, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def _events(h: Any, camera: str) -> dict[str, str]:
    with h.ctx.sessions() as s:
        return {e.id: e.lifecycle for e in s.scalars(select(Event).where(Event.camera_id == camera))}


def test_a_changed_camera_restarts_alone_within_seconds(tmp_path: Path) -> None:
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    clip = write_clip(tmp_path / "clip.avi", seconds=6.0)
    configs = h.ctx.camera_configs
    configs.save("cam_a", _camera(clip), "eng")
    configs.save("cam_b", _camera(clip), "eng")
    pipes: dict[str, list[FakePipeline]] = {}

    def pipeline(name: str, cam: Any, path: Path, media: Path) -> FakePipeline:
        # events that never end on their own: only a restart (finish) ends them
        pipe = FakePipeline(name, media / name, every=10, steps=10_000)
        pipes.setdefault(name, []).append(pipe)
        return pipe

    with ServerThread(h.app) as srv:
        worker = Worker(None, srv.url, h.worker_key, tmp_path / "outbox.db", from_api=True, loop=True,
                        pipeline_factory=pipeline)
        runner = threading.Thread(target=worker.run, daemon=True)
        runner.start()
        try:
            _wait(lambda: len(_events(h, "cam_a")) >= 2 and len(_events(h, "cam_b")) >= 2)
            before_a = _events(h, "cam_a")
            assert set(before_a.values()) <= {"new", "update"}
            assert worker.restarts == {}
            token = h.login("admin")

            def states() -> dict[str, str]:
                auth = {"Authorization": f"Bearer {token}"}
                rows = h.client.get("/api/camera-configs", headers=auth).json()
                return {r["camera"]: r["state"] for r in rows}

            _wait(lambda: states() == {"cam_a": "online", "cam_b": "online"}, timeout=10)
            rows = h.client.get("/api/camera-configs", headers={"Authorization": f"Bearer {token}"}).json()
            assert all(0 <= r["detector_load"] < 1 for r in rows)     # the stand-in pipeline is quick

            t0 = time.monotonic()
            configs.save("cam_a", _camera(clip, x0=0.3), "eng")      # the zone moved
            _wait(lambda: worker.restarts.get("cam_a") == 1, timeout=10)
            applied_s = time.monotonic() - t0
            assert applied_s < 5.0
            assert worker.restarts == {"cam_a": 1}                      # cam_b untouched
            assert len(pipes["cam_a"]) == 2 and len(pipes["cam_b"]) == 1
            assert worker.runs["cam_a"].camera.zones["lane"].polygon[0] == (0.3, 0.0)
            # every event cam_a had running ended cleanly; cam_b's go on
            _wait(lambda: all(_events(h, "cam_a")[e] == "end" for e in before_a), timeout=10)
            assert "end" not in set(_events(h, "cam_b").values())

            configs.set_enabled("cam_b", False, "eng")
            _wait(lambda: "cam_b" not in worker.runs, timeout=10)
            assert worker.restarts == {"cam_a": 1}
            _wait(lambda: set(_events(h, "cam_b").values()) == {"end"}, timeout=10)
        finally:
            worker.stop.set()
            runner.join(30)
    assert not runner.is_alive()


class _DebugPipeline(FakePipeline):
    def debug_view(self, frame: Any, fps: float) -> Any:
        img = frame.image.copy()
        img[:10, :10] = (0, 255, 0)
        return img


def test_the_debug_view_is_sent_while_someone_watches_it(tmp_path: Path) -> None:
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    clip = write_clip(tmp_path / "clip.avi", seconds=6.0)
    h.ctx.camera_configs.save("cam_a", _camera(clip), "eng")
    with ServerThread(h.app) as srv:
        worker = Worker(None, srv.url, h.worker_key, tmp_path / "outbox.db", from_api=True, loop=True,
                        realtime=True,
                        pipeline_factory=lambda name, cam, path, media: _DebugPipeline(name, media / name))
        runner = threading.Thread(target=worker.run, daemon=True)
        runner.start()
        try:
            _wait(lambda: worker.runs.get("cam_a") is not None and worker.runs["cam_a"].jpeg_version > 2)
            assert worker.runs["cam_a"].debug_version == 0          # nobody asked: not drawn, not sent
            token = h.login("admin")
            url = f"{srv.url}/api/camera-configs/cam_a/debug.jpg?token={token}"
            import httpx

            assert httpx.get(url).status_code == 404               # asked now; the worker hears it
            _wait(lambda: httpx.get(url).status_code == 200, timeout=10)
            got = httpx.get(url)
            assert got.headers["content-type"] == "image/jpeg" and got.content[:2] == b"\xff\xd8"
        finally:
            worker.stop.set()
            runner.join(30)
