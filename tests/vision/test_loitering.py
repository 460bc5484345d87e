"""Someone loitering in a corridor while others walk past in front of him, played through the whole pipeline
with a detector that misses him at some looks (his back turned) and gives each person a box of his own."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.base import Frame
from vision.config import parse_config
from vision.detections import Detections
from vision.pipeline import CameraPipeline

from .conftest import BlobDetector, scene

LOITERER, PASSER = 200, 255   # green levels of the two kinds of person in a frame


class ShadeDetector(BlobDetector):
    """Each green shade's blobs are people, found apart where they overlap (the one in front hides the part of
    the other it covers); the loiterer is missed in frames whose pixel (0, 0) has green 2."""

    def detect(self, image: np.ndarray) -> Detections:
        self.calls += 1
        missed = int(image[0, 0, 1]) == 2
        boxes = []
        for shade in (LOITERER, PASSER):
            if shade == LOITERER and missed:
                continue
            mask = ((image[:, :, 1] == shade) & (image[:, :, 0] < 100)
                    & (image[:, :, 2] < 100)).astype(np.uint8)
            n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
            boxes += [[x, y, x + w, y + h] for x, y, w, h, a in stats[1:] if a >= 20]
        return Detections(xyxy=np.array(boxes, np.float32).reshape(-1, 4),
                          confidence=np.full(len(boxes), 0.9), class_id=np.zeros(len(boxes), int))


def _loiter_events(seed: int, p_missed: float) -> list[tuple[str, float, float | None]]:
    """(lifecycle, start_s, end_s) of the loitering events (presence of a person 30 s) of a corridor where a
    man walks in at 2-5 s, stands at x 150 (fidgeting a few pixels) until 100 s and walks out to the right
    (out of the picture by 103 s); from 15 s someone walks past in front of him every 10 s, left to right."""
    rng = np.random.default_rng(seed)
    zone = {"polygon": [[0, 0.4], [1, 0.4], [1, 1], [0, 1]],
            "rules": [{"kind": "presence", "labels": ["person"], "min_seconds": 30, "event": "loitering"}]}
    cam = {"source": "none.mp4", "detect": {"fps": 5}, "events": {"clips": False},
           "zones": {"corridor": zone}}
    pipe = CameraPipeline("c", parse_config({"cameras": {"c": cam}}).cameras["c"], ShadeDetector())
    out = []
    for k in range(115 * 5):
        t = k / 5
        img = scene(t, []).image
        if 2 <= t < 104:
            x = (-25 + 175 * (t - 2) / 3 if t < 5 else 150 + int(rng.integers(-3, 4)) if t < 100
                 else 150 + 60 * (t - 100))
            bottom = 200 + int(rng.integers(-2, 3))
            cv2.rectangle(img, (int(x), 100), (int(x) + 25, bottom), (0, LOITERER, 0), -1)
        if t > 15:
            x = -30 + 60 * ((t - 15) % 10)
            if x < 330:
                cv2.rectangle(img, (int(x), 110), (int(x) + 25, 215), (0, PASSER, 0), -1)
        img[0, 0, 1] = 2 if rng.random() < p_missed else 0
        out += [(m.lifecycle, m.start_s, m.end_s) for m in pipe.process(Frame(index=k, t=t, image=img))
                if m.lifecycle in ("new", "end")]
    return out


@pytest.mark.parametrize("seed", [0, 3])
def test_a_loiterer_who_walks_off_ends_his_event_the_next_passer_by_does_not_take_it_over(seed: int) -> None:
    """He walks out of the picture in 2.4 s, less than the tracker needs to call his run of odd boxes a move,
    so his event kept his standing place; his track lost, the next passer-by to walk through that place took
    the event over, and the next, and it never ended (8 of 8 seeds). A track lost away from its place is
    found again only by a track that appears where it stood or where it was last seen (rules/base.py
    `_found_again`): one event, from 30 s after he came in until he walked out."""
    events = _loiter_events(seed, 0.2)
    assert [e[0] for e in events] == ["new", "end"], events
    assert events[0][1] == pytest.approx(32.2, abs=1.0)
    assert events[1][2] is not None and 99.5 <= events[1][2] <= 106.0, events
