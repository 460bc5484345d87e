"""A detector with a free input size (YOLOX here): motion regions run at their own size, and the packing that
goes with it; kindred classes (a van boxed as truck and car) are one object; motion judged by its feet."""

from __future__ import annotations

import numpy as np
import pytest

from tests.vision.test_detectors import constant_output_model, yolo_output
from tests.vision.test_detectors_real import vtest_frame
from tests.vision.test_motion import H, W, scene, with_square
from vision.detectors import MODELS_DIR, create_detector
from vision.detectors.decoding import preprocess
from vision.motion import MotionConfig, MotionGate, Plan, feet_touch

YOLOX = MODELS_DIR / "yolox_nano_416.onnx"


def test_yolox_takes_a_crop_at_its_own_size_and_finds_the_same_people() -> None:
    det = create_detector({"model": str(YOLOX)})
    assert det.dynamic_input and det.input_size == (416, 416)  # type: ignore[attr-defined]
    frame = vtest_frame(100)
    crop = frame[140:290, 330:430]                  # two walkers, 100 x 150 pixels
    x, box = preprocess(crop, det.format)           # type: ignore[attr-defined]
    assert x.shape == (1, 3, 160, 128) and box.size == (128, 160) and (box.sx, box.px) == (1.0, 0.0)
    x_full, _ = preprocess(frame, det.format)       # type: ignore[attr-defined]
    assert x_full.shape == (1, 3, 320, 416)         # 768 x 576 scaled to 416 x 312, padded to 32
    in_crop = det.detect_batch([crop])[0]
    assert preprocess(crop, det.format, enlarge=True)[0].shape == (1, 3, 416, 416)  # type: ignore[attr-defined]
    whole = det.detect(frame)
    people = whole.xyxy[np.asarray(whole.data["class_name"]) == "person"]
    walkers = in_crop.xyxy[np.asarray(in_crop.data["class_name"]) == "person"]
    assert len(walkers) == 2
    for b in walkers + [330, 140, 330, 140]:   # each found in the frame too, within a few pixels
        assert np.abs(people - b).max(axis=1).min() < 6, (b, people)


def test_a_fixed_size_model_still_gets_its_own_input_size() -> None:
    det = create_detector({"model": str(MODELS_DIR / "nanodet.onnx")})
    assert not det.dynamic_input  # type: ignore[attr-defined]
    x, box = preprocess(np.zeros((150, 100, 3), np.uint8), det.format)  # type: ignore[attr-defined]
    assert x.shape == (1, 3, 416, 416) and box.size is None


def _gate_with_a_moving_square(free: bool, size: int = 40) -> tuple[MotionGate, np.ndarray, Plan]:
    bg = scene()
    gate = MotionGate(MotionConfig(keepalive_s=1000), (W, H), (416, 416), free_size=free)
    for i in range(10):
        gate.plan(bg, i / 5)
    for k in range(4):
        image = with_square(bg, 100 + 12 * k, 150, size)
        plan = gate.plan(image, (10 + k) / 5)
    assert plan.mode == "regions"
    return gate, image, plan


def test_free_size_regions_are_not_enlarged_and_the_input_is_cut_to_them() -> None:
    fixed, image, plan = _gate_with_a_moving_square(False)
    batch = fixed.prepare(image, plan)
    assert batch.images[0].shape[:2] == (416, 416) and batch.tiles[0].scale > 1.5   # enlarged up to 2x
    free, image, plan = _gate_with_a_moving_square(True)
    batch = free.prepare(image, plan)
    (x1, y1, x2, y2), scale = batch.tiles[0].src, batch.tiles[0].scale
    assert scale == pytest.approx(free.full_scale, abs=0.01)     # the scale the whole frame is detected at
    assert batch.images[0].shape[:2] == (round((y2 - y1) * scale), round((x2 - x1) * scale))   # no more
    big = MotionGate(MotionConfig(region_scale=1.5), (W, H), (416, 416), free_size=True)
    assert big.max_scale == 1.5                                 # or as configured

