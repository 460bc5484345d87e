"""Camera configs in the database: the YAML contract in and out, history, field errors with nothing saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from api.db.models import User
from api.services.accounts import make_token
from tests.api.conftest import PASSWORD_HASH, Harness
from vision.config import Camera as CameraModel
from vision.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "sample_videos" / "vtest.avi"
SAMPLES = sorted((ROOT / "sample_videos" / "cases").glob("*/camera.yaml"))


def camera(**over: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "source": str(CLIP), "detect": {"fps": 4}, "location": {"node": "p2"},
        "zones": {"path": {"polygon": [[0.1, 0.4], [0.9, 0.4], [0.9, 1.0], [0.1, 1.0]],
                           "rules": [{"kind": "presence", "labels": ["person"], "min_seconds": 2,
                                      "event": "person_on_path"}]}},
        "objects": {"mask": [[[0.0, 0.0], [0.2, 0.0], [0.2, 0.2]]]},
        "motion": {"mask": [[[0.0, 0.0], [0.5, 0.0], [0.5, 0.05], [0.0, 0.05]]]},
    }
    cfg.update(over)
    return cfg


def engineer(api: Harness) -> dict[str, str]:
    with api.ctx.sessions() as s:
        user = User(name="eng", password_hash=PASSWORD_HASH, role="engineer")
        s.add(user)
        s.commit()
        token = make_token(api.ctx.settings.secret_key, user.id, "engineer", None, 3600)
    return {"Authorization": f"Bearer {token}"}


def test_sample_configs_import_with_their_zones_and_round_trip(api: Harness) -> None:
    assert len(SAMPLES) >= 10
    admin = api.auth("admin")
    for path in SAMPLES:
        doc = yaml.safe_load(path.read_text())
        # the worker's loader and the import agree on every sample (sources are not tried on import)
        r = api.client.post("/api/camera-configs/import", content=path.read_text(),
                            headers={**admin, "Content-Type": "application/yaml"})
        assert r.status_code == 200, (path, r.text)
        for name, cam in doc["cameras"].items():
            got = api.client.get(f"/api/camera-configs/{name}", headers=admin).json()["config"]
            want = CameraModel.model_validate(cam).model_dump(mode="json", exclude_unset=True)["zones"]
            assert got["zones"] == want, path
            for zone, z in cam["zones"].items():   # the points the editor draws are the file's points
                assert got["zones"][zone]["polygon"] == [list(p) for p in z["polygon"]]
    first = api.client.get("/api/camera-configs/export.yaml", headers=admin)
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/yaml")
    again = api.client.post("/api/camera-configs/import", content=first.text,
                            headers={**admin, "Content-Type": "application/yaml"})
    assert again.status_code == 200
    assert all(s["changed"] == [] for s in again.json())       # a round trip changes nothing
    assert api.client.get("/api/camera-configs/export.yaml", headers=admin).text == first.text
    history = api.client.get("/api/camera-configs/school_gate/history", headers=admin).json()
    assert [h["revision"] for h in history] == [1]


def test_camera_made_in_the_page_exports_the_contract(api: Harness, tmp_path: Path) -> None:
    eng = engineer(api)
    r = api.client.post("/api/camera-configs", json={"name": "gate", "config": camera()}, headers=eng)
    assert r.status_code == 201, r.text
    text = api.client.get("/api/camera-configs/export.yaml", headers=eng).text
    doc = yaml.safe_load(text)
    assert list(doc) == ["cameras"] and list(doc["cameras"]) == ["gate"]
    cam = doc["cameras"]["gate"]
    assert cam["zones"]["path"]["rules"][0] == {"kind": "presence", "event": "person_on_path",
                                                  "labels": ["person"], "min_seconds": 2.0}
    assert cam["objects"]["mask"] == [[[0.0, 0.0], [0.2, 0.0], [0.2, 0.2]]]
    (tmp_path / "cameras.yaml").write_text(text)
    parsed = parse_config(doc, tmp_path / "cameras.yaml")      # what `sharpeyes worker --config` loads
    assert parsed.cameras["gate"].zones["path"].polygon == [(0.1, 0.4), (0.9, 0.4), (0.9, 1.0), (0.1, 1.0)]
    assert api.client.get("/api/cameras/gate", headers=api.auth("op")).json()["place"] == "p2"


def test_changes_keep_history_and_an_unchanged_save_is_no_change(api: Harness) -> None:
    eng = engineer(api)
    assert api.client.post("/api/camera-configs", json={"name": "gate", "config": camera()},
                           headers=eng).status_code == 201
    moved = camera()
    moved["zones"]["path"]["polygon"] = [[0.2, 0.5], [0.8, 0.5], [0.8, 1.0], [0.2, 1.0]]
    r = api.client.put("/api/camera-configs/gate", json={"config": moved}, headers=eng)
    assert r.json() == {"camera": "gate", "revision": 2, "changed": ["zones.path.polygon"]}
    again = api.client.put("/api/camera-configs/gate", json={"config": moved}, headers=eng)
    assert again.json()["changed"] == []
    r = api.client.post("/api/camera-configs/gate/enabled", json={"enabled": False},
                        headers=api.auth("admin"))
    assert r.json()["revision"] == 3
    hist = api.client.get("/api/camera-configs/gate/history", headers=eng).json()
    assert [(h["revision"], h["action"], h["actor"]) for h in hist] == [
        (3, "disabled", "admin"), (2, "updated", "eng"), (1, "created", "eng")]
    assert hist[1]["config"]["zones"]["path"]["polygon"][0] == [0.2, 0.5]
    assert "gate" not in yaml.safe_load(api.client.get("/api/camera-configs/export.yaml",
                                                       headers=eng).text)["cameras"]
    assert api.client.get("/api/camera-configs", headers=api.auth("op")).status_code == 403


def test_a_changed_sub_stream_is_tried_before_it_is_saved(api: Harness) -> None:
    eng = engineer(api)
    body = {"name": "gate", "config": camera(detect_source=str(CLIP))}
    assert api.client.post("/api/camera-configs", json=body, headers=eng).status_code == 201
    broken = camera(detect_source="rtsp://127.0.0.1:9/sub")
    r = api.client.put("/api/camera-configs/gate", json={"config": broken}, headers=eng)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "detect_source", r.text
    cfg = api.client.get("/api/camera-configs/gate", headers=eng).json()
    assert cfg["revision"] == 1 and cfg["config"]["detect_source"] == str(CLIP)   # nothing stored is lost


def _zone(polygon: list[list[float]], labels: list[str] | None = None) -> dict[str, Any]:
    return {"path": {"polygon": polygon, "rules": [{"kind": "presence", "labels": labels or ["person"],
                                                    "min_seconds": 1, "event": "x"}]}}


SQUARE = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]


@pytest.mark.parametrize(("config", "field", "words"), [
    (camera(source=str(ROOT / "no_such_clip.mp4")), "source", "does not exist"),
    (camera(source="rtsp://127.0.0.1:9/none"), "source", "could not open"),
    (camera(detect_source=str(ROOT / "no_such_sub.mp4")), "detect_source", "does not exist"),
    (camera(zones=_zone([[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]])), "zones.path.polygon",
     "crosses itself"),
    (camera(zones=_zone([[0.1, 0.1], [1.3, 0.1], [0.9, 0.9]])), "zones.path.polygon", "outside 0..1"),
    (camera(zones=_zone(SQUARE, ["e-bike"])), "zones.path.rules.0.labels", "unknown label 'e-bike'"),
    (camera(objects={"mask": [[[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]]}), "objects.mask.0",
     "crosses itself"),
    (camera(zones={"path": {"polygon": SQUARE, "rules": [{"kind": "presence", "labels": ["person"],
                                                          "event": "x"}]}}),
     "zones.path.rules.0.min_seconds", "required"),
])
def test_bad_input_is_refused_at_the_field_and_nothing_is_saved(api: Harness, config: dict[str, Any],
                                                                field: str, words: str) -> None:
    admin = api.auth("admin")
    r = api.client.post("/api/camera-configs", json={"name": "gate", "config": config}, headers=admin)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "config_invalid"
    assert body["errors"][0]["field"] == field and words in body["errors"][0]["message"], body
    assert api.count("camera_configs") == 0 and api.count("camera_config_history") == 0
    assert api.count("cameras") == 0


def test_a_bad_camera_refuses_the_whole_import(api: Harness) -> None:
    doc = {"cameras": {"good": camera(), "bad": camera(zones=_zone(SQUARE, ["dragon"]))}}
    r = api.client.post("/api/camera-configs/import", content=yaml.safe_dump(doc),
                        headers={**api.auth("admin"), "Content-Type": "application/yaml"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "zones.path.rules.0.labels"
    assert "camera 'bad'" in r.json()["detail"]
    assert api.count("camera_configs") == 0


def test_probe_shows_the_first_frame_and_the_schema_comes_from_the_rule_models(api: Harness) -> None:
    eng = engineer(api)
    r = api.client.post("/api/camera-configs/probe", json={"source": str(CLIP)}, headers=eng)
    assert r.status_code == 200 and r.json()["jpeg"].startswith("data:image/jpeg;base64,")
    assert (r.json()["width"], r.json()["height"]) == (768, 576)
    schema = api.client.get("/api/camera-configs/schema", headers=eng).json()
    assert set(schema["rules"]) == {"presence", "stationary", "crowd", "line", "left_object", "occupancy"}
    occupancy = {f["name"]: f for f in schema["rules"]["occupancy"]["fields"]}
    assert occupancy["capacity"]["widget"] == "integer" and occupancy["spaces"]["widget"] == "json"
    assert occupancy["actions"]["widget"] == "json"
    crowd = {f["name"]: f for f in schema["rules"]["crowd"]["fields"]}
    assert crowd["min_count"]["widget"] == "integer" and crowd["min_count"]["min"] == 2
    assert "person" in schema["classes"] and "bicycle" in schema["classes"]


def test_worker_feed_needs_a_worker_key(api: Harness) -> None:
    api.client.post("/api/camera-configs", json={"name": "gate", "config": camera()},
                    headers=api.auth("admin"))
    assert api.client.get("/api/camera-configs/feed").status_code == 401
    feed = api.client.get("/api/camera-configs/feed", headers=api.wk).json()
    assert feed["cameras"]["gate"]["revision"] == 1
    assert feed["cameras"]["gate"]["config"]["detect"] == {"fps": 4.0}


def test_the_list_shows_uptime_reconnects_and_the_last_error(api: Harness) -> None:
    from datetime import UTC, datetime, timedelta

    from api.db.models import CameraStateChange

    api.client.post("/api/camera-configs", json={"name": "gate", "config": camera()},
                    headers=api.auth("admin"))
    now = datetime.now(UTC)
    with api.ctx.sessions() as s:   # 30 h ago online; 6 h ago lost (2 h), back 4 h ago
        s.add_all([CameraStateChange(camera="gate", state="online", detail="", at=now - timedelta(hours=30)),
                   CameraStateChange(camera="gate", state="reconnecting", detail="stream timed out",
                                     at=now - timedelta(hours=6)),
                   CameraStateChange(camera="gate", state="online", detail="", at=now - timedelta(hours=4))])
        s.commit()
    row = api.client.get("/api/camera-configs", headers=api.auth("admin")).json()[0]
    assert abs(row["uptime_24h"] - 22 / 24) < 0.01
    assert row["reconnects_24h"] == 1 and row["last_error"] == "stream timed out"
    assert row["detect_fps"] == 4.0 and row["storage_bytes"] == 0
    # a heartbeat that changes the state is recorded
    r = api.client.post("/api/ingest/cameras/state", headers=api.wk,
                        json=[{"camera": "gate", "state": "reconnecting", "fps": 0, "detail": "no frames"}])
    assert r.status_code == 200
    row = api.client.get("/api/camera-configs", headers=api.auth("admin")).json()[0]
    assert row["reconnects_24h"] == 2 and row["last_error"] == "no frames" and row["state"] == "reconnecting"


def test_the_demo_adds_only_missing_cameras_and_keeps_page_edits(api: Harness, tmp_path: Path) -> None:
    (tmp_path / "clip.avi").write_bytes(CLIP.read_bytes()[:100])
    doc = {"detect": {"fps": 2}, "cameras": {"gate": camera(source="clip.avi"), "lane": camera()}}
    text = yaml.safe_dump(doc)
    configs = api.ctx.camera_configs
    assert configs.add_missing(text, "demo", base_dir=tmp_path) == ["gate", "lane"]
    gate = configs.get("gate").config
    assert gate["source"] == str(tmp_path / "clip.avi") and gate["detect"] == {"fps": 4.0}  # own keys win
    moved = {**gate, "zones": {"path": {**gate["zones"]["path"],
                                        "polygon": [[0.2, 0.5], [0.8, 0.5], [0.8, 1.0], [0.2, 1.0]]}}}
    configs.save("gate", moved, "eng")
    assert configs.add_missing(text, "demo", base_dir=tmp_path) == []
    assert configs.get("gate").config["zones"]["path"]["polygon"][0] == [0.2, 0.5]
