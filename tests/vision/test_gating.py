"""MotionExplainer: which motion the pipeline may leave to its tracks between detector runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vision.gating import MotionExplainer

PERSON, BICYCLE = 0, 1


@dataclass
class FakeTrack:
    id: int
    box: np.ndarray
    last_t: float
    class_id: int = PERSON
    speed: float = 0.0
    history: list[Any] = field(default_factory=lambda: [0, 1])


def explainer(watched: set[int]) -> MotionExplainer:
    return MotionExplainer(refresh_s=1.0, keepalive_s=3.0, watched=lambda tr: tr.class_id in watched)


def box(x: float, y: float) -> np.ndarray:
    return np.array([x, y, x + 40, y + 100], np.float32)


def test_a_watched_walker_is_due_before_it_moves_half_its_size_an_unwatched_one_every_refresh() -> None:
    walker = FakeTrack(1, box(100, 100), last_t=0.0, speed=2.0)     # two sizes a second: due after 0.2 s
    region = [(90, 90, 150, 210)]
    for watched, due in (({PERSON}, 0.2), ({BICYCLE}, 1.0)):
        ex = explainer(watched)
        ex.ran("full", [], [walker], 0.0)
        assert ex.explains(region, [walker], due - 0.1)
        assert not ex.explains(region, [walker], due)


def test_motion_outside_every_track_is_not_explained() -> None:
    ex = explainer({PERSON})
    still = FakeTrack(1, box(100, 100), last_t=0.0)
    ex.ran("full", [], [still], 0.0)
    assert ex.explains([(100, 100, 140, 200)], [still], 0.2)
    assert not ex.explains([(400, 100, 440, 200)], [still], 0.2)


def test_a_track_looked_for_and_missed_explains_nothing_until_found_again() -> None:
    ex = explainer({PERSON})
    a, b = FakeTrack(1, box(100, 100), 0.0), FakeTrack(2, box(400, 100), 0.0)
    ex.ran("full", [], [a, b], 0.0)
    # a run on a region around `a` does not find it: it may be walking away from its box
    ex.ran("regions", [(80, 80, 160, 220)], [a, b], 0.2)
    assert not ex.explains([(100, 100, 140, 200)], [a, b], 0.4)
    # `b` was not looked for (no motion there): its box still explains motion at it
    assert ex.explains([(400, 100, 440, 200)], [a, b], 0.4)
    # a run elsewhere does not clear the miss; finding it does
    ex.ran("regions", [(380, 80, 460, 220)], [a, b], 0.6)
    assert not ex.explains([(100, 100, 140, 200)], [a, b], 0.8)
    a.last_t = 1.0
    ex.ran("regions", [(80, 80, 160, 220)], [a, b], 1.0)
    assert ex.explains([(100, 100, 140, 200)], [a, b], 1.2)
    # a track unseen for longer than keepalive_s explains nothing
    short = MotionExplainer(refresh_s=1.0, keepalive_s=0.5, watched=lambda c: True)
    short.ran("regions", [(80, 80, 160, 220)], [b], 0.2)
    assert short.explains([(400, 100, 440, 200)], [b], 0.4)
    assert not short.explains([(400, 100, 440, 200)], [b], 0.6)


def test_watched_areas_by_label_and_distance() -> None:
    from vision.gating import WatchedAreas

    lawn = np.array([[0, 300], [400, 300], [400, 400], [0, 400]], np.float32)
    line = np.array([[600, 0], [600, 400]], np.float32)
    areas = WatchedAreas({"person": [(lawn, True), (line, False)], "bicycle": [(lawn, True)]})
    near_lawn = box(100, 160)          # feet at y 260, 40 px above the lawn; size about 63 px: within 3 sizes
    far = box(100, 0)                  # feet at y 100: 200 px away
    by_line = box(520, 0)              # feet 60 px left of the line, 244 px from the lawn
    assert areas("person", near_lawn) and not areas("person", far) and areas("person", by_line)
    assert not areas("bicycle", by_line) and areas("bicycle", near_lawn)
    assert not areas("car", near_lawn)                       # no rule counts cars
    assert WatchedAreas({}, everywhere=True)("car", far)      # a left_object rule: everything, everywhere


def test_motion_near_a_line_matters_far_from_it_not() -> None:
    from vision.gating import near_line

    line = np.array([[600, 0], [600, 400]], np.float32)
    walker_near = (500, 100, 540, 200)     # feet 80 px from the line, size 63 px: within 3 sizes
    walker_far = (100, 100, 140, 200)      # 480 px away
    region = (0, 0, 640, 400)
    assert near_line(region, [walker_near], [line]) and not near_line(region, [walker_far], [line])
    assert not near_line(region, [walker_near], [])
    assert near_line((560, 100, 640, 200), [], [line])       # no blobs: the region's own feet decide


def test_line_burst_keeps_the_detect_fps_cadence_and_looks_between_only_at_new_or_fast_things() -> None:
    from vision.gating import LineBurst, WatchedAreas

    line = np.array([[300.0, 100.0], [300.0, 400.0]], np.float32)
    on_line = WatchedAreas({"person": [(line, False)]})     # a line rule counting people
    burst = LineBurst(5.0, 15.0, [line],
                      watched=lambda tr: on_line(["person", "bicycle"][tr.class_id], tr.box))
    times = [k / 15 for k in range(9)]
    assert [burst.base(t) for t in times] == [True, False, False] * 3   # every 3rd frame: 5 fps
    near = [(260, 200, 330, 320)]                                      # motion by the line
    assert burst.update(near, [], 1.0)                                  # nothing known there: new
    walker = FakeTrack(1, box(270, 200), last_t=1.0, speed=1.0)        # known, 1 size a second
    assert not burst.update(near, [walker], 1.1)                       # 5 fps follows it
    assert not burst.update([], [walker], 1.1)
    for fast in (FakeTrack(2, box(270, 200), last_t=1.0, speed=3.0),   # 3 sizes a second: > 0.4 per look
                 FakeTrack(3, box(270, 200), last_t=1.0, history=[0])):   # speed not known yet
        assert burst.update([], [fast], 1.1), fast
    for quiet in (FakeTrack(4, box(270, 200), last_t=0.0, speed=3.0),   # not seen for a second
                  FakeTrack(5, box(270, 200), last_t=1.0, speed=3.0, class_id=BICYCLE),   # not counted
                  FakeTrack(6, box(20, 200), last_t=1.0, speed=3.0)):   # far from the line
        assert not burst.update([], [quiet], 1.1), quiet
