"""Tracks: ByteTrack (the `trackers` package) plus what the rules need per object.

ByteTrack is class-agnostic and only sees the frames the detector ran on; it is given each frame's
timestamp, so its Kalman filter and lost-track budget count seconds, not frames, and the gaps left by
motion gating and a low detect rate do not end tracks. Per track this module keeps a majority-vote label,
the best and last score, a bounded box history, speed and the time it has been still. A track ByteTrack has
dropped is dropped here too, so state stays bounded however long the stream runs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from vision.boxes import bottom_centre, iou, size
from vision.config import TrackerSettings
from vision.detections import Detections

HISTORY = 32          # boxes kept per track
LABEL_VOTES = 64      # class votes kept per track


@dataclass
class Track:
    """One tracked object. Coordinates in source pixels, times in seconds from the source start."""

    id: int
    first_t: float
    box: np.ndarray
    last_t: float
    score: float
    max_score: float
    votes: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=LABEL_VOTES))
    history: deque[tuple[float, np.ndarray]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    still_anchor: np.ndarray | None = None
    still_since: float = 0.0
    moved_to: np.ndarray | None = None   # a first box away from the still anchor, awaiting confirmation
    moved_t: float = 0.0
    speed: float = 0.0           # box sizes per second, of the bottom-centre
    best_box: np.ndarray | None = None
    best_t: float = 0.0

    @property
    def class_id(self) -> int:
        """Majority vote over recent detections, weighted by score."""
        tally: dict[int, float] = {}
        for cid, score in self.votes:
            tally[cid] = tally.get(cid, 0.0) + score
        return max(tally, key=lambda c: tally[c]) if tally else -1

    def still_seconds(self, t: float) -> float:
        """Seconds the object has stayed where it stopped (0 while a move awaits confirmation)."""
        if self.still_anchor is None or self.moved_to is not None:
            return 0.0
        return max(0.0, t - self.still_since)

    @property
    def anchor(self) -> np.ndarray:
        """Bottom-centre of the box, the point tested against zones."""
        return bottom_centre(self.box)


# ByteTrack matches boxes by overlap alone; one tracker per family of classes keeps a person walking past a
# parked car from taking over the car's track, while car/truck/bus confusions stay one track (majority vote).
FAMILIES = {"person": 1, "bicycle": 2, "motorcycle": 2, "car": 3, "truck": 3, "bus": 3, "train": 3}
ID_STRIDE = 1_000_000


def family_of(class_id: int, class_names: list[str] | tuple[str, ...] | None) -> int:
    if class_names is None or not 0 <= class_id < len(class_names):
        return 0
    return FAMILIES.get(class_names[class_id], 0)


class ObjectTracker:
    """ByteTrack with per-track bookkeeping. `update` after each detector run, with the frame time."""

    def __init__(self, settings: TrackerSettings | None = None,
                 class_names: list[str] | tuple[str, ...] | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self.class_names = class_names
        self._bts: dict[int, ByteTrackTracker] = {}
        self.tracks: dict[int, Track] = {}
        self.ended: list[Track] = []  # tracks ended by the last update; cleared on the next
        self._alias: dict[int, int] = {}  # ByteTrack id -> our track id it continues

    def _new_bytetrack(self) -> ByteTrackTracker:
        s = self.settings
        return ByteTrackTracker(
            lost_track_buffer=max(1, int(round(s.lost_s * 30))),  # counted in 30 fps frames
            frame_rate=30.0,
            track_activation_threshold=s.activation_score,
            minimum_consecutive_frames=s.min_frames,
            minimum_iou_threshold=s.min_iou,
            high_conf_det_threshold=s.high_score,
        )

    @property
    def _bt_tracks(self) -> list[tuple[int, Any]]:
        return [(fam, tr) for fam, bt in self._bts.items() for tr in bt.tracks]

    def update(self, detections: Detections, t: float) -> Detections:
        """Associate this frame's detections; returns them with `tracker_id` (-1: not yet a track)."""
        self.ended = []
        fams = np.array([family_of(int(c), self.class_names) for c in detections.class_id], dtype=int)
        tids = np.full(len(detections), -1, dtype=np.int64)
        for fam in set(fams.tolist()) | set(self._bts):
            idx = np.nonzero(fams == fam)[0]
            sub = detections[idx]
            bt = self._bts.setdefault(fam, self._new_bytetrack())
            sv_dets = sv.Detections(
                xyxy=sub.xyxy.astype(np.float32), confidence=sub.confidence.astype(np.float32),
                class_id=sub.class_id.astype(int), data={"_row": idx},
            )
            out = bt.update(sv_dets, timestamp=float(t))
            if self.settings.min_frames <= 1 and len(out):
                self._confirm_new(bt, out)
            if len(out):
                rows = np.asarray(out.data["_row"], dtype=int)
                ids = np.asarray(out.tracker_id, dtype=np.int64)
                tids[rows] = np.where(ids >= 0, ids + fam * ID_STRIDE, -1)
        for row in np.nonzero(tids >= 0)[0]:
            tids[row] = self._identity(int(tids[row]), detections.xyxy[row], t)
        for row in np.nonzero(tids >= 0)[0]:
            self._observe(int(tids[row]), detections.xyxy[row], float(detections.confidence[row]),
                          int(detections.class_id[row]), t)
        alive_bt = {int(tr.tracker_id) + fam * ID_STRIDE for fam, tr in self._bt_tracks if tr.tracker_id >= 0}
        self._alias = {k: v for k, v in self._alias.items() if k in alive_bt}
        alive = {self._alias.get(b, b) for b in alive_bt}
        for tid in list(self.tracks):
            if tid not in alive:
                self.ended.append(self.tracks.pop(tid))
        result = detections[np.arange(len(detections))]
        result.tracker_id = tids
        return result

    @staticmethod
    def _confirm_new(bt: ByteTrackTracker, out: sv.Detections) -> None:
        """With min_frames 1, a track is an object from its first detection (ByteTrack waits for a second
        match, which under motion gating may come seconds later)."""
        fresh = [tr for tr in bt.tracks if tr.tracker_id == -1 and tr.time_since_update == 0]
        if not fresh:
            return
        ids = np.asarray(out.tracker_id).copy()
        for tr in fresh:
            box = tr.get_state_bbox()
            d = np.abs(out.xyxy - box).sum(axis=1)
            k = int(np.argmin(d))
            if d[k] < 1.0 and ids[k] == -1:
                tr.tracker_id = bt._allocate_tracker_id()
                ids[k] = tr.tracker_id
        out.tracker_id = ids

    def _identity(self, bt_id: int, box: np.ndarray, t: float) -> int:
        """Our id for a ByteTrack id. A new ByteTrack id whose box sits where a track of the same family was
        last seen (and that track was not seen in this frame) continues that track: across the gaps of motion
        gating the Kalman filter can drift off a still object after one odd box, and a new id would follow."""
        if bt_id in self._alias:
            return self._alias[bt_id]
        if bt_id in self.tracks:
            return bt_id
        fam = bt_id // ID_STRIDE
        best, best_iou = None, 0.5
        for tr in self.tracks.values():
            if tr.id // ID_STRIDE != fam or tr.last_t >= t:
                continue
            overlap = iou(tr.box, box)
            if overlap >= best_iou:
                best, best_iou = tr, overlap
        if best is None:
            return bt_id
        self._alias = {k: v for k, v in self._alias.items() if v != best.id}
        self._alias[bt_id] = best.id
        return best.id

    def _observe(self, tid: int, box: np.ndarray, score: float, class_id: int, t: float) -> None:
        box = np.asarray(box, dtype=np.float32).copy()
        track = self.tracks.get(tid)
        if track is None:
            track = Track(id=tid, first_t=t, box=box, last_t=t, score=score, max_score=score,
                          still_anchor=None, still_since=t, best_box=box, best_t=t)
            self.tracks[tid] = track
        track.votes.append((class_id, score))
        track.history.append((t, box))
        track.box, track.last_t, track.score = box, t, score
        if score >= track.max_score:
            track.max_score, track.best_box, track.best_t = score, box, t
        self._motion(track, t)

    def _motion(self, track: Track, t: float) -> None:
        size_px = size(track.box)
        centre = np.array([(track.box[0] + track.box[2]) / 2, (track.box[1] + track.box[3]) / 2])
        # speed against the latest sighting at least half a second old (sightings are sparse under gating)
        old_t, old_box = track.history[0]
        for ht, hb in reversed(track.history):
            if t - ht >= 0.5:
                old_t, old_box = ht, hb
                break
        if t > old_t:
            old_c = np.array([(old_box[0] + old_box[2]) / 2, old_box[3]])
            new_c = np.array([(track.box[0] + track.box[2]) / 2, track.box[3]])
            track.speed = float(np.linalg.norm(new_c - old_c) / size_px / (t - old_t))
        if track.still_anchor is None:
            track.still_anchor, track.still_since = centre, t
        elif np.linalg.norm(centre - track.still_anchor) > self.settings.still_radius * size_px:
            # moved: believed once a second box agrees (one occluded or partial box is not a move)
            if track.moved_to is not None:
                # still since the first box at the new place when this one agrees with it (sightings are
                # seconds apart under gating), else since now
                radius = self.settings.still_radius * size_px
                agrees = np.linalg.norm(centre - track.moved_to) <= radius
                track.still_anchor, track.still_since = centre, track.moved_t if agrees else t
                track.moved_to = None
            else:
                track.moved_to, track.moved_t = centre, t
        else:
            track.moved_to = None

    def current(self, t: float, max_age_s: float | None = None) -> list[Track]:
        """Tracks seen within `max_age_s` (default: the lost budget) of `t`."""
        limit = self.settings.lost_s if max_age_s is None else max_age_s
        return [tr for tr in self.tracks.values() if t - tr.last_t <= limit]

    def state_size(self) -> int:
        """Objects held (ours plus ByteTrack's), for checking memory stays bounded."""
        return len(self.tracks) + len(self._bt_tracks) + len(self._alias)
