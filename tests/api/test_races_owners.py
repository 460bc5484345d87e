"""Concurrency and ownership: a bad request in a group commit fails alone, concurrent steps on one incident
move it once, worker keys act only on their own cameras, an event id keeps its camera, and the worker sets
aside what the api refuses for good."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api.db.models import Event
from tests.api.conftest import Harness, build, event, jpeg_bytes
from tests.api.servers import FakePipeline, ServerThread, free_port, write_clip, write_config
from worker.outbox import Outbox
from worker.run import Worker


def _second_worker(api: Harness, name: str = "w2") -> dict[str, str]:
    r = api.client.post("/api/workers", headers=api.auth("admin"), json={"name": name})
    assert r.status_code == 201
    return {"X-API-Key": r.json()["key"]}


def test_bad_request_in_a_group_commit_fails_alone(api: Harness) -> None:
    api.register("cam1")
    api.post_events(event("taken", zone="lane"))
    bodies: list[Any] = [event(f"ok{i}", wall_time=time.time() - 5) for i in range(60)]
    bodies.insert(30, event("taken", zone="gate"))                  # reuses an id of another zone: 409
    bodies.insert(10, {**event("bigseq"), "seq": 2**63})              # out of range: 422 at the edge
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(api.post_events, bodies))
    codes = [r.status_code for r in answers]
    assert codes[10] == 422 and codes[31] == 409
    assert [c for i, c in enumerate(codes) if i not in (10, 31)] == [200] * 60
    with api.ctx.sessions() as s:
        ids = set(s.scalars(select(Event.id)))
    assert ids == {"taken"} | {f"ok{i}" for i in range(60)}


def test_six_concurrent_dispatches_move_the_incident_once(api: Harness) -> None:
    inc = api.client.post("/api/incidents", headers=api.auth("op"), json={"title": "race"}).json()["id"]
    barrier = threading.Barrier(6)

    def dispatch(team: int) -> int:
        barrier.wait()
        r = api.client.post(f"/api/incidents/{inc}/actions", headers=api.auth("op"),
                            json={"action": "dispatch", "team_id": team})
        return r.status_code

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(dispatch, [api.teams["t1"], api.teams["t2"]] * 3))
    assert sorted(codes) == [200] + [409] * 5, codes
    detail = api.client.get(f"/api/incidents/{inc}", headers=api.auth("op")).json()
    assert [t["action"] for t in detail["timeline"]].count("dispatch") == 1
    assert detail["state"] == "dispatched"


def test_worker_key_cannot_take_another_workers_camera(api: Harness) -> None:
    api.register("cam1")
    assert api.post_events(event("e1", wall_time=time.time() - 5)).status_code == 200
    w2 = _second_worker(api)
    r = api.client.post("/api/ingest/cameras", headers=w2, json=[{"id": "cam1", "name": "MINE", "place": "p0",
                                                                  "zones": {}}])
    assert r.status_code == 403 and "belongs to worker 'w1'" in r.json()["detail"]
    r = api.client.post("/api/ingest/cameras/state", headers=w2,
                        json=[{"camera": "cam1", "state": "offline"}])
    assert r.status_code == 403
    r = api.client.post("/api/ingest/events", headers=w2,
                        json=event("e1", seq=1, lifecycle="end", end_s=70.0))
    assert r.status_code == 403
    r = api.client.put("/api/ingest/cameras/cam1/frame", headers=w2, content=jpeg_bytes())
    assert r.status_code == 403
    cam = api.client.get("/api/cameras/cam1", headers=api.auth("op")).json()
    assert (cam["name"], cam["place"], cam["worker"]) == ("CAM1", "p2", "w1")
    # its own camera cannot end w1's event by id either
    cam2 = [{"id": "cam2", "name": "c2", "place": None, "zones": {}}]
    assert api.client.post("/api/ingest/cameras", headers=w2, json=cam2).status_code == 200
    r = api.client.post("/api/ingest/events", headers=w2,
                        json=event("e1", seq=1, lifecycle="end", camera="cam2", end_s=70.0))
    assert r.status_code == 409
    with api.ctx.sessions() as s:
        ev = s.get(Event, "e1")
        assert ev is not None and ev.lifecycle == "new" and ev.camera_id == "cam1"
    # an admin frees the camera by revoking its worker's key: then another worker may take it
    wid = [w["id"] for w in api.client.get("/api/workers", headers=api.auth("admin")).json()
           if w["name"] == "w1"][0]
    assert api.client.delete(f"/api/workers/{wid}", headers=api.auth("admin")).status_code == 200
    r = api.client.post("/api/ingest/cameras", headers=w2, json=[{"id": "cam1", "name": "MINE", "place": "p0",
                                                                  "zones": {}}])
    assert r.status_code == 200 and r.json()[0]["worker"] == "w2"


def test_new_step_reusing_an_id_is_refused_with_a_reason(api: Harness) -> None:
    api.register("cam1", "cam2")
    assert api.post_events(event("dup", zone="lane")).status_code == 200
    for other in (event("dup", zone="gate"), event("dup", camera="cam2"), event("dup", kind="crowd")):
        r = api.post_events(other)
        assert r.status_code == 409 and "new id" in r.json()["detail"]
    assert api.post_events(event("dup", zone="lane")).json() == {"stored": 0, "duplicates": 1,
                                                                 "incidents": []}


def test_worker_sets_aside_a_step_the_api_refuses_and_goes_on(tmp_path: Path) -> None:
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    port = free_port()
    clip = write_clip(tmp_path / "clip.avi", seconds=2.0)
    cfg = write_config(tmp_path, clip, ["cam_a"])
    worker = Worker(cfg, f"http://127.0.0.1:{port}", h.worker_key, tmp_path / "outbox.db",
                    pipeline_factory=lambda name, cam, path, media: FakePipeline(name, media))
    with ServerThread(h.app, port):
        with h.client:
            h.register("cam_a")
            # the id the worker will give its first event, taken by an event of another zone
            assert h.post_events(event("cam_a-0", camera="cam_a", zone="elsewhere")).status_code == 200
        runner = threading.Thread(target=worker.run)
        runner.start()
        runner.join(90)
        assert not runner.is_alive()
    box = Outbox(tmp_path / "outbox.db")
    assert box.dead_count() == 3   # the three steps of cam_a-0, set aside with their reason, not retried
    assert box.pending() == 0
    with h.ctx.sessions() as s:
        stored = set(s.scalars(select(Event.id).where(Event.camera_id == "cam_a", Event.zone == "lane")))
    assert stored and "cam_a-0" not in stored          # the other events went on
    h.ctx.engine.dispose()
