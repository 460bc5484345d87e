"""Which motion needs no detector run now: the motion that known tracks explain.

Used by `vision/pipeline.py` between the motion plan and the detector. A motion region is explained when
most of it lies in the (padded) boxes of tracks that are still good, and no watched track is due:

- a track is good when the last detector run that looked where it was found it again, and it was seen
  within `keepalive_s`; a track the detector looked for and missed may be walking away from its stale box,
  so it explains nothing until it is found again;
- a moving track of a label some rule watches, within REACH of its own sizes of a zone or line where that
  rule watches it, is due again before where it is may be about 0.4 of its size from where the tracker looks
  for it (else the tracker cannot follow it): before it moves that far, or, near a line that counts it and
  near no zone that watches it, when it kept its velocity over its last two windows of SETTLE_S
  (`drift_rate`), before its predicted place may be off by that much (such a track then explains motion
  where it is predicted, and each moving blob near a line must be explained on its own); one seen once
  has no known speed yet; any other track (a walker where only bicycles matter, or far from every
  zone and line that counts walkers) is due every `refresh_s`: it cannot get there before then.

On a line-only camera the same test also stands in for a whole-frame plan made only because the motion
regions do not fit one input or cover most of the frame (on a small frame nearly every plan with motion is
one), unless a track's feet stand within CROSSING of its size of a line (`at_line`): which track is which
decides the line's next count there (vision/pipeline.py `_explained_whole`).

(Letting a region the detector found nothing in explain its motion for a while was tried: it saves runs on a
far figure or a door, but it lost a bicycle pushed among walkers on the Oxford street case.) A left_object
camera lets it do so only while the region's blobs keep their pixels (`EmptyLooks`): a thing put down, or
taken away, stays foreground of the background model for seconds, and what moves there changes its pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import cv2
import numpy as np

from vision.boxes import bottom_centre, covered, size
from vision.motion import CHANGE
from vision.track import SETTLE_S

# of its own size: how far a watched object may move between two detector runs. 0.7 made 10-20 % fewer runs
# for the same dev F1, but zone membership needs `inertia` sightings, so entries were found later (a synthetic
# walker 1.2 s instead of 0.2 s late)
STEP = 0.4


# sizes: a track whose feet are this near a line is detected, not predicted, on a line camera's whole-frame
# plans (0.75 made a duplicate crossing on the fast small vtest clip; 1 and 1.25 none on the dev cases)
CROSSING = 1.0
REACH = 3.0  # sizes: a walker (under 2 sizes a second) this far from a zone or line is not there within 1 s

# of its speed: how fast the place predicted for a steady track (ByteTrack's Kalman filter, the tracker's
# links) may drift from where it is, per second unseen; a walker may slow, stop or turn while unseen
DRIFT = 0.4
JITTER = 0.05   # of its size: how far a box's bottom-centre wanders from one detection to the next


def drift_rate(track: Any) -> float:
    """Sizes a second by which where the track is may drift from where the tracker looks for it: its speed
    (its place is not predicted: a young track, or one whose velocity changed), or for a track whose velocity
    over its last two windows of SETTLE_S agrees (within its speed and the boxes' jitter), DRIFT of its speed
    or that change, if larger. Infinite for a track seen once."""
    hist = track.history
    if len(hist) < 2:
        return float("inf")
    change = _velocity_change(hist)
    if change is None:
        return float(track.speed)
    return float(min(track.speed, max(DRIFT * track.speed, change)))


def _velocity_change(hist: Any) -> float | None:
    """How much the velocity over the last SETTLE_S window (or more, sightings are sparse) differs from the
    one over the window before it, in sizes a second, less what the boxes' jitter explains; None without two
    such windows."""
    t2, b2 = hist[-1]
    k = _before(hist, len(hist) - 1)
    j = None if k is None else _before(hist, k)
    if k is None or j is None:
        return None
    (t1, b1), (t0, b0) = hist[k], hist[j]
    p2, p1, p0 = bottom_centre(b2), bottom_centre(b1), bottom_centre(b0)
    s = size(np.asarray(b2, np.float32))
    dv = float(np.linalg.norm((p2 - p1) / (t2 - t1) - (p1 - p0) / (t1 - t0))) / s
    return max(0.0, dv - JITTER * (2 / (t2 - t1) + 2 / (t1 - t0)))


def _before(hist: Any, i: int) -> int | None:
    """The latest sighting at least SETTLE_S before sighting `i`."""
    return next((k for k in range(i - 1, -1, -1) if hist[k][0] <= hist[i][0] - SETTLE_S + 1e-6), None)


class WatchedAreas:
    """Where each label is watched: zone polygons (closed) and lines (open), in frame pixels."""

    def __init__(self, areas: dict[str, list[tuple[np.ndarray, bool]]], everywhere: bool = False) -> None:
        self.areas = areas
        self.everywhere = everywhere   # a left_object rule: any object explains foreground, anywhere

    def __call__(self, label: str | None, box: np.ndarray) -> bool:
        if self.everywhere or label is None:
            return True
        return self._near(self.areas.get(label, []), box)

    def near_zone(self, label: str | None, box: np.ndarray) -> bool:
        """Whether the box is within REACH of a zone polygon that watches its label (anywhere, with a
        left_object rule): its membership needs sightings, not predictions."""
        if self.everywhere or label is None:
            return True
        return self._near([s for s in self.areas.get(label, []) if s[1]], box)

    @staticmethod
    def _near(shapes: list[tuple[np.ndarray, bool]], box: np.ndarray) -> bool:
        if not shapes:
            return False
        p, reach = _feet_reach(box, REACH)   # bottom-centre, as zones judge it
        for pts, closed in shapes:
            if closed:
                if cv2.pointPolygonTest(pts.reshape(-1, 1, 2), p, True) >= -reach:
                    return True
            elif _polyline_distance(p, pts) <= reach:
                return True
        return False


def near_line(region: Any, blobs: list[Any], lines: list[np.ndarray]) -> bool:
    """Whether a moving blob of this region stands within REACH of its sizes of a line (no blobs: the
    region itself)."""
    if not lines:
        return False
    x0, y0, x9, y9 = region
    mine = [b for b in blobs if x0 <= (b[0] + b[2]) / 2 <= x9 and y0 <= (b[1] + b[3]) / 2 <= y9]
    for box in mine or [region]:
        feet, reach = _feet_reach(box, REACH)
        if any(_polyline_distance(feet, line) <= reach for line in lines):
            return True
    return False


def at_line(tracks: Iterable[Any], lines: list[np.ndarray]) -> bool:
    """Whether a track's feet stand within CROSSING of its size of a line: which track is which decides
    that line's next count. The caller leaves out tracks that cannot decide it: a walker at a line that
    counts only bicycles (nor a bicycle at a walkers' line) never becomes a counted object, as the tracker
    keeps each family of classes apart (on the Oxford street at 320 px, 2 of 28 whole frames were looked at
    only for walkers at the bicycles' line)."""
    for tr in tracks:
        feet, reach = _feet_reach(tr.box, CROSSING)
        if any(_polyline_distance(feet, line) < reach for line in lines):
            return True
    return False


def _feet_reach(box: Any, sizes: float) -> tuple[tuple[float, float], float]:
    """A box's bottom-centre (feet, wheels) and `sizes` of its size (the root of its area), plain floats."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return ((x1 + x2) / 2, y2), sizes * math.sqrt(max(1.0, (x2 - x1) * (y2 - y1)))


def _polyline_distance(p: tuple[float, float], pts: np.ndarray) -> float:
    """Pixels from point p to the nearest point of the polyline `pts` (plain floats: called for every
    blob and track of every planned frame, on lines of a few points, where numpy's per-call cost is most of
    the time)."""
    px, py = float(p[0]), float(p[1])
    best = math.inf
    q = pts.tolist()
    for (ax, ay), (bx, by) in zip(q[:-1], q[1:], strict=True):
        dx, dy = bx - ax, by - ay
        u = min(1.0, max(0.0, ((px - ax) * dx + (py - ay) * dy) / max(dx * dx + dy * dy, 1e-9)))
        best = min(best, math.hypot(ax + u * dx - px, ay + u * dy - py))
    return best


class MotionExplainer:
    def __init__(self, refresh_s: float, keepalive_s: float, watched: Callable[[Any], bool],
                 predict: Predictions | None = None) -> None:
        """`predict`: the tracks' predictions, shared with the camera's LineBurst (default: every track may
        be left to where its motion predicts it)."""
        self.refresh_s = refresh_s
        self.keepalive_s = keepalive_s
        self.watched = watched
        self.predict = predict or Predictions(lambda tr: True)
        self.last_run = -1e9
        # track id -> detector runs in a row that looked for it and did not find it (kept while unlooked-at)
        self.misses: dict[int, int] = {}
        self.empty: EmptyLooks | None = None

    def watch_empty(self, scale: float) -> None:
        """Let regions looked at in vain explain their motion while it stays unchanged (EmptyLooks; `scale`:
        frame pixels to the motion model's small grey copy)."""
        self.empty = EmptyLooks(self.refresh_s, scale)

    def ran(self, mode: str, regions: list[Any], tracks: Iterable[Any], t: float,
            look: tuple[np.ndarray, np.ndarray | None] | None = None) -> None:
        """After a detector run on the whole frame (`mode` "full") or on `regions`, with the tracks
        updated; `look`: the run's boxes (before any filter) and the frame's small grey copy."""
        self.last_run = t
        if self.empty is not None and look is not None and mode == "regions":
            self.empty.looked(regions, look[0], look[1], t)
        boxes = np.asarray(regions, np.float32).reshape(-1, 4)
        misses = {}
        for tr in tracks:  # missed until found again
            if tr.last_t >= t - 1e-6:
                continue
            if mode == "full" or any(covered(tr.box, b[None], 0.5, 0.0, 0.0) for b in boxes):
                misses[tr.id] = self.misses.get(tr.id, 0) + 1
            elif tr.id in self.misses:
                misses[tr.id] = self.misses[tr.id]
        self.misses = misses

    def explains(self, regions: list[Any], tracks: Iterable[Any], t: float, blobs: Iterable[Any] = (),
                 motion: tuple[list[Any], np.ndarray | None] | None = None) -> bool:
        """Whether every motion region, and each of `blobs` on its own (a line camera's moving blobs near a
        line: someone new there may be merged into one region with walkers the tracks explain), is explained
        and no watched track is due (so the detector may rest). `motion`: the frame's moving blobs and small
        grey copy, for `watch_empty`."""
        if self.empty is not None and motion is not None:
            regions = [r for r in regions if not self.empty.explains(r, motion[0], motion[1], t)]
        good = [tr for tr in tracks if tr.id not in self.misses and t - tr.last_t <= self.keepalive_s + 1e-6]
        rates = [self.predict.rate(tr) for tr in good
                 if tr.last_t >= self.last_run - 1e-6 and self.watched(tr)]
        refresh = min([self.refresh_s, *(STEP / v for v in rates if v > 0)])
        if t - self.last_run >= refresh - 1e-6:
            return False
        boxes = self.predict.boxes(good, t)
        return (all(covered(np.asarray(r, dtype=np.float32), boxes) for r in regions)
                and all(covered(np.asarray(b, dtype=np.float32), boxes) for b in blobs))


def look_rate(track: Any, predictable: bool) -> float:
    """Sizes a second by which the track may get away from where the tracker looks for it: `drift_rate`
    for a predictable one, its speed for any other (infinite while unknown)."""
    if len(track.history) < 2:
        return float("inf")
    return drift_rate(track) if predictable else float(track.speed)


class Predictions:
    """Per track, its look rate and (a predictable steady one) its velocity, worked out once per sighting:
    planning asks on every frame."""

    def __init__(self, predictable: Callable[[Any], bool]) -> None:
        """`predictable`: whether a track may be left to where its motion predicts it (a walker near a
        counting line, whose crossing is dated between two sightings), not one near a zone, whose membership
        needs `inertia` sightings."""
        self.predictable = predictable
        self._facts: dict[int, tuple[float, float, np.ndarray | None]] = {}   # id -> last_t, rate, velocity

    def _of(self, track: Any) -> tuple[float, float, np.ndarray | None]:
        facts = self._facts.get(track.id)
        if facts is None or facts[0] != track.last_t:
            if len(self._facts) > 256:   # bounded: drop what no longer moves on
                self._facts.clear()
            ok = self.predictable(track)
            rate = look_rate(track, ok)
            steady = ok and 0 < rate < track.speed
            facts = self._facts[track.id] = (track.last_t, rate, track.velocity(SETTLE_S) if steady else None)
        return facts

    def rate(self, track: Any) -> float:
        return self._of(track)[1]

    def boxes(self, tracks: list[Any], t: float) -> np.ndarray:
        """Where the tracks are: a predictable steady one where it is predicted now (its old box explains no
        motion: what moves there is someone else), any other where it was last seen."""
        out = np.array([tr.box for tr in tracks], dtype=np.float32).reshape(-1, 4)
        for k, tr in enumerate(tracks):
            v = self._of(tr)[2]
            if v is not None:
                out[k] += np.tile(v, 2) * (t - tr.last_t)
        return out


class LineBurst:
    """Frames between the detect-fps ones (a camera with line rules gets them at `detect.line_fps`): looked
    at only while something fast, or new, moves near a line, so a fast small vehicle is seen every frame on
    its way across (at 5 fps it moves more than its size between two looks, and its track breaks at the
    line); a walker known to move slower than the detect fps can follow leaves them alone."""

    RECENT_S = 0.5

    def __init__(self, fps: float, analysis_fps: float, lines: list[np.ndarray],
                 watched: Callable[[Any], bool], predict: Predictions | None = None) -> None:
        self.cadence = Cadence(fps, analysis_fps)
        self.fast = STEP * fps   # sizes a second: faster moves more than STEP of its size between two looks
        self.lines = lines
        self.watched = watched   # a track of a label a line rule counts, within REACH of that line
        self.predict = predict or Predictions(lambda tr: True)   # the camera's MotionExplainer's
        self.active = False

    def base(self, t: float) -> bool:
        """Whether `t` is on the detect-fps cadence (and moves it on)."""
        return self.cadence.base(t)

    def update(self, near: list[Any], tracks: Iterable[Any], t: float) -> bool:
        """After a frame: `near` its motion regions near a line. The next frame between the detect-fps ones
        is looked at when one of them is far from every recent track (something new, or a track it left
        behind), or a track a line counts is near it and fast or of unknown speed."""
        recent = [tr for tr in tracks if t - tr.last_t <= self.RECENT_S]
        boxes = self.predict.boxes(recent, t)
        new = any(not covered(np.asarray(r, np.float32), boxes, 0.5, 1.0, 0.0) for r in near)
        self.active = new or any(self.predict.rate(tr) >= self.fast and self.watched(tr)
                                 for tr in recent)
        return self.active


class Cadence:
    """Which frames of a line camera's `line_fps` stream are on the `detect.fps` cadence: decided by the
    frames' times alone, so the read-ahead thread (which feeds those frames to the background model) and the
    pipeline agree frame by frame. It starts at the first frame: a clip started later, or a camera whose
    frames fall at another phase, has its first frame on it."""

    def __init__(self, fps: float, analysis_fps: float) -> None:
        self.step = 1.0 / fps
        self.eps = 0.25 / analysis_fps
        self.next_base: float | None = None

    def base(self, t: float) -> bool:
        """Whether `t` is on the detect-fps cadence (and moves it on)."""
        if self.next_base is None:
            self.next_base = t
        if t + self.eps < self.next_base:
            return False
        self.next_base += self.step
        if self.next_base <= t:
            self.next_base = t + self.step
        return True


class EmptyLooks:
    """Motion the detector looked at and found nothing in, and that has not changed since: a thing put down
    (or taken away) stays foreground of the background model for seconds after it stopped moving, and is no
    object the detector knows, so every frame's plan would look at it again. A region whose every blob is
    such is explained for `valid_s` after the look; anything that moves there changes its pixels."""

    def __init__(self, valid_s: float, scale: float) -> None:
        self.valid_s, self.scale = valid_s, scale   # scale: frame pixels -> the small grey copy's
        self._looks: list[tuple[float, np.ndarray, np.ndarray]] = []   # t, region (frame px), small grey

    def looked(self, regions: list[Any], found: np.ndarray, grey: np.ndarray | None, t: float) -> None:
        """After a detector run on `regions` that found the boxes `found` (N,4): regions with no box are
        remembered with the frame's small grey copy."""
        self._looks = [lk for lk in self._looks if t - lk[0] < self.valid_s - 1e-6]
        if grey is None:
            return
        for r in regions:
            x1, y1, x2, y2 = r
            if not len(found) or not ((found[:, 0] < x2) & (found[:, 2] > x1) & (found[:, 1] < y2)
                                      & (found[:, 3] > y1)).any():
                self._looks.append((t, np.asarray(r, np.float32), grey))

    def explains(self, region: Any, blobs: list[Any], grey: np.ndarray | None, t: float) -> bool:
        """Whether every blob of `region` lies in a region looked at in vain within `valid_s`, and its pixels
        changed by no more than CHANGE since (a few pixels' noise allowed)."""
        looks = [lk for lk in self._looks if t - lk[0] < self.valid_s - 1e-6]
        x0, y0, x9, y9 = region
        mine = [b for b in blobs if x0 <= (b[0] + b[2]) / 2 <= x9 and y0 <= (b[1] + b[3]) / 2 <= y9]
        if not looks or not mine or grey is None:
            return False
        return all(any(self._static(b, lk, grey) for lk in looks) for b in mine)

    def _static(self, blob: Any, look: tuple[float, np.ndarray, np.ndarray], grey: np.ndarray) -> bool:
        r = look[1]
        if not (r[0] <= blob[0] and r[1] <= blob[1] and blob[2] <= r[2] and blob[3] <= r[3]):
            return False
        s = self.scale
        x1, y1 = int(blob[0] * s), int(blob[1] * s)
        x2, y2 = int(math.ceil(blob[2] * s)), int(math.ceil(blob[3] * s))
        diff = cv2.absdiff(grey[y1:y2, x1:x2], look[2][y1:y2, x1:x2])
        return int(np.count_nonzero(diff > CHANGE)) <= STATIC_NOISE * diff.size


STATIC_NOISE = 0.01  # of a blob's pixels that may change while it stands still
