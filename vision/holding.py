"""Still objects a detector run missed, held where they stand while their place looks just like them.

A parked e-bike or car is looked at by the whole-frame keep-alive every few seconds (motion gating leaves it
be in between). A detector misses a still object at some of those looks (its score dips under the threshold
with the sensor's noise, the light, a class it hesitates over), and one missed keep-alive left it unseen for
longer than the tracker keeps a lost track: its track ended, the next look began a new one, and its event
ended and began again `min_seconds` later (an e-bike parked 5 minutes, missed at one look in ten, gave four
events). Frigate keeps such a "stationary" object until motion is seen on it; here a still track that a run
looked for and did not find, whose place looks as it did (vision.appearance, the test the rules use for a
lost still object), is given its own box for that run, up to HOLD_LOOKS runs in a row: it must be found
again by then, so a false box that stood still a while is not kept alive by the place it was seen in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from vision import appearance
from vision.boxes import covered, intersection
from vision.config import TrackerSettings
from vision.detections import Detections
from vision.rules.base import SAME_LOOK
from vision.track import Track
from vision.tracking import family_of

HOLD_LOOKS = 2   # runs in a row a missed still track is held through (a third miss in a row lets it go)
STILL_S = 2.0    # seconds it has been seen standing where it is now
MIN_SEEN = 3     # looks it was found at before it is held: a box seen once or twice is no parked object


class StillHolder:
    """Adds the boxes of missed still tracks to a detector run's detections (one per camera)."""

    def __init__(self, settings: TrackerSettings, class_names: list[str] | tuple[str, ...]) -> None:
        self.settings = settings
        self.class_names = class_names
        self._held: dict[int, tuple[int, float]] = {}   # track id -> (runs in a row held, last held at)

    def add(self, dets: Detections, image: np.ndarray, t: float, mode: str, regions: Sequence[Any],
            tracks: Iterable[Track]) -> Detections:
        """`dets` plus a box for each held track (`mode` "full" or "regions": which tracks the run looked
        for; a track the regions do not hold whole was not looked for, as its box would be cut)."""
        s = self.settings
        height, width = image.shape[:2]
        looked = None if mode == "full" else np.asarray(regions, np.float32).reshape(-1, 4)
        fams: np.ndarray | None = None
        boxes, scores, classes = [], [], []
        held: dict[int, tuple[int, float]] = {}
        for tr in tracks:
            runs, at = self._held.get(tr.id, (0, -1.0))
            if tr.last_t > at:
                runs = 0   # found since it was last held
            # still: seen standing where it is now for STILL_S (a walker who paused is not held); not cut
            # by the frame's edge (it may have walked out of the picture without moving in it); looked for
            # by this run (a region that does not hold its whole box would cut it)
            if (runs >= HOLD_LOOKS or len(tr.history) < MIN_SEEN or tr.speed >= 0.2
                    or tr.still_seconds(tr.last_t) < STILL_S or t - tr.last_t > s.lost_s
                    or tr.embedding is None
                    or tr.box[0] <= 2 or tr.box[1] <= 2 or tr.box[2] >= width - 2 or tr.box[3] >= height - 2
                    or (looked is not None and not any(covered(tr.box, r[None], 0.99, 0.0, 0.0)
                                                       for r in looked))):
                if runs:
                    held[tr.id] = (runs, at)   # not let off its count by a run that did not look for it
                continue
            # a box of its kind where it is, or within half its size of it: it may have moved off (a bicycle
            # wheeled away, its old place still looking much like it), or be seen there; ByteTrack decides
            if fams is None:
                fams = np.array([family_of(int(c), self.class_names) for c in dets.class_id], dtype=int)
            same = dets.xyxy[fams == family_of(tr.class_id, self.class_names)]
            w, h = tr.box[2] - tr.box[0], tr.box[3] - tr.box[1]
            near = tr.box + np.array([-w / 2, -h / 2, w / 2, h / 2], np.float32)
            if len(same) and bool((intersection(near, same) > 0).any()):
                continue
            if appearance.distance(appearance.embed(image, tr.box), tr.embedding) > SAME_LOOK:
                continue
            boxes.append(tr.box)
            scores.append(tr.score)
            classes.append(tr.class_id)
            held[tr.id] = (runs + 1, t)
        self._held = held
        if not boxes:
            return dets
        names = np.asarray([self.class_names[c] for c in classes], dtype=object)
        extra = Detections(xyxy=np.array(boxes, np.float32), confidence=np.array(scores, np.float32),
                           class_id=np.array(classes, np.int64), data={"class_name": names})
        return Detections.merge([dets, extra])
