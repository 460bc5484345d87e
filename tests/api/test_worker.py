"""The worker with a stand-in pipeline against a real server on a real port: in order, exactly once,
and nothing lost while the api is not there yet."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from api.db.models import Event, EventStep, Media
from tests.api.conftest import build
from tests.api.servers import FakePipeline, ServerThread, free_port, write_clip, write_config
from worker.outbox import Outbox
from worker.run import Worker


def _worker(tmp_path: Path, url: str, key: str, cams: list[str]) -> Worker:
    clip = write_clip(tmp_path / "clip.avi")
    cfg = write_config(tmp_path, clip, cams)
    return Worker(cfg, url, key, tmp_path / "outbox.db",
                  pipeline_factory=lambda name, cam, path, media: FakePipeline(name, media))


def test_worker_delivers_everything_once_after_api_comes_up(tmp_path: Path) -> None:
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    port = free_port()
    worker = _worker(tmp_path, f"http://127.0.0.1:{port}", h.worker_key, ["cam_a", "cam_b"])
    runner = threading.Thread(target=worker.run)
    runner.start()
    # the api is not there for the first seconds: the cameras run, the outbox fills
    deadline = time.monotonic() + 30
    while not all(r.finished for r in worker.runs.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(r.finished for r in worker.runs.values())
    waiting = worker.outbox.pending()
    assert waiting > 0
    with ServerThread(h.app, port):
        runner.join(60)
        assert not runner.is_alive()
    with h.ctx.sessions() as s:
        steps = s.execute(select(EventStep.event_id, EventStep.seq)).all()
        events = s.scalars(select(Event)).all()
        media = s.scalars(select(Media)).all()
    counts = Counter((e, q) for e, q in steps)
    assert counts and max(counts.values()) == 1                       # exactly once
    assert len(steps) == worker.sent_events
    assert {e.camera_id for e in events} == {"cam_a", "cam_b"}
    # every step arrived, in order
    assert [(e.id, e.lifecycle, e.last_seq) for e in events] == [(e.id, "end", 2) for e in events]
    assert len(media) == len(events) and all(m.kind == "snapshot" for m in media)
    assert Outbox(tmp_path / "outbox.db").pending() == 0


def test_outbox_keeps_order_and_survives_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.put("a", [("event", {"n": 1}), ("event", {"n": 2}), ("media", {"n": 3}), ("event", {"n": 4})])
    box.put("b", [("event", {"n": 5})])
    box.close()
    box = Outbox(tmp_path / "o.db")
    head = box.head("a")
    assert [i.body["n"] for i in head] == [1, 2]
    box.done([i.id for i in head])
    assert [i.body["n"] for i in box.head("a")] == [3]     # a media item goes alone
    box.dead(box.head("a"), "413 too big")
    assert [i.body["n"] for i in box.head("a")] == [4] and box.dead_count() == 1
    assert sorted(box.cameras()) == ["a", "b"] and box.pending() == 2
