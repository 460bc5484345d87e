import numpy as np

from vision.config import COCO_NAMES, TrackerSettings
from vision.detections import Detections
from vision.tracking import ObjectTracker


def dets(boxes, cls, score=0.9):
    return Detections(xyxy=np.array(boxes, dtype=np.float32).reshape(-1, 4), confidence=np.full(len(boxes), score),
                      class_id=np.array(cls))


def test_ids_survive_gaps_and_label_is_majority() -> None:
    tr = ObjectTracker(TrackerSettings(lost_s=5), list(COCO_NAMES))
    ids = set()
    for k in range(20):
        t = k * 0.2
        if k % 4:          # the detector ran on one frame in four (motion gating)
            continue
        cls = 7 if k == 8 else 2  # one frame says truck, the rest car
        out = tr.update(dets([[100 + k, 50, 160 + k, 90]], [cls]), t)
        ids.update(int(i) for i in out.tracker_id if i >= 0)
    assert len(ids) == 1
    track = tr.tracks[ids.pop()]
    assert COCO_NAMES[track.class_id] == "car"
    assert track.max_score >= 0.89 and len(track.history) == 5


def test_still_time_and_speed() -> None:
    tr = ObjectTracker(TrackerSettings(), list(COCO_NAMES))
    for k in range(11):
        tr.update(dets([[10 + 20 * k, 50, 40 + 20 * k, 110]], [0]), k * 0.2)  # walking
    (track,) = tr.tracks.values()
    assert track.speed > 1.0 and track.still_seconds(2.0) < 0.5
    for k in range(11, 40):
        tr.update(dets([[230, 50, 260, 110]], [0]), k * 0.2)  # stopped
    assert track.still_seconds(39 * 0.2) > 5.0 and track.speed < 0.1


def test_one_odd_box_is_not_a_move() -> None:
    tr = ObjectTracker(TrackerSettings(), list(COCO_NAMES))
    for k in range(10):
        box = [100, 50, 200, 120] if k != 5 else [100, 50, 200, 85]  # half occluded once
        tr.update(dets([box], [2]), k * 1.0)
    (track,) = tr.tracks.values()
    assert track.still_since == 0.0 and track.first_t == 0.0


def test_ended_tracks_are_dropped() -> None:
    tr = ObjectTracker(TrackerSettings(lost_s=1.0), list(COCO_NAMES))
    for k in range(5):
        tr.update(dets([[10, 10, 50, 50], [100, 100, 140, 150]], [0, 2]), k * 0.2)
    assert len(tr.tracks) == 2
    tr.update(dets([], []), 3.0)
    assert len(tr.tracks) == 0 and len(tr.ended) == 2 and tr.state_size() == 0