def test_a_stretching_free_size_model_keeps_the_region_scale_and_cuts_the_input() -> None:
    """PicoDet (stretched whole frames, free input): regions as large as the stretched frame shows them on its
    more enlarged axis (at least 1x, at most 2x), no cost budget (the whole frame costs the full input), the
    input cut to what they cover and run at that size."""
    free = MotionGate(MotionConfig(keepalive_s=1000), (W, H), (416, 416), free_size=True, stretched=True)
    assert free.max_scale == pytest.approx(min(2.0, max(1.0, 416 / W, 416 / H)))
    for size, scale in (((320, 180), 2.0), ((1920, 1080), 1.0)):
        assert MotionGate(MotionConfig(), size, (416, 416), free_size=True, stretched=True).max_scale == scale
    bg = scene()
    for i in range(10):
        free.plan(bg, i / 5)
    for k in range(4):
        image = with_square(bg, 100 + 12 * k, 150, 40)
        plan = free.plan(image, (10 + k) / 5)
    assert plan.mode == "regions"
    batch = free.prepare(image, plan)
    (x1, y1, x2, y2), scale = batch.tiles[0].src, batch.tiles[0].scale
    assert batch.own_size and scale == pytest.approx(free.max_scale, abs=0.01)
    assert batch.images[0].shape[:2] == (round((y2 - y1) * scale), round((x2 - x1) * scale))
    quarters = [(x, y, x + 200, y + 150) for x in (0, 210) for y in (0, 160)]
    assert free._pack(quarters) is not None          # fits the input: no budget of the whole frame's pixels


def test_free_size_never_costs_more_pixels_than_the_whole_frame() -> None:
    """Regions that would make a larger input than the letterboxed frame: the full frame is planned."""
    gate = MotionGate(MotionConfig(keepalive_s=1000, pad=0, pad_px=0, min_box=1), (1920, 1080), (416, 416),
                      free_size=True)
    assert gate.max_scale == pytest.approx(416 / 1920)
    few = [(0, 0, 200, 400), (900, 300, 1100, 700)]
    scale, places = gate._pack(few) or (0.0, [])
    assert scale == pytest.approx(gate.max_scale)
    quarters = [(x, y, x + 480, y + 540) for x in range(0, 1920, 480) for y in (0, 540)]   # the whole frame
    assert gate._pack(quarters) is None              # more pixels than the frame at its own scale: full frame
    assert MotionGate(MotionConfig(), (1920, 1080), (416,
                                                     416))._pack(quarters) is not None   # fixed: same cost

def test_a_small_frame_packs_regions_at_the_scale_its_whole_frame_runs_at_with_own_floor() -> None:
    """A 256x192 frame runs on a free-size model at its own size, not letterboxed up to 416: with
    `own_floor` (a line-only camera) its motion regions fit one input at that scale; without it they must be
    enlarged as far as the letterboxed frame, which never fits (the whole frame is planned)."""
    cfg = MotionConfig(keepalive_s=1000, pad=0, pad_px=0, min_box=1)
    two = [(0, 0, 60, 120), (150, 40, 210, 160)]
    assert MotionGate(cfg, (256, 192), (416, 416), free_size=True)._pack(two) is None
    own = MotionGate(cfg, (256, 192), (416, 416), free_size=True, own_floor=True)
    scale, _ = own._pack(two) or (0.0, [])
    assert own.own_floor and scale == pytest.approx(1.0)
    assert not MotionGate(cfg, (1920, 1080), (416, 416), free_size=True, own_floor=True).own_floor


def test_kindred_classes_on_one_object_keep_the_better_box(tmp_path) -> None:
    rows = [(100, 100, 80, 40, 2, 0.8), (101, 99, 82, 41, 7, 0.7),     # car and truck on one van
            (300, 100, 40, 40, 2, 0.6), (100, 300, 20, 40, 0, 0.9), (101, 301, 20, 40, 1, 0.5)]
    path = constant_output_model(tmp_path / "y.onnx", yolo_output(rows, 80, n=200), [1, 3, 416, 416])
    image = np.zeros((416, 416, 3), np.uint8)
    names = list(create_detector({"model": str(path)}).detect(image).data["class_name"])
    assert sorted(names) == ["bicycle", "car", "car", "person"]    # person and bicycle are no kin
    names = list(create_detector({"model": str(path), "same_object_iou": 1}).detect(image).data["class_name"])
    assert sorted(names) == ["bicycle", "car", "car", "person", "truck"]


def test_motion_touches_a_zone_by_its_feet() -> None:
    zone = np.zeros((400, 400), np.uint8)
    zone[300:, :] = 1                                   # a lawn over the bottom quarter
    walker_above = (100, 130, 140, 250)                 # feet at 250: 50 px above the lawn (h 120)
    walker_in = (200, 200, 240, 310)                    # feet on the lawn
    waving = (300, 200, 340, 260)                       # a moving upper body whose legs stand still at 300+
    region = (60, 110, 380, 330)                        # one padded region holding all of them
    assert feet_touch(region, [walker_above], zone) is False
    assert feet_touch(region, [walker_above, walker_in], zone) is True
    assert feet_touch(region, [(300, 210, 340, 290)], zone) is True      # 10 px above: within 0.3 h below
    assert feet_touch(region, [waving], zone) is False                  # 40 px above with h 60: out of reach
    assert feet_touch(region, [], zone) is True                          # no blobs: the region decides
