"""The worker sends its parking zones' occupancy samples through its durable outbox to the api."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api.db.sensor_models import Occupancy
from tests.api.conftest import build
from tests.api.servers import FakePipeline, ServerThread, free_port, write_clip, write_config
from worker.outbox import Outbox
from worker.run import Worker


class ParkingPipeline(FakePipeline):
    """The stand-in pipeline with one parking zone: a sample every 5 frames (the real one: take_samples of
    vision.pipeline.CameraPipeline)."""

    def __init__(self, name: str, media_dir: Path) -> None:
        super().__init__(name, media_dir, every=1000)
        self.samples: list[dict[str, Any]] = []

    def process(self, frame: Any) -> list[Any]:
        if self.n % 5 == 0:
            self.samples.append({"camera": self.name, "zone": "lot", "t": frame.t,
                                 "wall_time": frame.wall_time, "count": self.n // 5, "capacity": 20})
        return super().process(frame)

    def take_samples(self) -> list[dict[str, Any]]:
        out, self.samples = self.samples, []
        return out


def test_occupancy_samples_reach_the_api_once(tmp_path: Path) -> None:
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    port = free_port()
    clip = write_clip(tmp_path / "clip.avi", seconds=2.0)
    pipes: list[ParkingPipeline] = []

    def factory(name: str, cam: Any, path: Any, media: Path) -> ParkingPipeline:
        pipes.append(ParkingPipeline(name, media))
        return pipes[-1]

    worker = Worker(write_config(tmp_path, clip, ["lot_cam"]), f"http://127.0.0.1:{port}", h.worker_key,
                    tmp_path / "outbox.db", pipeline_factory=factory)
    with ServerThread(h.app, port):
        runner = threading.Thread(target=worker.run)
        runner.start()
        runner.join(60)
        assert not runner.is_alive()
    with h.ctx.sessions() as s:
        rows = s.scalars(select(Occupancy).order_by(Occupancy.id)).all()
    frames = pipes[0].n
    assert len(rows) == (frames + 4) // 5 and [r.count for r in rows] == list(range(len(rows)))
    assert {(r.camera_id, r.zone, r.capacity) for r in rows} == {("lot_cam", "lot", 20)}
    assert Outbox(tmp_path / "outbox.db").pending() == 0
