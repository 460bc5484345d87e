"""Tracks: ByteTrack (the `trackers` package) plus what the rules need per object.

ByteTrack is class-agnostic and only sees the frames the detector ran on; it is given each frame's
timestamp, so its Kalman filter and lost-track budget count seconds, not frames, and the gaps left by
motion gating and a low detect rate do not end tracks. Each of our tracks is a `Track` (vision.track), which
keeps what the rules need of the object from the boxes given it here.

One object, one track: when ByteTrack starts a new id (the object was missed for a few detections, turned, or
passed someone), the new box is linked to a lost track of the same family of classes if it is where that
object was heading (its own motion, allowing more room the longer it was lost; by its head where its latest
box was cut short) and looks like it (colour histogram); the track, and so its event, continues under its
first id. A track ByteTrack has dropped is dropped here too, so state stays bounded however long the stream
runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from vision import appearance
from vision.boxes import bottom_centre, inside_fraction, inside_fractions, iou, size, top_centre
from vision.config import TrackerSettings
from vision.detections import Detections
from vision.track import SETTLE_S, Track

DOUBLE_IOU = 0.35     # a new box overlapping a known object's box this much in the same frame is that object
MAX_APPEARANCE = 0.55  # appearance distance above which two boxes are not the same object
NESTED = 0.8          # a new two-wheeler box this much inside a known one, or holding it this much: the same
BESIDE_WIDTH = 1.6    # a box this many times as wide as a new one as tall holds it and another beside it
CUT_SHORT = 0.8      # a box this much shorter than the track's boxes before it is part of its object
STRADDLE = 0.9       # a new person's box this much in two known people's boxes together is the gap between
STRADDLE_PART = 0.2  # them (each holding at least this much of it)
FLICKER_MISSES = 2   # a track looked for in vain this often in a row, and as often as it was seen, flickered
STILL_S, STILL_GAP_S = 3.0, 1.0   # a track standing this long (still_seconds), unseen this long: no speed


# ByteTrack matches boxes by overlap alone; one tracker per family of classes keeps a person walking past a
# parked car from taking over the car's track, while car/truck/bus confusions stay one track (majority vote).
FAMILIES = {"person": 1, "bicycle": 2, "motorcycle": 2, "car": 3, "truck": 3, "bus": 3, "train": 3}
ID_STRIDE = 1_000_000
PEOPLE = FAMILIES["person"]
TWO_WHEELERS = FAMILIES["bicycle"]


def family_of(class_id: int, class_names: list[str] | tuple[str, ...] | None) -> int:
    if class_names is None or not 0 <= class_id < len(class_names):
        return 0
    return FAMILIES.get(class_names[class_id], 0)


def link_cost(track: Track, box: np.ndarray, embedding: np.ndarray | None, t: float) -> float | None:
    """How well a new box continues a lost track (lower is better), or None when it cannot be that object:
    too far from where the object was heading, a different size, or a different look."""
    dt = t - track.last_t
    s_old, s_new = size(track.box), size(box)
    if not 0.5 <= s_new / s_old <= 2.0:
        return None
    predicted = track.anchor + track.velocity(SETTLE_S) * dt
    look = appearance.distance(track.embedding, embedding)
    if look > MAX_APPEARANCE:
        return None
    reach = min(0.6 + 0.6 * dt, 2.5)  # box sizes; a walker may stop or turn while unseen
    d = float(np.linalg.norm(bottom_centre(box) - predicted)) / s_old
    if cut_short(track):
        # its feet, and the speed measured from them, moved by the part cut off (the legs hidden, or not
        # found), not by where it went: it is also looked for where its head was heading
        head = top_centre(track.box) + track.velocity(SETTLE_S, head=True) * dt
        d = min(d, float(np.linalg.norm(top_centre(box) - head)) / s_old)
    # a still object is also looked for where it stood
    d = min(
        d,
        float(np.linalg.norm(bottom_centre(box) - track.anchor))
        / s_old
        * (1.0 if track.speed < 0.2 else 2.0),
    )
    if d > reach:
        return None
    return d / reach + look


def flickered(track: Track, missed: int) -> bool:
    """Detector runs looked for the lost track in vain (`missed` times in a row) at least FLICKER_MISSES times
    and as many times as it was ever seen: a false detection (a tree trunk seen as a person at night), or an
    object gone, not one hidden for a moment; a new box elsewhere is something else."""
    return missed >= max(FLICKER_MISSES, len(track.history))


def cut_short(track: Track) -> bool:
    """The track's latest box is CUT_SHORT of the height of its boxes before (their median): part of the
    object, its top where the object is."""
    heights = [float(b[3] - b[1]) for _, b in track.history]
    return len(heights) >= 2 and heights[-1] < CUT_SHORT * float(np.median(heights[:-1]))


def nested_in(a: np.ndarray, b: np.ndarray) -> bool:
    """One box lies in the other by NESTED (either way): for two-wheelers, one object seen twice."""
    return max(inside_fraction(a, b), inside_fraction(b, a)) >= NESTED


def seen_twice(box: np.ndarray, other: np.ndarray, family: int) -> bool:
    """`box` is the detector seeing the object of `other` (the same family, in the same frame) a second time
    (ObjectTracker._drop_doubles says when)."""
    abreast = family == PEOPLE and beside(box, other)
    nested = family == TWO_WHEELERS and nested_in(box, other)
    return (iou(box, other) >= DOUBLE_IOU or nested) and not abreast


def straddles(box: np.ndarray, others: np.ndarray) -> bool:
    """`box` lies (STRADDLE) in two of `others` together, each holding a good part of it: the detector seeing
    the gap between two people side by side as a third."""
    parts = inside_fractions(box, others)   # zeros for an empty box
    for i, j in combinations(range(len(others)), 2):
        if min(parts[i], parts[j]) < STRADDLE_PART:
            continue
        # the part of it in both (an empty intersection box holds none of it)
        a, b = others[i], others[j]
        both = np.concatenate([np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])])
        if parts[i] + parts[j] - inside_fraction(box, both) >= STRADDLE:
            return True
    return False


def beside(box: np.ndarray, other: np.ndarray) -> bool:
    """`other` is as tall as `box` and much wider: two objects side by side seen as one (two people walking
    abreast), not one object seen twice (a bicycle, and the bicycle with its rider, is taller)."""
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    ow, oh = float(other[2] - other[0]), float(other[3] - other[1])
    return ow >= BESIDE_WIDTH * w and 0.8 <= oh / max(h, 1.0) <= 1.25


class ObjectTracker:
    """ByteTrack with per-track bookkeeping. `update` after each detector run, with the frame time (and the
    frame, for the appearance of objects)."""

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

    def update(self, detections: Detections, t: float, image: np.ndarray | None = None,
               misses: Mapping[int, int] | None = None) -> Detections:
        """Associate this frame's detections; returns them with `tracker_id` (-1: not yet a track). `misses`:
        track id -> detector runs in a row that looked for the unseen track in vain (gating.Explainer): a
        track that `flickered` is not continued by a new box (on real_campus_walkway_line at night a tree
        trunk was a person at two or three looks, missed at six whole-frame looks, and 3 s later continued
        by a girl walking past, who then crossed the line twice)."""
        self.ended = []
        self._stand_still(t)
        fams = np.array([family_of(int(c), self.class_names) for c in detections.class_id], dtype=int)
        tids = np.full(len(detections), -1, dtype=np.int64)
        for fam in set(fams.tolist()) | set(self._bts):
            idx = np.nonzero(fams == fam)[0]
            sub = detections[idx]
            bt = self._bts.get(fam)
            if bt is None:   # made once a family
                bt = self._bts[fam] = self._new_bytetrack()
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
        # a box ByteTrack left without an id (too weak to start a track, and too far from where its Kalman
        # filter put a track to continue it) may still continue a track lost just before (_link); one under
        # the activation score (two-wheelers on a line are kept from 0.2) only where ByteTrack matched it
        strong = detections.confidence >= self.settings.activation_score
        weak = [int(r) for r in np.nonzero((tids < 0) & (fams > 0) & strong)[0]]
        rows = np.nonzero(tids >= 0)[0]
        looks = {int(r): appearance.embed(image, detections.xyxy[r]) if image is not None else None
                 for r in [*rows, *weak]}
        self._link(tids, detections, looks, t, {r: int(fams[r]) for r in weak}, misses)
        self._drop_doubles(tids, detections)
        for row in np.nonzero(tids >= 0)[0]:
            self._observe(int(tids[row]), detections.xyxy[row], float(detections.confidence[row]),
                          int(detections.class_id[row]), t, looks[int(row)])
        self._note_doubles(tids, detections)
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

    def _link(self, tids: np.ndarray, dets: Detections, looks: dict[int, np.ndarray | None],
              t: float, weak: dict[int, int] | None = None, misses: Mapping[int, int] | None = None) -> None:
        """Map ByteTrack ids to ours (in place); a new ByteTrack id continues a lost track it fits (best pairs
        first), and that track's old ByteTrack tracklet is dropped so it cannot come back as a second copy.
        `weak`: rows ByteTrack gave no id (row -> family); one that fits a lost track continues it, as
        ByteTrack continues a track with a low-score box, but by the object's motion and look instead of box
        overlap (under motion gating and at detect fps a fast object has moved off its predicted box)."""
        weak = weak or {}
        misses = misses or {}
        fresh: list[int] = []
        seen: set[int] = set()
        for k in np.nonzero(tids >= 0)[0]:
            bt_id = int(tids[k])
            if bt_id in self._alias or bt_id in self.tracks:
                tids[k] = self._alias.get(bt_id, bt_id)
                seen.add(int(tids[k]))
            else:
                fresh.append(int(k))
        if not fresh and not weak:
            return
        s = self.settings
        candidates = [(row, weak[row] if row in weak else int(tids[row]) // ID_STRIDE)
                      for row in [*fresh, *weak]]
        pairs = []
        for tr in self.tracks.values():
            if tr.id in seen or tr.last_t >= t:
                continue
            window = s.link_s if tr.speed >= 0.2 or tr.drift > s.still_radius else s.lost_s
            if t - tr.last_t > window or flickered(tr, misses.get(tr.id, 0)):
                continue
            for row, fam in candidates:
                if fam != tr.id // ID_STRIDE:
                    continue
                cost = link_cost(tr, dets.xyxy[row], looks[row], t)
                if cost is not None:
                    pairs.append((cost, row, tr.id))
        used_rows: set[int] = set()
        for _, row, tid in sorted(pairs):
            if row in used_rows or tid in seen:
                continue
            used_rows.add(row)
            seen.add(tid)
            if row in weak:
                self._follow(tid, dets.xyxy[row])
            else:
                self._drop_tracklets_of(tid)
                self._alias[int(tids[row])] = tid
                self.tracks[tid].links += 1
            tids[row] = tid

    def _drop_doubles(self, tids: np.ndarray, dets: Detections) -> None:
        """A new track whose first box largely overlaps the box of a known track of its family seen in this
        same frame is the detector seeing that object twice (a bicycle, and the bicycle with its rider): it is
        no object of its own until it stands apart (someone coming out from behind another does, soon). Only
        people are also seen two abreast as one box (`beside`), one of them then also on their own: a
        bicycle's box inside a wider bicycle box is that bicycle seen twice (with and without its rider, or
        its front wheel alone), as containment suppression takes it (on real_pedestrian_street a pushed
        bicycle's two boxes, the inner 0.57 of the outer's width, made two tracks and two events), whatever
        their IoU: a bicycle seen from behind is a sliver, and the box of it with its rider, new, can hold it
        at IoU 0.34 (real_street_bicycles_line_small phase 2). Not vehicles: a car passes in front of a
        parked truck inside its box."""
        rows = np.nonzero(tids >= 0)[0]
        known = [r for r in rows if int(tids[r]) in self.tracks]
        for r in rows:
            tid = int(tids[r])
            if tid in self.tracks:
                continue
            kin = [k for k in known if int(tids[k]) // ID_STRIDE == tid // ID_STRIDE]
            if any(seen_twice(dets.xyxy[r], dets.xyxy[k], tid // ID_STRIDE) for k in kin) or (
                    tid // ID_STRIDE == PEOPLE and straddles(dets.xyxy[r], dets.xyxy[kin])):
                tids[r] = -1

    def _note_doubles(self, tids: np.ndarray, dets: Detections) -> None:
        """Two two-wheeler tracks seen in this frame, one box lying in the other's by NESTED: the same object
        seen twice, as `_drop_doubles` takes a new track's box, but found after both had become tracks (their
        first boxes overlapped less: on real_pedestrian_street at 960x540 a bicycle's box and one of it with
        the man pushing it, IoU 0.35 and inside each other 0.56 / 0.48, then 1.0 at the next look). Noted on
        both (`Track.doubles`); the zone rules give the pair one visit."""
        two = np.nonzero(tids // ID_STRIDE == TWO_WHEELERS)[0]
        rows = [int(r) for r in two if int(tids[r]) in self.tracks]
        for k, a in enumerate(rows):
            for b in rows[k + 1:]:
                ta, tb = int(tids[a]), int(tids[b])
                if ta == tb:
                    continue
                if nested_in(dets.xyxy[a], dets.xyxy[b]):
                    self.tracks[ta].doubles.add(tb)
                    self.tracks[tb].doubles.add(ta)

    def _follow(self, tid: int, box: np.ndarray) -> None:
        """A weak box (no tracklet of its own) continued a lost track: the track's ByteTrack tracklet starts
        again from it, so that its Kalman filter follows the object, as after ByteTrack's own low-score stage.
        Left where it lost the object, it went on guessing from there, and took someone else passing that
        place as this object (real_campus_walkway_line_fast: a walker's tracklet, lost for 4 s while boxes
        90 px away continued the walker, matched a girl of the group there; the walker crossed again)."""
        for tr in self._tracklets_of(tid):
            # started again there, not updated: a Kalman update from a guess far off would read the jump
            # as the object's speed
            tr.state_estimator = type(tr.state_estimator)(np.asarray(box, dtype=np.float32))
            tr._configure_noise()   # noqa: SLF001 - as the tracklet configures a new filter
            tr.time_since_update, tr.time_since_update_seconds = 0, 0.0

    def _stand_still(self, t: float) -> None:
        """Tracklets of still tracks unseen for a while keep no speed in their Kalman filter. The filter reads
        a still person's sway (a few pixels in 0.2 s) as speed, and motion gating looks at still people only
        at the keep-alive: 3 s on, people standing in a row were each predicted most of a person along, and
        ByteTrack swapped their ids (six in a row: new ids began, not yet inside, and their crowd ended).
        Standing STILL_S: a far walker slow enough to stay within still_radius for a second is no still
        person (with 1 s, vtest's line cases under every=2 lost 7 crossings and gained a false one)."""
        still = {tr.id for tr in self.tracks.values()
                 if t - tr.last_t >= STILL_GAP_S and tr.still_seconds(tr.last_t) >= STILL_S}
        if not still:
            return
        for fam, tl in self._bt_tracks:
            bt_id = int(tl.tracker_id) + fam * ID_STRIDE
            if self._alias.get(bt_id, bt_id) in still:
                tl.state_estimator.kf.state[4:8] = 0.0

    def _tracklets_of(self, tid: int) -> list[Any]:
        """The ByteTrack tracklets of our track `tid`: its own, and those aliased to it."""
        fam = tid // ID_STRIDE
        bt = self._bts.get(fam)
        if bt is None:
            return []
        ids = {b for b, v in self._alias.items() if v == tid} | {tid}
        return [tr for tr in bt.tracks if int(tr.tracker_id) + fam * ID_STRIDE in ids]

    def _drop_tracklets_of(self, tid: int) -> None:
        old = {id(tr) for tr in self._tracklets_of(tid)}
        if old:
            bt = self._bts[tid // ID_STRIDE]
            bt.tracks = [tr for tr in bt.tracks if id(tr) not in old]
        self._alias = {k: v for k, v in self._alias.items() if v != tid}

    def _observe(self, tid: int, box: np.ndarray, score: float, class_id: int, t: float,
                 look: np.ndarray | None) -> None:
        box = np.asarray(box, dtype=np.float32).copy()
        track = self.tracks.get(tid)
        if track is None:
            track = Track(id=tid, first_t=t, box=box, last_t=t, score=score, max_score=score,
                          still_since=t, best_box=box, best_t=t)
            self.tracks[tid] = track
        track.observe(box, score, class_id, t, look, self.settings)

    def current(self, t: float, max_age_s: float | None = None) -> list[Track]:
        """Tracks seen within `max_age_s` (default: the lost budget) of `t`."""
        limit = self.settings.lost_s if max_age_s is None else max_age_s
        return [tr for tr in self.tracks.values() if t - tr.last_t <= limit]

    def state_size(self) -> int:
        """Objects held (ours plus ByteTrack's), for checking memory stays bounded."""
        return len(self.tracks) + len(self._bt_tracks) + len(self._alias)
