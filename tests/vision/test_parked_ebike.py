"""An e-bike parked in a corridor to charge, the hazard the brief names first, played through the whole
pipeline with a detector as unsure as a real one: it misses the e-bike at some looks and calls it a
motorcycle at others, and people walk past in front of it."""

from __future__ import annotations

import numpy as np
import pytest

from vision.base import Frame
from vision.config import COCO_NAMES, parse_config
from vision.detections import Detections
from vision.pipeline import CameraPipeline

from .conftest import ColourDetector, scene

BUS, BICYCLE, MOTORCYCLE = (COCO_NAMES.index(n) for n in ("bus", "bicycle", "motorcycle"))
SURE, MOTO, MISSED = 0, 1, 2   # what the detector makes of the e-bike in a frame (pixel (0, 0)'s green)


class UnsureDetector(ColourDetector):
    """The blue box is the e-bike: a bicycle, a motorcycle (score 0.45) or nothing, as the frame says."""

    def detect(self, image: np.ndarray) -> Detections:
        d = super().detect(image)
        mood = int(image[0, 0, 1])
        cls = np.where(d.class_id == BUS, MOTORCYCLE if mood == MOTO else BICYCLE, d.class_id)
        keep = ~((cls == BICYCLE) & (mood == MISSED))
        score = np.where(cls == MOTORCYCLE, 0.45, d.confidence)
        return Detections(xyxy=d.xyxy[keep], confidence=score[keep], class_id=cls[keep])


def _corridor(rule: dict[str, object]) -> CameraPipeline:
    """A corridor camera (5 frames a second, its lower 60 % one zone with `rule`) with the unsure detector."""
    zone = {"polygon": [[0, 0.4], [1, 0.4], [1, 1], [0, 1]], "rules": [rule]}
    cam = {"source": "none.mp4", "detect": {"fps": 5}, "events": {"clips": False},
           "zones": {"corridor": zone}}
    return CameraPipeline("c", parse_config({"cameras": {"c": cam}}).cameras["c"], UnsureDetector())


def _events(seed: int, p_missed: float, passers_s: float | None, stay_s: float = 120.0,
            p_moto: float = 0.3, in_front: bool = False) -> list[tuple[str, float, float | None]]:
    """(lifecycle, start_s, end_s) of the events of a corridor where an e-bike is wheeled in from the left at
    5-10 s (its owner beside it), left at x 110-160 while he plugs it in (to 14 s; `in_front`: standing in
    front of its right half, which the detector's box then leaves out) and walks off, and wheeled out to the
    right after `stay_s`; someone walks past in front of it every `passers_s` from 30 s."""
    rng = np.random.default_rng(seed)
    pipe = _corridor({"kind": "presence", "labels": ["bicycle", "motorcycle"], "min_seconds": 10,
                      "event": "ebike"})
    out = []
    for k in range(int((stay_s + 40) * 5)):
        t = k / 5
        objs = []
        if 5 <= t < 10:
            x = -40 + 30 * (t - 5)
            objs += [("bus", (x, 150, x + 50, 200)), ("person", (x + 55, 100, x + 80, 200))]
        elif 10 <= t < 10 + stay_s:
            objs.append(("bus", (110, 150, 160, 200)))
            if t < 14 and in_front:
                objs.append(("person", (135, 100, 160, 205)))
            elif t < 20:
                x = 165 + max(0.0, 40 * (t - 14))
                objs.append(("person", (x, 100, x + 25, 200)))
            if passers_s and t > 30:
                n = int((t - 30) // passers_s)
                x = -30 + 60 * (t - 30 - n * passers_s)
                if x < 330:
                    objs.append(("person", (x, 95 + (n % 2) * 60, x + 25, 205)))
        elif t < 15 + stay_s:
            x = 110 + 40 * (t - 10 - stay_s)
            objs += [("bus", (x, 150, x + 50, 200)), ("person", (x - 30, 100, x - 5, 200))]
        f = scene(t, objs)
        r = rng.random()
        f.image[0, 0, 1] = MOTO if r < p_moto else MISSED if r < p_moto + p_missed else SURE
        out += [(m.lifecycle, m.start_s, m.end_s) for m in pipe.process(Frame(index=k, t=t, image=f.image))
                if m.lifecycle in ("new", "end")]
    return out


@pytest.mark.parametrize(("seed", "p_missed", "passers_s"), [(1, 0.2, 20.0), (7, 0.2, 20.0), (0, 0.1, 20.0),
                                                             (4, 0.2, None)])
def test_an_ebike_parked_two_minutes_is_one_event_though_the_detector_misses_it_at_some_looks(
        seed: int, p_missed: float, passers_s: float | None) -> None:
    """Motion gating looks at a still e-bike every 3 s; missed at one look, it was unseen for longer than a
    lost track is kept, its track ended, the next look began another, and its event ended and began again
    10 s later (2-6 events in two minutes; 1 in 10 and 1 in 5 looks missed). A still track that a run looked
    for in vain, whose place looks just as it did, is held there (vision/holding.py), and an e-bike seen
    beside someone passing in front of it keeps what it looked like and that it stood still (rules/base.py):
    one event, from 10 s after it came in until it is wheeled out."""
    events = _events(seed, p_missed, passers_s)
    assert [e[0] for e in events] == ["new", "end"], events
    assert events[0][1] == pytest.approx(15.0, abs=0.5)
    assert 130.0 <= events[1][2] <= 137.0, events


@pytest.mark.parametrize(("seed", "p_missed"), [(1, 0.1), (2, 0.1), (4, 0.2)])
def test_an_ebike_its_owner_stood_in_front_of_while_plugging_it_in_is_one_event(seed: int,
                                                                               p_missed: float) -> None:
    """While its owner stands in front of it, the detector's box holds the e-bike's free half only; when he
    walks off, it grows to the whole e-bike, a box out of place for the tracker (so not yet standing still).
    Missed at the next look, its track was lost and its event ended at the gap; the next track there, called
    a motorcycle at a score under the rule's, could not take it over, and a second event began 10 s after
    the bicycle was seen again (2 events in 5 of 12 runs). A box grown round the one it had, of an object
    that has not moved, is that object seen whole (rules/base.py `_revealed`): its event watches the whole
    box's place while it is unseen, and the next track there takes the event over. One event."""
    events = _events(seed, p_missed, 20.0, in_front=True)
    assert [e[0] for e in events] == ["new", "end"], events
    assert events[0][1] == pytest.approx(15.0, abs=0.5)
    assert 130.0 <= events[1][2] <= 137.0, events


def test_a_still_object_the_detector_stops_finding_is_held_through_two_looks_only() -> None:
    """A bicycle found at every look for 20 s and then at none, its place unchanged (a poster the detector
    took for one, a bicycle it will not see again): held through two missed looks (3 s apart), then let go
    as any lost track is, 5 s after it was last held: it is kept alive by being found, not by its place."""
    pipe = _corridor({"kind": "presence", "labels": ["bicycle"], "min_seconds": 1000, "event": "bike"})
    seen_until = None
    for k in range(60 * 5):
        t = k / 5
        f = scene(t, [("bus", (110, 150, 160, 200))])
        f.image[0, 0, 1] = MISSED if t >= 20 else SURE
        pipe.process(Frame(index=k, t=t, image=f.image))
        if pipe.tracker.current(t):
            seen_until = t
    assert seen_until is not None and 20 + 2 * 3 < seen_until <= 20 + 3 * 3 + 5, seen_until
