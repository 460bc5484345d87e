"""Real servers for tests: uvicorn in a thread (fast tests) and helpers shared by the slow tests."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import uvicorn
import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """The app served by uvicorn on a real port, in a thread of this process."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def write_clip(path: Path, seconds: float = 4.0, fps: int = 10, size: tuple[int, int] = (160, 120)) -> Path:
    """A small synthetic clip (a square moving across a grey background)."""
    w, h = size
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))  # type: ignore[attr-defined]
    for i in range(int(seconds * fps)):
        img = np.full((h, w, 3), 90, np.uint8)
        x = int(i * (w - 20) / (seconds * fps))
        cv2.rectangle(img, (x, 50), (x + 20, 70), (0, 0, 255), -1)
        out.write(img)
    out.release()
    return path


def write_config(folder: Path, clip: Path, cameras: list[str], place: str = "p2") -> Path:
    cfg = {"cameras": {name: {
        "source": str(clip), "detect": {"fps": 5}, "location": {"node": place},
        "zones": {"lane": {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
                           "rules": [{"kind": "stationary", "labels": ["car"], "min_seconds": 1,
                                      "event": "fire_lane_blocked"}]}},
    } for name in cameras}}
    path = folder / "cameras.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


class FakePipeline:
    """Stands in for vision's CameraPipeline: a deterministic event every `every` frames, with a snapshot."""

    def __init__(self, name: str, media_dir: Path, every: int = 4, steps: int = 3) -> None:
        self.name, self.every, self.steps = name, every, steps
        self.media_dir = media_dir
        media_dir.mkdir(parents=True, exist_ok=True)
        self.n = 0
        self.open: dict[str, int] = {}

    def process(self, frame: Any) -> list[Any]:
        out = []
        self.last = frame
        for eid, seq in list(self.open.items()):
            lifecycle = "end" if seq + 2 == self.steps else "update"
            out.append(self._msg(eid, seq + 1, lifecycle, frame))
            if lifecycle == "end":
                del self.open[eid]
            else:
                self.open[eid] = seq + 1
        if self.n % self.every == 0:
            eid = f"{self.name}-{self.n}"
            snap = self.media_dir / f"{eid}.jpg"
            cv2.imwrite(str(snap), frame.image)
            msg = self._msg(eid, 0, "new", frame)
            msg.snapshot = str(snap)
            out.append(msg)
            self.open[eid] = 0
        self.n += 1
        return out

    def _msg(self, eid: str, seq: int, lifecycle: str, frame: Any) -> Any:
        from vision.events import EventMessage

        return EventMessage(
            id=eid,
            lifecycle=lifecycle,
            seq=seq,
            camera=self.name,
            zone="lane",  # type: ignore[arg-type]
            event="crowd",
            rule="crowd",
            label="person",
            first_seen_s=frame.t,
            start_s=frame.t,
            end_s=frame.t if lifecycle == "end" else None,
            max_score=0.9,
            bbox=[1, 2, 3, 4],
            wall_time=frame.wall_time,
        )

    def finish(self) -> list[Any]:
        out = [self._msg(eid, self.steps - 1, "end", self.last) for eid in self.open]
        self.open.clear()
        return out

    def annotate(self, frame: Any) -> Any:
        return frame.image
