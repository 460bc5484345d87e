"""A camera whose stream is down sends no frame, so its thread never gets to look at `halt`: stopping it
(a pool moving the camera to another worker, or SIGTERM) must end the source's wait for frames, or the lease
would be released while the thread still runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import yaml

from tests.api.servers import FakePipeline
from tests.rtsp import free_port
from vision.sources import Backoff, open_source
from worker.run import Worker


def test_stopping_a_camera_whose_stream_is_down_ends_its_thread(tmp_path: Path) -> None:
    url = f"rtsp://127.0.0.1:{free_port()}/cam"  # nothing listens
    cfg = tmp_path / "cameras.yaml"
    zone = {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
            "rules": [{"kind": "presence", "labels": ["person"], "min_seconds": 1, "event": "p"}]}
    camera = {"source": url, "detect": {"fps": 5}, "zones": {"z": zone}}
    cfg.write_text(yaml.safe_dump({"cameras": {"gate": camera}}))
    worker = Worker(cfg, "http://127.0.0.1:9", "key", tmp_path / "outbox.db",
                    pipeline_factory=lambda name, cam, path, media: FakePipeline(name, media))
    worker._start_camera("gate")
    deadline = time.monotonic() + 10
    while "gate" not in worker.sources or worker.runs["gate"].state != "reconnecting":
        assert time.monotonic() < deadline, worker.runs["gate"]
        time.sleep(0.05)
    t = worker.threads["gate"]
    t0 = time.monotonic()
    worker._stop_camera("gate")
    assert time.monotonic() - t0 < 3 and not t.is_alive() and worker.runs["gate"].finished
    assert "gate" not in worker.sources


def test_stop_ends_an_iteration_waiting_for_frames() -> None:
    src = open_source(f"rtsp://127.0.0.1:{free_port()}/cam", 5, timeout_s=2, backoff=Backoff(initial_s=5))
    got: list[object] = []
    consumer = threading.Thread(target=lambda: got.extend(src), daemon=True)
    consumer.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    src.stop()
    consumer.join(2)
    assert not consumer.is_alive() and time.monotonic() - t0 < 1 and got == []
    src.close()
