"""One tracked object (vision.tracking gives it its boxes): what the rules need of it, kept up to date from
those boxes: a majority-vote label, the best and last score, a bounded box history, speed, an appearance
embedding and the time it has been still."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from vision import appearance
from vision.boxes import bottom_centre, centre, size, top_centre
from vision.config import TrackerSettings

HISTORY = 32          # boxes kept per track
PATH = 160            # sightings kept for stillness, at least PATH_STEP_S apart
PATH_STEP_S = 0.4
ODD_S = 2.5           # a run of out-of-place boxes shorter than this (or one box) is an occlusion, not a move
SETTLE_S = 0.5        # a track's motion measured over less time than this is damped where it predicts a place


@dataclass
class Track:
    """One tracked object. Coordinates in source pixels, times in seconds from the source start."""

    id: int
    first_t: float
    box: np.ndarray
    last_t: float
    score: float
    max_score: float
    votes: dict[int, float] = field(default_factory=dict)   # class id -> summed score of its detections
    history: deque[tuple[float, np.ndarray]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    path: deque[tuple[float, float, float, float]] = field(default_factory=lambda: deque(maxlen=PATH))
    still_since: float = 0.0     # since when it has stayed where it is now
    odd: bool = False            # the latest box is out of place (an occlusion, or the start of a move)
    drift: float = 0.0           # how far it moved over the still window, in box sizes
    speed: float = 0.0           # box sizes per second, of the bottom-centre
    best_box: np.ndarray | None = None
    best_t: float = 0.0
    embedding: np.ndarray | None = None
    links: int = 0               # new ByteTrack tracks linked into this one
    # two-wheeler tracks whose box held this one's, or lay in it (NESTED), in a frame where both were seen:
    # the same object seen twice (a bicycle, and the bicycle with the man pushing it)
    doubles: set[int] = field(default_factory=set)

    def vote(self, class_id: int, score: float) -> None:
        self.votes[class_id] = self.votes.get(class_id, 0.0) + score

    @property
    def class_id(self) -> int:
        """Majority vote over the track's detections, weighted by score."""
        return max(self.votes, key=lambda c: self.votes[c]) if self.votes else -1

    def still_seconds(self, t: float) -> float:
        """Seconds the object has stayed where it is (0 while its latest box is out of place)."""
        return 0.0 if self.odd else max(0.0, t - self.still_since)

    @property
    def anchor(self) -> np.ndarray:
        """Bottom-centre of the box, the point tested against zones."""
        return bottom_centre(self.box)

    def velocity(self, settle_s: float = 0.0, head: bool = False) -> np.ndarray:
        """Pixels per second of the bottom-centre (of the top-centre: `head`), against the latest sighting at
        least half a second old (or the oldest there is): sightings are sparse under motion gating. Measured
        over less than `settle_s` it is scaled down in proportion: two sightings of a young track 0.07 s
        apart, one box cut short, make a speed that points far from where the object goes."""
        t, box = self.history[-1]
        old_t, old_box = self.history[0]
        for ht, hb in reversed(self.history):
            if t - ht >= 0.5:
                old_t, old_box = ht, hb
                break
        if t <= old_t:
            return np.zeros(2, dtype=np.float32)
        damp = min(1.0, (t - old_t) / settle_s) if settle_s > 0 else 1.0
        at = top_centre if head else bottom_centre
        step = at(box) - at(old_box)
        return np.asarray(damp * step / (t - old_t), dtype=np.float32)

    def observe(self, box: np.ndarray, score: float, class_id: int, t: float, look: np.ndarray | None,
                settings: TrackerSettings) -> None:
        """Take the object's box of a detector run at `t` (and its look): label votes, scores, history,
        speed and stillness."""
        self.vote(class_id, score)
        self.history.append((t, box))
        self.box, self.last_t, self.score = box, t, score
        self.embedding = appearance.blend(self.embedding, look)
        if score >= self.max_score:
            self.max_score, self.best_box, self.best_t = score, box, t
        self._motion(t, settings)

    def _motion(self, t: float, settings: TrackerSettings) -> None:
        size_px = size(self.box)
        # speed against the latest sighting at least half a second old (sightings are sparse under gating)
        self.speed = float(np.linalg.norm(self.velocity())) / size_px
        p = centre(self.box)  # steadier than the feet of someone standing and talking
        point = (t, float(p[0]), float(p[1]), size_px)
        if len(self.path) >= 2 and self.path[-1][0] - self.path[-2][0] < PATH_STEP_S:
            self.path[-1] = point
        else:
            self.path.append(point)
        self.update_stillness(t, settings)

    def update_stillness(self, t: float, settings: TrackerSettings) -> None:
        """still_since: the earliest sighting from which on every box centre is within still_radius of the
        object's size of where it is now (the median of its last three boxes), runs of odd boxes shorter than
        ODD_S apart; drift: how far it is now from where it was still_window_s ago, in sizes."""
        s = settings
        path = np.array(self.path, dtype=np.float64)
        xy, sizes = path[:, 1:3], path[:, 3]
        # the median of the last three boxes: the middle one, sorted (np.median's own answer, without its
        # overhead on three numbers; it runs for every box of every detector run)
        mid = np.sort(path[-3:, 1:], axis=0)[1] if len(path) >= 3 else np.median(path[:, 1:], axis=0)
        ref, ref_size = mid[:2], float(mid[2])
        d = xy - ref
        dist = np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1])   # np.linalg.norm(d, axis=1), term for term
        near = ((dist <= s.still_radius * ref_size + 1.0)
                & (np.abs(np.log(sizes / ref_size)) <= np.log(1.35))).tolist()
        tl: list[float] = path[:, 0].tolist()
        limit = t - s.still_window_s
        k = next((i for i in range(len(tl) - 1, -1, -1) if tl[i] <= limit), 0)
        self.drift = float(dist[k] / ref_size)
        self.odd = not near[-1]
        j, since = len(tl) - 1, tl[-1]   # the walk back, in plain floats and bools
        while j >= 0:
            if near[j]:
                since = tl[j]
                j -= 1
                continue
            k = j
            while k >= 0 and not near[k]:
                k -= 1
            if k < 0 or not (j - k <= 1 or tl[j] - tl[k + 1] < ODD_S):
                break
            j = k
        if j < 0 and len(self.path) == self.path.maxlen:
            since = min(since, self.still_since)  # still for longer than the path holds
        self.still_since = since
