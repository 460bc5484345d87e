"""A camera's detect sub-stream (`detect_source`, Frigate's `detect` role): the pipeline decodes and analyses
it instead of the main stream (`source`), wherever a camera is run from its config."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from tests.api.servers import FakePipeline
from tests.vision.conftest import BlobDetector
from vision.analyze import analyze_clip
from vision.config import load_config
from vision.errors import ConfigError
from vision.eval import case_clip, find_cases
from worker.run import Worker

ZONE = {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
        "rules": [{"kind": "presence", "labels": ["person"], "min_seconds": 1, "event": "someone_here"}]}


def _sub_stream(path: Path, size: tuple[int, int] = (160, 90), seconds: float = 4.0, fps: int = 10) -> Path:
    """A small clip with a person (a green box) standing in it the whole time."""
    w, h = size
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    for i in range(int(seconds * fps)):
        img = np.full((h, w, 3), 50, np.uint8)
        cv2.rectangle(img, (60 + i % 2, 30), (80, 70), (0, 255, 0), -1)
        vw.write(img)
    vw.release()
    return path


def _config(tmp_path: Path, **camera: object) -> Path:
    cfg = tmp_path / "cameras.yaml"
    cam = {"detect": {"fps": 5}, "zones": {"z": ZONE}, **camera}
    cfg.write_text(yaml.safe_dump({"cameras": {"gate": cam}}))
    return cfg


def test_analysed_source_is_the_sub_stream_when_there_is_one(tmp_path: Path) -> None:
    main = "rtsp://10.0.0.7/Streaming/Channels/101"
    cam = load_config(_config(tmp_path, source=main)).cameras["gate"]
    assert cam.analysed_source() == main
    cam = load_config(_config(tmp_path, source=main, detect_source="sub.mp4")).cameras["gate"]
    assert cam.analysed_source() == "sub.mp4" and cam.source == main


def test_analyze_without_a_clip_reads_the_sub_stream(tmp_path: Path) -> None:
    _sub_stream(tmp_path / "sub.avi")
    # the main stream does not exist here: reading it would fail the run
    cfg = _config(tmp_path, source="main-1080p.mp4", detect_source="sub.avi")
    det = BlobDetector()
    result = analyze_clip(cfg, None, detector=det, events_path=tmp_path / "events.jsonl", media=False)
    assert det.calls > 0 and result.clip_seconds > 3
    records = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [r["event"] for r in records] == ["someone_here"]
    x1, y1, x2, y2 = records[0]["bbox"]
    assert 59 <= x1 <= 61 and x2 <= 81 and y2 <= 71   # in the sub-stream's pixels (160x90)


def test_a_worker_runs_the_sub_stream(tmp_path: Path) -> None:
    cfg = _config(tmp_path, source="rtsp://10.0.0.7/main", detect_source="rtsp://10.0.0.7/sub")
    worker = Worker(cfg, "http://127.0.0.1:9", "key", tmp_path / "outbox.db",
                    pipeline_factory=lambda name, cam, path, media: FakePipeline(name, media))
    assert worker.runs["gate"].source == "rtsp://10.0.0.7/sub"
    cfg = _config(tmp_path, source="main.mp4", detect_source="sub.mp4")
    worker = Worker(cfg, "http://127.0.0.1:9", "key", tmp_path / "outbox.db",
                    pipeline_factory=lambda name, cam, path, media: FakePipeline(name, media))
    assert worker.runs["gate"].source == str(tmp_path / "sub.mp4")   # relative to the config file


def test_a_case_is_measured_on_the_stream_its_camera_analyses(tmp_path: Path) -> None:
    (tmp_path / "truth.json").write_text(json.dumps({"clip": "main.mp4", "events": []}))
    _config(tmp_path, source="main.mp4").rename(tmp_path / "camera.yaml")
    assert case_clip(tmp_path, {"clip": "main.mp4"}) == tmp_path / "main.mp4"
    _config(tmp_path, source="main.mp4", detect_source="sub.mp4").rename(tmp_path / "camera.yaml")
    assert case_clip(tmp_path, {"clip": "main.mp4"}) == tmp_path / "sub.mp4"


def test_a_case_config_with_a_mistake_is_refused_naming_the_key(tmp_path: Path) -> None:
    """The case's camera.yaml is read as the pipeline reads it: a misspelt detect_source is an error naming
    the file and the key, not a case quietly measured on the main stream (what reading the raw YAML gave)."""
    (tmp_path / "truth.json").write_text(json.dumps({"clip": "main.mp4", "events": []}))
    (tmp_path / "main.mp4").write_bytes(b"")
    _config(tmp_path, source="main.mp4", detect_sorce="sub.mp4").rename(tmp_path / "camera.yaml")
    with pytest.raises(ConfigError, match=r"camera\.yaml.*detect_sorce"):
        case_clip(tmp_path, {"clip": "main.mp4"})
    with pytest.raises(ConfigError, match=r"camera\.yaml.*detect_sorce"):
        find_cases(tmp_path)   # before any case has run, not minutes into an eval
    _config(tmp_path, source="main.mp4", detect_source=7).rename(tmp_path / "camera.yaml")
    with pytest.raises(ConfigError, match="detect_source"):
        case_clip(tmp_path, {"clip": "main.mp4"})
