"""Stream passwords stay on the server: the pages, history and export see ***, the workers the password; a
URL read back with *** is the stored one it stands for, and one that matches nothing is refused."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from sqlalchemy import select

from api.db.models import AuditEntry
from api.routes import camera_configs as routes
from tests.api.conftest import Harness
from tests.api.test_camera_configs import camera, engineer
from vision.stream_urls import is_hidden, masked

MAIN = "rtsp://admin:s3cret%40x@10.0.0.5:554/Streaming/Channels/101"
SUB = "rtsp://admin:s3cret%40x@10.0.0.5:554/Streaming/Channels/102"
SHOWN = "rtsp://admin:***@10.0.0.5:554/Streaming/Channels/101"


@pytest.fixture
def tried(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources the api tries (no camera at 10.0.0.5 here): each answers with a tiny frame."""
    seen: list[str] = []

    def fake_probe(source: str, field: str = "source") -> tuple[bytes, int, int]:
        seen.append(source)
        return b"\xff\xd8\xff\xd9", 1920, 1080

    monkeypatch.setattr(routes, "probe", fake_probe)
    return seen


def test_masked_hides_only_the_password() -> None:
    assert masked(MAIN) == SHOWN and is_hidden(SHOWN) and not is_hidden(MAIN)
    assert masked("rtsp://u:p@[fe80::1]:8554/live?x=1") == "rtsp://u:***@[fe80::1]:8554/live?x=1"
    assert masked("rtsp://10.0.0.5/live") == "rtsp://10.0.0.5/live"          # no password: as it is
    assert masked("/data/clips/gate.mp4") == "/data/clips/gate.mp4"
    assert masked("rtsp://u:p@[bad/x") == "rtsp://u:p@[bad/x" and not is_hidden("rtsp://u:***@[bad/x")


def test_pages_history_and_export_see_stars_and_workers_the_password(api: Harness, tried: list[str]) -> None:
    eng, admin = engineer(api), api.auth("admin")
    r = api.client.post("/api/camera-configs", json={"name": "gate", "config": camera(source=MAIN,
                                                                                         detect_source=SUB)},
                        headers=eng)
    assert r.status_code == 201, r.text
    assert tried == [MAIN, SUB]
    answers = [api.client.get("/api/camera-configs/gate", headers=eng),
               api.client.get("/api/camera-configs", headers=eng),
               api.client.get("/api/camera-configs/gate/history", headers=eng),
               api.client.get("/api/camera-configs/export.yaml", headers=admin)]
    for a in answers:
        assert a.status_code == 200 and "s3cret" not in a.text and "admin:***@10.0.0.5" in a.text, a.url
    shown = answers[0].json()["config"]
    assert shown["source"] == SHOWN
    assert shown["detect_source"] == "rtsp://admin:***@10.0.0.5:554/Streaming/Channels/102"
    feed = api.client.get("/api/camera-configs/feed", headers=api.wk).json()
    assert feed["cameras"]["gate"]["config"]["source"] == MAIN          # the worker needs it

    # the page saves what it read back, a zone moved: the passwords are kept, and no stream is tried again
    polygon = [[0.2, 0.5], [0.8, 0.5], [0.8, 1], [0.2, 1]]
    moved: dict[str, Any] = {**shown, "zones": {"path": {**shown["zones"]["path"], "polygon": polygon}}}
    r = api.client.put("/api/camera-configs/gate", json={"config": moved}, headers=eng)
    assert r.json()["changed"] == ["zones.path.polygon"], r.text
    assert tried == [MAIN, SUB]
    stored = api.ctx.camera_configs.get("gate").config
    assert (stored["source"], stored["detect_source"]) == (MAIN, SUB)

    # "Try source" on what the page shows tries the stored URL
    r = api.client.post("/api/camera-configs/probe", json={"source": SHOWN}, headers=eng)
    assert r.status_code == 200
    assert tried[-1] == MAIN

    # an export imported again changes nothing, passwords included
    text = api.client.get("/api/camera-configs/export.yaml", headers=eng).text
    r = api.client.post("/api/camera-configs/import", content=text,
                        headers={**eng, "Content-Type": "application/yaml"})
    assert r.status_code == 200 and r.json()[0]["changed"] == [], r.text
    assert api.ctx.camera_configs.get("gate").config["source"] == MAIN

    # in clear only for an admin who asks, and that is in the audit log
    assert api.client.get("/api/camera-configs/export.yaml?passwords=true", headers=eng).status_code == 403
    clear = api.client.get("/api/camera-configs/export.yaml?passwords=true", headers=admin)
    assert yaml.safe_load(clear.text)["cameras"]["gate"]["source"] == MAIN
    with api.ctx.sessions() as session:
        actions = list(session.scalars(select(AuditEntry.action)))
    assert actions.count("cameras_exported_with_passwords") == 1


def test_a_hidden_password_that_matches_no_camera_is_refused_and_nothing_changes(
        api: Harness, tried: list[str]) -> None:
    eng = engineer(api)
    assert api.client.post("/api/camera-configs", json={"name": "gate", "config": camera(source=MAIN)},
                           headers=eng).status_code == 201
    elsewhere = "rtsp://admin:***@10.0.0.6:554/Streaming/Channels/101"    # another host: not this password
    r = api.client.put("/api/camera-configs/gate", json={"config": camera(source=elsewhere)}, headers=eng)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "source", r.text
    assert "type the camera's password in place of ***" in r.json()["errors"][0]["message"]
    r = api.client.post("/api/camera-configs", json={"name": "lane", "config": camera(source=elsewhere)},
                        headers=eng)
    assert r.status_code == 422 and api.count("camera_configs") == 1
    r = api.client.post("/api/camera-configs/probe", json={"source": elsewhere}, headers=eng)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "source"
    assert tried == [MAIN]                                    # nothing was sent to 10.0.0.6
    row = api.ctx.camera_configs.get("gate")
    assert row.revision == 1 and row.config["source"] == MAIN
    # a new password typed in place of *** is a change, and is tried first
    typed = MAIN.replace("s3cret%40x", "n3w")
    r = api.client.put("/api/camera-configs/gate", json={"config": camera(source=typed)}, headers=eng)
    assert r.json()["changed"] == ["source"] and tried[-1] == typed
