"""Motion gating on synthetic frames: where regions appear, when the detector is skipped, the keep-alive rate,
and the way detections on packed crops come back to frame pixels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.boxes import merge_boxes
from vision.detections import Detections
from vision.motion import (
    DetectorBatch,
    MotionConfig,
    MotionGate,
    Tile,
    _shelf_pack,
)
from vision.motion_stats import gate_stats
from vision.packing import nms

W, H = 640, 360
ROOT = Path(__file__).resolve().parents[2]


def scene(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(90, 140, (H, W, 3)).astype(np.uint8), (7, 7), 0)


def with_square(bg: np.ndarray, x: int, y: int, s: int = 40) -> np.ndarray:
    im = bg.copy()
    cv2.rectangle(im, (x, y), (x + s - 1, y + s - 1), (20, 200, 30), -1)
    return im


def contains(outer: tuple[int, int, int, int], inner: tuple[int, int, int, int]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def test_moving_square_gives_one_region_around_it() -> None:
    bg = scene()
    gate = MotionGate(MotionConfig(keepalive_s=1000), (W, H), (416, 416))
    for i in range(10):
        assert gate.plan(bg, i / 5).mode in ("full", "skip")
    for k in range(10):
        x = 100 + 12 * k
        plan = gate.plan(with_square(bg, x, 150), (10 + k) / 5)
        assert plan.mode == "regions", plan
        assert len(plan.regions) == 1
        r = plan.regions[0]
        assert contains(r, (x, 150, x + 40, 190))  # the square, where it is now
        assert (r[2] - r[0]) * (r[3] - r[1]) < 6 * 40 * 40 + 64 * 64  # and not much more


def test_still_scene_has_no_motion_and_skips_the_detector() -> None:
    bg = scene()
    gate = MotionGate(MotionConfig(keepalive_s=1000, warmup_frames=2), (W, H), (416, 416))
    modes = [gate.plan(bg + np.uint8(i % 2), i / 5).mode for i in range(50)]  # sensor noise of 1 level
    assert modes[:2] == ["full", "full"]
    assert set(modes[2:]) == {"skip"}


def test_keepalive_runs_the_full_frame_at_the_configured_rate() -> None:
    bg = scene()
    gate = MotionGate(MotionConfig(keepalive_s=4, warmup_frames=0), (W, H), (416, 416))
    fps = 5
    full_t = [i / fps for i in range(150) if gate.plan(bg, i / fps).mode == "full"]
    assert full_t == pytest.approx([0, 4, 8, 12, 16, 20, 24, 28])
    assert gate.counts == {"full": 8, "regions": 0, "skip": 142}


def test_a_square_that_stops_is_absorbed_and_only_the_keepalive_sees_it() -> None:
    bg = scene()
    gate = MotionGate(MotionConfig(keepalive_s=10, history=100), (W, H), (416, 416))
    for i in range(10):
        gate.plan(bg, i / 5)
    parked = with_square(bg, 300, 200)
    modes = [gate.plan(parked, (10 + i) / 5).mode for i in range(100)]
    first_skip = modes.index("skip")
    assert modes[0] == "regions"
    assert first_skip < 30  # absorbed within a few seconds at 5 fps
    assert modes[first_skip:].count("full") == 2 and modes[first_skip:].count("regions") == 0


def test_whole_frame_change_plans_the_full_frame() -> None:
    gate = MotionGate(MotionConfig(keepalive_s=1000), (W, H), (416, 416))
    for i in range(10):
        gate.plan(scene(0), i / 5)
    plan = gate.plan(scene(0) + np.uint8(70), 2.0)  # lights switched on
    assert plan.mode == "full" and plan.motion_fraction > 0.5


def test_motion_outside_the_zones_is_ignored() -> None:
    bg = scene()
    right_half = [[(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)]]
    gate = MotionGate(MotionConfig(keepalive_s=1000), (W, H), (416, 416), zones=right_half)
    for i in range(10):
        gate.plan(bg, i / 5)
    left = [gate.plan(with_square(bg, 60 + 10 * k, 100), 2 + k / 5) for k in range(5)]
    assert [p.mode for p in left] == ["skip"] * 5
    # a blob touching the zone is kept whole, not cut at the zone's edge (a person's head is outside it)
    plan = gate.plan(with_square(bg, 300, 100, s=60), 4.0)
    assert plan.mode == "regions" and plan.regions[0][0] <= 300


@pytest.mark.parametrize("between,warm_after", [(False, True), (True, False)])
def test_motion_over_most_of_the_frame_plans_the_full_frame(between: bool, warm_after: bool) -> None:
    """... and after a frame the background model was fed, the next frames are whole too (it is learning the
    new scene); after a line camera's frame between two detect-fps ones (a frame difference the model never
    saw) they are not."""
    bg = scene()
    gate = MotionGate(MotionConfig(keepalive_s=1000), (W, H), (416, 416))
    for i in range(10):
        gate.plan(bg, i / 5)
    im = bg.copy()
    for x, y in ((20, 20), (330, 20), (20, 200), (330, 200)):
        cv2.rectangle(im, (x, y), (x + 200, y + 140), (0, 0, 255), -1)
    grey = gate.motion.small_grey
    plan = gate.plan(im, 2.0, gate.motion.difference(grey(im), grey(bg)) if between else None, between)
    assert plan.mode == "full" and "most of the frame" in plan.reason and len(plan.regions) >= 1
    after = gate.plan(im, 2.2)
    assert (after.mode == "full" and "warming up" in after.reason) == warm_after


def test_shelf_pack() -> None:
    assert _shelf_pack([(50, 40), (50, 60), (60, 10)], 120, 100, gap=4) == [(54, 0), (0, 0), (0, 64)]
    assert _shelf_pack([(50, 60), (50, 60), (50, 60)], 110, 100, gap=4) is None
    assert _shelf_pack([(130, 10)], 120, 100, gap=4) is None


def test_prepare_packs_regions_into_one_input_at_least_at_full_frame_scale() -> None:
    bg = scene()
    gate = MotionGate(MotionConfig(keepalive_s=1000), (W, H), (416, 416))
    for i in range(10):
        gate.plan(bg, i / 5)
    im = with_square(with_square(bg, 50, 50), 500, 250)
    plan = gate.plan(im, 2.0)
    assert plan.mode == "regions" and len(plan.regions) == 2
    batch = gate.prepare(im, plan)
    assert len(batch.images) == 1 and batch.images[0].shape == (416, 416, 3)
    for tile in batch.tiles:
        assert tile.scale >= gate.full_scale
        x1, y1, x2, y2 = tile.src
        ox, oy = tile.offset
        crop = cv2.resize(im[y1:y2, x1:x2], None, fx=tile.scale, fy=tile.scale)
        placed = batch.images[0][oy:oy + crop.shape[0], ox:ox + crop.shape[1]].astype(int)
        assert np.abs(placed - crop.astype(int)).mean() < 8  # the crop's pixels are where the tile says


def test_to_frame_maps_crop_detections_back_and_merges_duplicates() -> None:
    batch = DetectorBatch(
        images=[np.zeros((416, 416, 3), np.uint8)],
        tiles=[Tile((100, 50, 300, 250), 0, (0, 0), 2.0), Tile((400, 100, 500, 200), 0, (0, 404), 0.1)],
        frame_size=(640, 360),
    )
    dets = Detections(xyxy=np.array([[20, 40, 120, 240], [22, 42, 118, 238], [380, 380, 440, 400], [0, 405, 9,
                                                                                                    414]]),
                      confidence=np.array([0.9, 0.8, 0.5, 0.7]), class_id=np.array([0, 0, 2, 1]))
    out = batch.to_frame([dets])
    # the second box is a duplicate of the first; the third has its centre on no tile
    assert len(out) == 2
    np.testing.assert_allclose(out.xyxy[0], [110, 70, 160, 170])
    np.testing.assert_allclose(out.xyxy[1], [400, 110, 490, 200])
    assert out.class_id.tolist() == [0, 1]
    with pytest.raises(ValueError):
        batch.to_frame([dets, dets])


def test_full_plan_round_trips_unchanged() -> None:
    gate = MotionGate(MotionConfig(), (W, H), (416, 416))
    im = scene()
    plan = gate.plan(im, 0.0)
    batch = gate.prepare(im, plan)
    assert plan.mode == "full" and batch.images[0] is im
    dets = Detections(xyxy=np.array([[1, 2, 30, 40]]), confidence=np.array([0.5]), class_id=np.array([3]))
    np.testing.assert_allclose(batch.to_frame([dets]).xyxy, dets.xyxy)


@pytest.mark.parametrize("boxes,expected", [
    ([], []),
    ([(0, 0, 10, 10), (20, 20, 30, 30)], [(0, 0, 10, 10), (20, 20, 30, 30)]),
    ([(0, 0, 10, 10), (10, 5, 20, 20), (19, 0, 40, 6)], [(0, 0, 40, 20)]),
])
def test_merge_boxes(boxes: list[tuple[int, int, int, int]], expected: list[tuple[int, int, int,
                                                                                  int]]) -> None:
    assert merge_boxes(boxes) == expected


def test_nms_is_per_class() -> None:
    d = Detections(xyxy=np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]]),
                   confidence=np.array([0.6, 0.9, 0.7]), class_id=np.array([0, 0, 1]))
    assert nms(d).tolist() == [1, 2]


def test_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="keepalive"):
        MotionConfig.model_validate({"keepalive": 5})


@pytest.mark.slow
def test_vtest_is_mostly_gated() -> None:
    """On the real clip (fixed camera, a few pedestrians) most frames need no full-frame inference."""
    from vision.sources import open_source

    gate = MotionGate(MotionConfig(), (768, 576), (416, 416))
    for frame in open_source(ROOT / "sample_videos" / "vtest.avi", 5):
        plan = gate.plan(frame.image, frame.t)
        if plan.mode == "regions":
            assert all(0 <= r[0] < r[2] <= 768 and 0 <= r[1] < r[3] <= 576 for r in plan.regions)
    n = sum(gate.counts.values())
    assert n == 398
    assert gate.counts["full"] / n < 0.2
    stats = gate_stats(str(ROOT / "sample_videos" / "vtest.avi"), 5, MotionConfig(keepalive_s=4))
    assert stats["frames"] == 398 and stats["full_fraction"] == pytest.approx(20 / 398, abs=0.01)
    assert stats["skip_fraction"] + stats["regions_fraction"] + stats["full_fraction"] == pytest.approx(1)


@pytest.mark.parametrize("size", [(641, 481), (300, 200), (1280, 720)])
def test_zones_with_odd_and_small_frame_sizes(size: tuple[int, int]) -> None:
    # reported: with zones given, update() indexed a full-size mask with a small-mask window (IndexError)
    w, h = size
    gate = MotionGate(MotionConfig(keepalive_s=1000, warmup_frames=0), (w, h), (416, 416),
                      zones=[[(0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0)]])
    bg = np.full((h, w, 3), 90, np.uint8)
    for i in range(10):
        gate.plan(bg, i / 5)
    im = bg.copy()
    im[h - h // 4:h - 2, w - w // 4:w - 2] = 250  # bottom-right: inside the zone
    plan = gate.plan(im, 3.0)
    assert plan.mode == "regions" and plan.regions[0][2] >= w - w // 4
    assert gate.motion.mask is not None and gate.motion.mask.shape == (gate.motion.small_size[1],
                                                                       gate.motion.small_size[0])


def test_measured_ahead_is_the_same_as_updated_in_turn() -> None:
    """`measure` depends only on the frames fed, in order: all measured first (as a read-ahead thread does),
    then `use`d one by one, they give what `update` gives frame by frame, mask and grey copies included."""
    from vision.motion import MotionDetector

    bg = scene()
    frames = [with_square(bg, 40 + 12 * k, 100 + 3 * k) for k in range(25)] + [bg] * 3
    inline = MotionDetector(MotionConfig(), (W, H))
    ahead = MotionDetector(MotionConfig(), (W, H))
    samples = [ahead.measure(f, ahead.small_grey(f) if k % 2 else None) for k, f in enumerate(frames)]
    moving = 0
    for f, sample in zip(frames, samples, strict=True):
        boxes = inline.update(f)
        assert ahead.use(sample) == boxes
        moving += bool(boxes)
        assert ahead.blobs == inline.blobs
        assert inline.mask is not None and ahead.mask is not None and np.array_equal(ahead.mask, inline.mask)
        assert ahead.grey is not None and np.array_equal(ahead.grey, inline.grey)
        assert (ahead.prev_grey is None) == (inline.prev_grey is None)
        assert ahead.prev_grey is None or np.array_equal(ahead.prev_grey, inline.prev_grey)
    assert moving >= 20  # the square is seen moving


def test_a_frame_difference_finds_what_moved_and_leaves_the_background_model_alone() -> None:
    """A line camera's frames between two detect-fps ones: what moved since the frame before, found without
    feeding the background model (which is fed the detect-fps frames only, ahead)."""
    bg = scene()
    gate = MotionGate(MotionConfig(keepalive_s=1000), (W, H), (416, 416))
    motion = gate.motion
    for i in range(10):
        gate.plan(bg, i / 5)
    fed = motion._fed
    before, now = with_square(bg, 200, 150), with_square(bg, 230, 150)
    sample = motion.difference(motion.small_grey(now), motion.small_grey(before))
    assert motion._fed is fed   # not fed to the model
    # one region: where it was and where it is
    assert len(sample.regions) == 1 and contains(sample.regions[0], (200, 150, 270, 190))
    still = motion.difference(motion.small_grey(now), motion.small_grey(now))
    assert still.regions == [] and still.blobs == []
    first = motion.difference(motion.small_grey(now), None)   # no frame before: nothing moved
    assert first.regions == []
    # with the frame before that too, only where it is now (something moving more than its size a frame)
    frames = [with_square(bg, x, 150) for x in (230, 180, 130)]
    both = motion.difference(*(motion.small_grey(f) for f in frames[:2]))
    now_only = motion.difference(*(motion.small_grey(f) for f in frames))
    assert len(now_only.regions) == 1 and contains(now_only.regions[0], (230, 150, 270, 190))
    assert now_only.regions[0][0] > 180 > both.regions[0][0]

