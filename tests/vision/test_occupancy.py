"""The occupancy rule of parking zones (vision/rules/occupancy.py), its config, and eval's occupancy MAE."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from vision import eval_occupancy
from vision.config import COCO_NAMES, Zone
from vision.detections import Detections
from vision.errors import ConfigError
from vision.rule_config import OccupancyRule
from vision.rules import Occupancy, RuleContext
from vision.rules.occupancy import closer_look, look_bounds, take_samples
from vision.track import Track
from vision.zones import PolygonZone

ZONE = PolygonZone("lot", [(0, 0.5), (1, 0.5), (1, 1), (0, 1)], 100, 100, inertia=1)


def car(tid: int, x: float, t: float, label: str = "car", bottom: float = 80.0) -> Track:
    box = np.array([x, bottom - 15, x + 10, bottom], dtype=np.float32)
    tr = Track(id=tid, first_t=0.0, box=box, last_t=t, score=0.8, max_score=0.8, still_since=0.0)
    tr.vote(COCO_NAMES.index(label), 0.8)
    return tr


def ctx(t: float, tracks: list[Track]) -> RuleContext:
    return RuleContext(t=t, tracks=tracks, inside={}, class_names=COCO_NAMES)


def rule(**kw: object) -> Occupancy:
    cfg = OccupancyRule.model_validate({"kind": "occupancy", "event": "parking_full", **kw})
    return Occupancy(cfg, ZONE)


def test_counts_vehicles_in_the_zone_only_and_samples_every_sample_s() -> None:
    r = rule(capacity=5, sample_s=10, window_s=0)
    for k in range(0, 101):
        t = k * 0.2
        tracks = [car(1, 10, t), car(2, 30, t), car(3, 50, t, "truck"), car(4, 70, t, "person"),
                  car(5, 80, t, bottom=30)]   # a person, and a car above the zone: not counted
        r.evaluate(ctx(t, tracks))
    assert r.count == 3
    assert [round(s.t, 1) for s in r.samples] == [0.0, 10.0, 20.0] and {s.count for s in r.samples} == {3}
    samples = take_samples("cam", [("lot", 0, r)])
    assert samples[0] == {"camera": "cam", "zone": "lot", "t": 0.0, "wall_time": None, "count": 3,
                          "capacity": 5}
    assert take_samples("cam", [("lot", 0, r)]) == []      # taken once


def test_a_car_missed_in_one_look_stays_counted() -> None:
    r = rule(capacity=5, window_s=1.0)
    r.evaluate(ctx(0.0, [car(1, 10, 0.0), car(2, 30, 0.0)]))
    # car 2 not seen for 3 s (a parked car looked at only every keep-alive): still there
    assert r.evaluate(ctx(3.0, [car(1, 10, 3.0), car(2, 30, 0.0)])) == [] and r.count == 2
    r.evaluate(ctx(6.0, [car(1, 10, 6.0), car(2, 30, 0.0)]))
    r.evaluate(ctx(7.5, [car(1, 10, 7.5), car(2, 30, 0.0)]))
    assert r.count == 1     # gone after SEEN_S


def test_full_for_min_seconds_is_one_event() -> None:
    r = rule(capacity=2, min_seconds=5, window_s=0)
    eps = []
    for k in range(0, 60):
        t = k * 0.2
        eps = r.evaluate(ctx(t, [car(1, 10, t), car(2, 30, t)]))
        assert bool(eps) is (t >= 5.0 - 1e-9)
    assert eps[0].count == 2 and eps[0].first_seen == 0.0
    eps = r.evaluate(ctx(12.0, [car(1, 10, 12.0)]))
    assert eps and eps[0].done


def test_spaces_count_taken_spaces() -> None:
    spaces = [[[0.0, 0.5], [0.3, 0.5], [0.3, 1.0], [0.0, 1.0]],
              [[0.3, 0.5], [0.6, 0.5], [0.6, 1.0], [0.3, 1.0]]]
    r = rule(spaces=spaces, window_s=0)
    assert r.capacity == 2
    # two cars' feet in the first space, one in the lane (x > 0.6): one space taken
    r.evaluate(ctx(0.0, [car(1, 2, 0.0), car(2, 14, 0.0), car(3, 80, 0.0)]))
    assert r.count == 1


@pytest.mark.parametrize(("rule_cfg", "message"), [
    ({}, "needs a capacity or spaces"),
    ({"capacity": 3, "spaces": [[[0, 0], [1, 0], [1, 1]]]}, "capacity 3 but 1 spaces"),
    ({"spaces": [[[0, 0], [1, 0]]]}, "at least 3 points"),
    ({"spaces": [[[0, 0], [1.5, 0], [1, 1]]]}, "outside 0..1"),
    ({"capacity": 0}, "greater than or equal to 1"),
])
def test_config_errors(rule_cfg: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Zone.model_validate({"polygon": [[0, 0], [1, 0], [1, 1]], "rules": [
            {"kind": "occupancy", "event": "parking_full", **rule_cfg}]})


class _Detector:
    """Sees one car in any crop it is given, at the crop's top-left corner."""

    def detect_batch(self, images: list[np.ndarray]) -> list[Detections]:
        return [Detections(xyxy=np.array([[5, 5, 45, 25]], dtype=np.float32), confidence=np.array([0.9]),
                           class_id=np.array([2])) for _ in images]


def test_closer_look_adds_what_the_crop_sees_once() -> None:
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    zone = PolygonZone("lot", [(0.2, 0.6), (0.8, 0.6), (0.8, 0.9), (0.2, 0.9)], 200, 100)
    crop = look_bounds(zone, 200, 100)
    assert crop == (34, 30, 166, 95)     # widened upward by the zone's height, a little at the sides
    full = Detections(xyxy=np.array([[39, 35, 79, 55], [150, 10, 160, 40]], dtype=np.float32),
                      confidence=np.array([0.5, 0.7]), class_id=np.array([7, 0]))
    merged = closer_look(_Detector(), image, full, [crop])
    # the crop's car is the full frame's truck seen larger: kept once (the better score), the person kept
    assert len(merged) == 2 and sorted(merged.confidence.tolist()) == pytest.approx([0.7, 0.9])
    assert sorted(merged.class_id.tolist()) == [0, 2]


def test_eval_occupancy_errors_and_format() -> None:
    truth = {"occupancy": {"every_s": 10, "zones": {"lot": [5, 5, 4]}}}
    frames = {"lot": [(0.0, 4), (5.0, 5), (10.2, 5), (19.8, 6)]}
    assert eval_occupancy.errors(truth, frames) == {"lot": [1.0, 0.0, 2.0]}
    assert eval_occupancy.mae([1.0, 0.0, 2.0]) == 1.0
    with pytest.raises(ConfigError, match="no occupancy rule"):
        eval_occupancy.errors({"occupancy": {"every_s": 10, "zones": {"other": [1]}}}, frames)
    for bad in ({"every_s": 0, "zones": {}}, {"zones": {}}, {"every_s": 5, "zones": {"a": [1, -1]}}):
        with pytest.raises(ConfigError, match="occupancy"):
            eval_occupancy.check({"occupancy": bad}, "truth.json")
