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
    history: list[Any] = field(default_factory=lambda: [(-1.0, None), (0.0, None)])   # two sightings


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


def tracked(path: Any, until: float, every: float = 0.2) -> Any:
    """The track of one walker (30x60 px, size 42 px) seen every `every` s from 0 to `until`, at path(t)."""
    from vision.config import COCO_NAMES, TrackerSettings
    from vision.detections import Detections
    from vision.tracking import ObjectTracker

    tracker = ObjectTracker(TrackerSettings(), list(COCO_NAMES))
    for k in range(int(round(until / every)) + 1):
        x, y = path(k * every)
        seen = Detections(xyxy=np.array([[x, y, x + 30, y + 60]], np.float32), confidence=np.array([0.9]),
                          class_id=np.array([PERSON]))
        tracker.update(seen, k * every)
    (track,) = tracker.tracks.values()
    return track


SIZE = float(np.sqrt(30 * 60))


def steady(t: float) -> tuple[float, float]:      # one size a second, to the right
    return 100 + SIZE * t, 100.0


def turning(t: float) -> tuple[float, float]:     # the same, then down from 0.6 s
    return 100 + SIZE * min(t, 0.6), 100 + SIZE * max(0.0, t - 0.6)


def test_a_steady_walker_is_due_when_its_predicted_place_may_be_off_by_step_others_as_before() -> None:
    from vision.gating import DRIFT, STEP, drift_rate

    walker = tracked(steady, 1.2)
    assert abs(walker.speed - 1.0) < 0.05 and abs(drift_rate(walker) - DRIFT * walker.speed) < 0.05
    ex = MotionExplainer(refresh_s=2.0, keepalive_s=3.0, watched=lambda tr: True)
    ex.ran("full", [], [walker], 1.2)
    due = 1.2 + STEP / (DRIFT * walker.speed)                      # 1.0 s on, not STEP / speed = 0.4 s on
    for t in (1.7, due - 0.05):
        x, y = steady(t)                                          # the motion is where it walked to
        assert ex.explains([(x - 5, y - 5, x + 35, y + 65)], [walker], t), t
    x, y = steady(due)
    assert not ex.explains([(x - 5, y - 5, x + 35, y + 65)], [walker], due)
    # motion where it was is not it any more, nor motion elsewhere; nor a blob of its own (someone new)
    # inside a motion region the walker explains
    assert not ex.explains([(85, 95, 135, 165)], [walker], 1.9)
    assert not ex.explains([(100, 200, 140, 270)], [walker], 1.7)
    x, y = steady(1.7)
    region, mine = (x - 5, y - 5, x + 35, y + 135), (x, y, x + 30, y + 60)
    other = (x, y + 75, x + 30, y + 135)
    assert ex.explains([region], [walker], 1.7, [mine])
    assert not ex.explains([region], [walker], 1.7, [mine, other])
    for track, last in ((tracked(steady, 0.4), 0.4), (tracked(turning, 1.2), 1.2)):   # young / turned
        assert drift_rate(track) == track.speed > 0.9
        ex = MotionExplainer(refresh_s=2.0, keepalive_s=3.0, watched=lambda tr: True)
        ex.ran("full", [], [track], last)
        region = [tuple(track.box + np.array([-5, -5, 5, 5]))]
        assert ex.explains(region, [track], last + STEP / track.speed - 0.05)
        assert not ex.explains(region, [track], last + STEP / track.speed)


def test_line_burst_leaves_a_fast_steady_walker_to_the_tracker() -> None:
    from vision.gating import LineBurst

    line = np.array([[600.0, 0.0], [600.0, 400.0]], np.float32)
    burst = LineBurst(5.0, 15.0, [line], watched=lambda tr: True)

    def fast(t: float) -> tuple[float, float]:                    # 3 sizes a second
        return 300 + 3 * SIZE * t, 100.0

    young, old = tracked(fast, 0.4, every=1 / 15), tracked(fast, 1.2, every=1 / 15)
    assert young.speed > burst.fast and old.speed > burst.fast
    assert burst.update([], [young], 0.4 + 1 / 15)
    assert not burst.update([], [old], 1.2 + 1 / 15)


def test_a_track_whose_feet_are_within_its_size_of_a_line_is_near_a_crossing() -> None:
    from vision.gating import at_line

    line = np.array([[300, 0], [300, 400]], np.float32)
    near = FakeTrack(1, box(200, 100), last_t=0.0)      # feet at x 220, y 200; size 63: 80 px from the line
    nearer = FakeTrack(2, box(240, 100), last_t=0.0)    # feet 40 px from it
    assert not at_line([near], [line])
    assert at_line([near, nearer], [line])
    assert not at_line([nearer], [])


def test_a_region_looked_at_in_vain_explains_its_motion_while_its_pixels_stay_the_same() -> None:
    """A left_object camera (watch_empty): a thing put down stays foreground of the background model for
    seconds, and no detector class knows it; once a run found nothing in its region, it is not looked at again
    until its pixels change, a refresh_s has passed since that look, or the camera does not watch for it."""
    grey = np.random.default_rng(0).integers(0, 200, (240, 320), dtype=np.uint8)
    region, blob, none = (100, 100, 200, 200), (120, 120, 180, 180), np.zeros((0, 4), np.float32)
    ex = explainer({PERSON})
    ex.watch_empty(scale=0.5)   # frame pixels -> the small grey copy's
    ex.ran("regions", [region], [], 0.0, (none, grey))
    assert ex.explains([region], [], 0.2, motion=([blob], grey.copy()))
    moved = grey.copy()
    moved[70:80, 70:80] += 50    # someone steps onto it
    assert not ex.explains([region], [], 0.2, motion=([blob], moved))
    assert not ex.explains([region], [], 0.2, motion=([(300, 300, 340, 340)], grey))   # a blob elsewhere
    ex.ran("regions", [(400, 100, 500, 200)], [], 0.6, (none, grey))   # another run: the look stays...
    assert ex.explains([region], [], 0.8, motion=([blob], grey))
    assert not ex.explains([region], [], 1.0, motion=([blob], grey))   # ... for refresh_s
    found = explainer({PERSON})
    found.watch_empty(scale=0.5)
    found.ran("regions", [region], [], 0.0, (np.array([[130, 130, 150, 190]], np.float32), grey))
    assert not found.explains([region], [], 0.2, motion=([blob], grey))   # the run found something there
    plain = explainer({PERSON})
    plain.ran("regions", [region], [], 0.0, (none, grey))
    assert not plain.explains([region], [], 0.2, motion=([blob], grey))


def test_the_explainer_counts_the_runs_in_a_row_that_looked_for_a_track_in_vain() -> None:
    """The crowd rule's "present" (vision/rules/crowd.py): only runs that looked where the track was count."""
    ex = explainer({PERSON})
    a, b = FakeTrack(1, box(100, 100), 0.0), FakeTrack(2, box(400, 100), 0.0)
    ex.ran("full", [], [a, b], 0.0)
    assert ex.misses == {}
    ex.ran("regions", [(80, 80, 160, 220)], [a, b], 0.2)    # looked for `a` only
    assert ex.misses == {1: 1}
    ex.ran("regions", [(600, 80, 660, 220)], [a, b], 0.4)   # looked at neither: the count stays
    assert ex.misses == {1: 1}
    ex.ran("full", [], [a, b], 0.6)
    assert ex.misses == {1: 2, 2: 1}
    b.last_t = 0.8
    ex.ran("full", [], [a, b], 0.8)                         # `b` found again
    assert ex.misses == {1: 3}
