"""Frigate's object filters and masks, motion masks, and rule labels checked against each camera's
detector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from tests.vision.test_detectors import constant_output_model
from vision.config import COCO_NAMES, load_config, parse_config
from vision.detections import Detections
from vision.errors import ConfigError
from vision.motion import MotionConfig, MotionGate
from vision.objects import ObjectFilterer, ObjectsConfig
from vision.pipeline import CameraPipeline

from .conftest import BlobDetector, scene

W, H = 400, 200
NAMES = list(COCO_NAMES)


def dets(*rows: tuple[str, float, float, float, float, float]) -> Detections:
    """(label, x1, y1, x2, y2, score) rows -> Detections."""
    return Detections(xyxy=np.array([r[1:5] for r in rows], np.float32).reshape(-1, 4),
                      confidence=np.array([r[5] for r in rows], np.float32),
                      class_id=np.array([NAMES.index(r[0]) for r in rows]))


def kept(config: dict[str, Any], *rows: tuple[str, float, float, float, float, float]) -> list[int]:
    """Indices of the rows the filters keep."""
    out = ObjectFilterer(ObjectsConfig.model_validate(config), NAMES, (W, H))(dets(*rows))
    return [i for i, r in enumerate(rows) if any(np.allclose(b, r[1:5]) for b in out.xyxy)]


def test_area_in_pixels_or_as_a_fraction_of_the_frame() -> None:
    small, big = ("person", 0, 0, 10, 20, 0.9), ("person", 0, 0, 100, 200, 0.9)   # 200 and 20000 px
    car = ("car", 0, 0, 10, 10, 0.9)
    assert kept({"filters": {"person": {"min_area": 500}}}, small, big, car) == [1, 2]
    assert kept({"filters": {"person": {"min_area": 0.01}}}, small, big, car) == [1, 2]    # 1 % = 800 px
    assert kept({"filters": {"person": {"max_area": 1000}}}, small, big, car) == [0, 2]
    assert kept({"filters": {"person": {"max_area": 0.2}}}, small, big, car) == [0, 2]     # 20 % = 16000 px


def test_score_and_ratio_per_label() -> None:
    standing = ("person", 0, 0, 40, 100, 0.6)    # ratio 0.4
    lying = ("person", 0, 0, 100, 40, 0.9)       # ratio 2.5: a shadow or a bench, not a standing person
    weak = ("person", 200, 0, 240, 100, 0.4)
    car = ("car", 300, 0, 400, 40, 0.3)          # other labels are not touched
    assert kept({"filters": {"person": {"max_ratio": 1.0}}}, standing, lying, weak, car) == [0, 2, 3]
    assert kept({"filters": {"person": {"min_ratio": 1.0}}}, standing, lying, weak, car) == [1, 3]
    assert kept({"filters": {"person": {"min_score": 0.5}}}, standing, lying, weak, car) == [0, 1, 3]


def test_masks_judge_the_box_bottom_centre() -> None:
    flag = [[0.0, 0.0], [0.25, 0.0], [0.25, 0.5], [0.0, 0.5]]        # x < 100, y < 100
    feet_in = ("person", 40, 20, 60, 80, 0.9)                      # bottom-centre (50, 80): inside
    head_in = ("person", 40, 60, 60, 150, 0.9)                     # box overlaps, bottom-centre (50, 150) out
    on_edge = ("car", 90, 50, 110, 100, 0.9)                       # bottom-centre (100, 100): on the edge
    rows = (feet_in, head_in, on_edge)
    assert kept({"mask": flag}, *rows) == [1]                      # any label
    assert kept({"mask": [flag]}, *rows) == [1]                    # a list of polygons
    assert kept({"filters": {"person": {"mask": flag}}}, *rows) == [1, 2]   # only persons there


@pytest.mark.parametrize("objects, expected", [
    ({"filters": {"person": {"min_ratio": 2, "max_ratio": 1}}},
     "key 'objects.filters.person': min_ratio 2.0 is above"),
    ({"filters": {"person": {"min_aera": 2}}},
     "key 'objects.filters.person.min_aera': unknown key 'min_aera' (did you mean 'min_area'? "
     "expected one of: mask, max_area, max_ratio, min_area, min_ratio, min_score)"),
    ({"mask": [[0, 0], [1, 0]]}, "key 'objects.mask': Value error, mask polygon 0 needs at least 3 points"),
    ({"mask": [[0, 0], [1, 0], [1, 1.5]]}, "point [1.0, 1.5] is outside 0..1"),
    ({"filters": {"ebike": {"min_area": 1}}},
     "key 'objects.filters.ebike': unknown label 'ebike'; the classes of "
     "models/yolox_nano_416.onnx are: person, bicycle"),
])
def test_objects_config_errors_name_the_key_path(objects: dict[str, Any], expected: str) -> None:
    data = {"cameras": {"gate": {"source": "x.mp4", "objects": objects, "zones": {"z": {
        "polygon": [[0, 0], [1, 0], [1, 1]], "rules": [{"kind": "presence", "labels": ["person"],
                                                        "min_seconds": 1,
                                                        "event": "e"}]}}}}}
    with pytest.raises(ConfigError) as info:
        parse_config(data, "c.yaml")
    assert str(info.value).startswith("c.yaml: camera 'gate'")
    assert expected.replace("Value error, ", "") in str(info.value)


def test_global_objects_are_camera_defaults_per_label() -> None:
    cam = {"source": "x.mp4", "zones": {"z": {"polygon": [[0, 0], [1, 0], [1, 1]], "rules": [
        {"kind": "presence", "labels": ["person"], "min_seconds": 1, "event": "e"}]}}}
    data = {"objects": {"filters": {"person": {"min_area": 100}, "car": {"min_area": 900}}},
            "cameras": {"a": cam, "b": {**cam, "objects": {"filters": {"person": {"min_area": 5}}}}}}
    config = parse_config(data, "c.yaml")
    assert config.cameras["a"].objects.filters["person"].min_area == 100
    assert config.cameras["b"].objects.filters["person"].min_area == 5
    assert config.cameras["b"].objects.filters["car"].min_area == 900


def test_pipeline_drops_detections_in_an_object_mask() -> None:
    """A 'poster' person that never moves, in a presence zone: an event without the mask, none with it."""
    def run(objects: dict[str, Any]) -> int:
        data = {"cameras": {"hall": {"source": "x.mp4", "objects": objects, "zones": {"hall": {
            "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
            "rules": [{"kind": "presence", "labels": ["person"], "min_seconds": 2, "event": "visitor"}]}}}}}
        cam = parse_config(data, "c.yaml").cameras["hall"]
        pipe = CameraPipeline("hall", cam, BlobDetector())
        msgs = [m for k in range(30) for m in pipe.process(scene(k * 0.2, [("person", (40, 40, 70, 120))]))]
        return sum(m.lifecycle == "new" for m in msgs)

    assert run({}) == 1
    assert run({"mask": [[0.0, 0.0], [0.3, 0.0], [0.3, 0.6], [0.0,
                                                              0.6]]}) == 0   # feet at (55, 120) of 320x240
    assert run({"filters": {"person": {"max_area": 1000}}}) == 0                  # 30 x 80 px
    assert run({"filters": {"car": {"mask": [[0.0, 0.0], [0.3, 0.0], [0.3, 0.6], [0.0, 0.6]]}}}) == 1


def _overlay_frames(n: int) -> list[np.ndarray]:
    """A still scene with a clock overlay at the top left whose digits change every frame."""
    rng = np.random.default_rng(1)
    base = (rng.integers(40, 60, (240, 320, 1)) * np.ones((1, 1, 3))).astype(np.uint8)
    frames = []
    for k in range(n):
        img = base.copy()
        cv2.putText(img, f"03:{(3 * k) % 60:02d}:{(7 * k) % 60:02d}", (4, 24), cv2.FONT_HERSHEY_SIMPLEX,
                    0.9, (255, 255, 255), 2)
        frames.append(img)
    return frames


def test_motion_mask_ignores_a_timestamp_overlay() -> None:
    overlay = [[0.0, 0.0], [0.5, 0.0], [0.5, 0.15], [0.0, 0.15]]
    modes = {}
    for name, mask in (("unmasked", []), ("masked", overlay)):
        config = MotionConfig.model_validate({"keepalive_s": 100, "mask": mask})
        gate = MotionGate(config, (320, 240), (320, 320))
        plans = [gate.plan(img, k * 0.2) for k, img in enumerate(_overlay_frames(30))]
        modes[name] = [p.mode for p in plans[5:]]
    assert modes["unmasked"].count("regions") >= 15       # the clock changes every frame
    assert modes["masked"] == ["skip"] * 25
    # a real object moving under the masked band is still seen
    gate = MotionGate(MotionConfig.model_validate({"keepalive_s": 100, "mask": overlay}), (320, 240),
                      (320, 320))
    frames = _overlay_frames(12)
    for k, img in enumerate(frames):
        if k >= 8:
            cv2.rectangle(img, (100 + 10 * k, 120), (130 + 10 * k, 200), (0, 255, 0), -1)
        plan = gate.plan(img, k * 0.2)
    assert plan.mode == "regions" and all(r[1] > 60 for r in plan.regions)


def _ebike_config(tmp_path: Path, detector: dict[str, Any], label: str = "ebike") -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"detector": detector, "cameras": {"lift": {"source": "x.mp4",
                                                                               "zones": {"lift": {
        "polygon": [[0, 0], [1, 0], [1, 1]],
        "rules": [{"kind": "presence", "labels": [label], "min_seconds": 1, "event": "ebike_in_lift"}]}}}}}))
    return path


def test_rule_label_of_a_custom_ultralytics_model_is_accepted_without_torch(tmp_path: Path) -> None:
    (tmp_path / "best.pt").write_bytes(b"not loaded by a config check")
    declared = {"type": "ultralytics", "model": "best.pt", "classes": ["person", "ebike", "bicycle"]}
    assert load_config(_ebike_config(tmp_path, declared)).cameras["lift"].zones["lift"].rules[
        0
    ].label_list() == ["ebike"]
    with pytest.raises(ConfigError) as info:
        load_config(_ebike_config(tmp_path, declared, label="e-bike"))
    assert str(info.value) == (
        f"{tmp_path / 'c.yaml'}: camera 'lift', zone 'lift', key 'rules[0].labels': unknown "
        "label 'e-bike'; the classes of "
        f"{tmp_path / 'best.pt'} are: person, ebike, bicycle"
    )
    # a .pt without `classes`: its names are known only once torch loads it; the pipeline checks them then
    load_config(_ebike_config(tmp_path, {"type": "ultralytics", "model": "best.pt"}))

    class EbikeModel(BlobDetector):
        class_names = ["person", "bicycle", "motorcycle"]
        path = tmp_path / "best.pt"

    cam = load_config(_ebike_config(tmp_path, {"type": "ultralytics", "model": "best.pt"})).cameras["lift"]
    with pytest.raises(ConfigError,
                       match=r"unknown label 'ebike'; the classes of .*best.pt are: person, bicycle"):
        CameraPipeline("lift", cam, EbikeModel(), config_path=tmp_path / "c.yaml")


def test_rule_labels_checked_against_an_onnx_models_own_names(tmp_path: Path) -> None:
    rows = np.zeros((1, 7, 20), np.float32)   # an Ultralytics export with 3 classes of its own
    constant_output_model(tmp_path / "m.onnx", rows, [1, 3, 64, 64],
                          {"names": "{0: 'person', 1: 'ebike', 2: 'cart'}"})
    cam = load_config(_ebike_config(tmp_path, {"model": "m.onnx"})).cameras["lift"]
    assert cam.zones["lift"].rules[0].label_list() == ["ebike"]
    with pytest.raises(ConfigError,
                       match=r"unknown label 'car'; the classes of .*m.onnx are: person, ebike, cart"):
        load_config(_ebike_config(tmp_path, {"model": "m.onnx"}, label="car"))
    # the shipped COCO model has no ebike
    with pytest.raises(ConfigError,
                       match="unknown label .ebike.; the classes of models/yolox_nano_416.onnx are: person"):
        load_config(_ebike_config(tmp_path, {}))


def test_declared_classes_must_match_the_models_count(tmp_path: Path) -> None:
    from vision.detectors import create_detector

    constant_output_model(tmp_path / "m.onnx", np.zeros((1, 7, 20), np.float32), [1, 3, 64, 64])
    det = create_detector({"model": str(tmp_path / "m.onnx"), "classes": ["person", "ebike", "cart"]})
    assert det.class_names == ["person", "ebike", "cart"]
    with pytest.raises(ConfigError, match="key 'classes' names 2 classes; .* has 3"):
        create_detector({"model": str(tmp_path / "m.onnx"), "classes": ["person", "ebike"]})

