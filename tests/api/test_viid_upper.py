"""SharpEyes as a lower platform: a worker pushes its findings over GA/T 1400 to a second SharpEyes api (the
upper 视图库), which turns them into incidents; nothing is lost while the upper platform is down."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select, text

from api.app import create_app
from api.db.models import Event, Incident, Media, ViidRecord
from api.settings import Settings
from tests.api.conftest import build
from tests.api.servers import FakePipeline, ServerThread, free_port, write_clip, write_config
from worker.outbox import Outbox
from worker.run import Worker
from worker.viid_upper import UpperConfig, UpperPush, ape_id, assign_apes

ROOT = Path(__file__).resolve().parents[2]
LOWER = "31010400002000000009"     # the community's SharpEyes, as the district 视图库 knows it
PASSWORD = "lower-platform-secret"


def upper_app(tmp: Path, cameras: dict[str, tuple[str, str]]) -> Any:
    """A second SharpEyes api as the upper 视图库: each lower camera (name -> (label kind, event)) mapped."""
    apes = assign_apes(LOWER, list(cameras))
    cfg = {"viid": {"devices": {LOWER: {"password": PASSWORD, "keepalive_s": 2}}},
           "cameras": {f"lower_{name}": {"viid": {"device": LOWER, "apes": [apes[name]],
                                                  "rules": [{"objects": [kind], "event": event}]}}
                       for name, (kind, event) in cameras.items()}}
    path = tmp / "upper_viid.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return create_app(Settings(dev=True, db_url=f"sqlite:///{tmp / 'upper.db'}",
                               media_dir=tmp / "upper_media", viid_config=path))


def wait(cond: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.2)


def upper_rows(app: Any) -> tuple[list[ViidRecord], list[Incident], list[Media], list[Event]]:
    with app.state.ctx.sessions() as s:
        return (list(s.scalars(select(ViidRecord))), list(s.scalars(select(Incident))),
                list(s.scalars(select(Media))), list(s.scalars(select(Event))))


def test_findings_wait_in_the_outbox_until_the_upper_platform_is_there(tmp_path: Path) -> None:
    lower = build(f"sqlite:///{tmp_path / 'lower.db'}", tmp_path)
    upper = upper_app(tmp_path, {"cam_a": ("person", "crowd"), "cam_b": ("person", "crowd")})
    port = free_port()
    cfg = write_config(tmp_path, write_clip(tmp_path / "clip.avi"), ["cam_a", "cam_b"])
    conf = UpperConfig(f"http://127.0.0.1:{port}", LOWER, PASSWORD, keepalive_s=1)
    with ServerThread(lower.app) as lower_srv:
        worker = Worker(cfg, lower_srv.url, lower.worker_key, tmp_path / "outbox.db", upper=conf,
                        pipeline_factory=lambda name, cam, path, media: FakePipeline(name, media))
        runner = threading.Thread(target=worker.run)
        runner.start()
        wait(lambda: all(r.finished for r in worker.runs.values()), 60, "the cameras to finish")
        time.sleep(1.0)
        offered = len(worker.upper.offered)
        assert offered > 0 and worker.upper.outbox.pending() == offered   # the upper is not there yet
        assert worker.upper.pushed == 0 and worker.upper.failures > 0
        with ServerThread(upper, port):
            runner.join(60)
            assert not runner.is_alive()
    records, incidents, media, events = upper_rows(upper)
    assert len(records) == offered == worker.upper.pushed
    assert {r.camera_id for r in records} == {"lower_cam_a", "lower_cam_b"}
    apes = (ape_id(LOWER, "cam_a"), ape_id(LOWER, "cam_b"))
    assert all(r.kind == "person" and r.device_id in apes for r in records)
    assert len(media) == offered and {i.camera_id for i in incidents} == {"lower_cam_a", "lower_cam_b"}
    assert all(m.incident_id is not None for m in media)
    # the stand-in finds a "person" every 0.4 s: captures within dedup_s are one event per camera
    assert len(events) == 2 and len(incidents) == 2
    with upper.state.ctx.engine.connect() as c:
        assert c.execute(text("SELECT state FROM viid_devices")).scalar_one() == "online"
    reopened = UpperPush(conf, ["cam_a", "cam_b"], tmp_path / "outbox_viid.db")
    assert reopened.outbox.pending() == 0 and reopened.outbox.dead_count() == 0
    reopened.close()


def test_an_unsent_finding_survives_a_worker_restart(tmp_path: Path) -> None:
    from vision.events import EventMessage

    upper = upper_app(tmp_path, {"gate": ("non_motor_vehicle", "ebike_in_corridor")})
    port = free_port()
    conf = UpperConfig(f"http://127.0.0.1:{port}", LOWER, PASSWORD)
    snap = tmp_path / "snap.jpg"
    from tests.api.conftest import jpeg_bytes

    snap.write_bytes(jpeg_bytes())
    first = UpperPush(conf, ["gate"], tmp_path / "box.db")
    msg = EventMessage(id="gate-1", lifecycle="new", seq=0, camera="gate", zone="corridor",
                       event="ebike_in_corridor", rule="presence", label="bicycle", first_seen_s=1.0,
                       start_s=4.0, max_score=0.9, bbox=[10, 20, 60, 90], snapshot=str(snap),
                       wall_time=time.time())
    first.offer("gate", [msg, msg.model_copy(update={"seq": 1, "lifecycle": "end"})])
    first.close()              # never started: the upper platform was never reached
    second = UpperPush(conf, ["gate"], tmp_path / "box.db")
    assert second.outbox.pending() == 1
    with ServerThread(upper, port):
        second.start()
        wait(lambda: second.outbox.pending() == 0, 30, "the outbox to drain")
        second.close()
    records, incidents, media, _ = upper_rows(upper)
    assert len(records) == 1 and records[0].kind == "non_motor_vehicle"
    assert [i.event_type for i in incidents] == ["ebike_in_corridor"] and len(media) == 1


@pytest.mark.slow
def test_vision_worker_pushes_to_a_second_api_stopped_30_s_meanwhile(tmp_path: Path) -> None:
    """The real pipeline on the composed e-bike clip (paced in real time); the upper api goes down right
    after the worker registers, stays down 30 s (the e-bike is found meanwhile), and comes back."""
    clip_cfg = ROOT / "sample_videos" / "composed_ebike_corridor.yaml"
    lower = build(f"sqlite:///{tmp_path / 'lower.db'}", tmp_path)
    port = free_port()
    cams = {"composed_ebike_corridor": ("non_motor_vehicle", "ebike_in_corridor")}
    upper = upper_app(tmp_path, cams)
    conf = UpperConfig(f"http://127.0.0.1:{port}", LOWER, PASSWORD, keepalive_s=2)
    with ServerThread(lower.app) as lower_srv:
        worker = Worker(clip_cfg, lower_srv.url, lower.worker_key, tmp_path / "outbox.db", upper=conf,
                        realtime=True, media_dir=tmp_path / "worker_media")
        runner = threading.Thread(target=worker.run)
        srv = ServerThread(upper, port).__enter__()
        runner.start()
        wait(lambda: worker.upper.registered, 60, "the worker to register with the upper api")
        srv.__exit__(None, None, None)
        down_at = time.monotonic()
        wait(lambda: time.monotonic() - down_at >= 30, 40, "30 s of outage")
        assert worker.upper.offered, "the e-bike should have been found while the upper api was down"
        assert worker.upper.pushed == 0
        upper.state.ctx.engine.dispose()
        upper = upper_app(tmp_path, cams)        # the same database and media, a new process's app
        with ServerThread(upper, port):
            runner.join(240)
            assert not runner.is_alive()
    with lower.ctx.sessions() as s:
        found = [e for e in s.scalars(select(Event)) if e.label in ("bicycle", "motorcycle")]
    records, incidents, media, events = upper_rows(upper)
    assert found and len(records) == len(found) == len(worker.upper.offered) == worker.upper.pushed
    assert {i.event_type for i in incidents} == {"ebike_in_corridor"}
    assert all(i.camera_id == "lower_composed_ebike_corridor" for i in incidents)
    assert media and all(m.incident_id is not None for m in media)
    box = Outbox(tmp_path / "outbox_viid.db")
    assert box.pending() == 0 and box.dead_count() == 0


def test_a_record_the_upper_platform_refuses_does_not_hold_up_the_others(tmp_path: Path) -> None:
    from tests.api.conftest import jpeg_bytes
    from vision.events import EventMessage

    upper = upper_app(tmp_path, {"gate": ("non_motor_vehicle", "ebike_in_corridor")})
    port = free_port()
    push = UpperPush(UpperConfig(f"http://127.0.0.1:{port}", LOWER, PASSWORD), ["gate"], tmp_path / "box.db")
    good, broken = tmp_path / "good.jpg", tmp_path / "broken.jpg"
    good.write_bytes(jpeg_bytes())
    broken.write_bytes(b"\xff\xd8 a truncated file, not an image")
    msgs = [EventMessage(id=f"gate-{n}", lifecycle="new", seq=0, camera="gate", zone="corridor",
                         event="ebike_in_corridor", rule="presence", label="bicycle", first_seen_s=1.0,
                         start_s=4.0, max_score=0.9, bbox=[10, 20, 60, 90], snapshot=str(path),
                         wall_time=time.time() + n) for n, path in enumerate((broken, good, good))]
    push.offer("gate", msgs)
    with ServerThread(upper, port):
        push.start()
        wait(lambda: push.outbox.pending() == 0, 30, "the outbox to drain")
        push.close()
    records, _, _, _ = upper_rows(upper)
    assert len(records) == 2 and push.pushed == 2
    assert Outbox(tmp_path / "box.db").dead_count() == 1


def test_a_camera_keeps_its_ape_id_when_cameras_are_added_and_new_ones_are_reported(tmp_path: Path) -> None:
    before = assign_apes(LOWER, ["lobby", "stair"])
    after = assign_apes(LOWER, ["gate", "lobby", "stair"])    # "gate" sorts first: no one else's id moves
    assert after["lobby"] == before["lobby"] and after["stair"] == before["stair"]
    assert len(set(after.values())) == 3
    assert all(len(a) == 20 and a.isdigit() and a.startswith(LOWER[:10] + "132") for a in after.values())
    taken = ape_id(LOWER, "lobby")                          # two names on one serial: the second moves on
    assert ape_id(LOWER, "lobby", {taken}) not in (taken, "") and len(ape_id(LOWER, "lobby", {taken})) == 20

    # `worker --from-api`: no camera at its start; each one the feed starts is reported to the upper platform
    posted: list[dict[str, Any]] = []

    def upper(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/VIID/APEs":
            posted.append(json.loads(request.content))
        return httpx.Response(200, json={"ResponseStatusObject": {"StatusCode": "0"}})

    push = UpperPush(UpperConfig("http://upper", LOWER, PASSWORD), [], tmp_path / "viid.db")
    push.http = httpx.Client(base_url="http://upper", transport=httpx.MockTransport(upper))
    assert push._register() and posted == []                 # nothing to report yet
    push.add_cameras(["stair"])
    push.add_cameras(["lobby", "stair"])
    assert push.announce
    push._announce()
    apes = {a["Name"]: a["ApeID"] for a in posted[-1]["APEListObject"]["APEObject"]}
    assert apes == {"lobby": before["lobby"], "stair": before["stair"]} and not push.announce
