import pytest

from vision.eval import match_events, temporal_iou


def p(zone="z", event="e", label="car", a=0.0, b=10.0):
    return {"zone": zone, "event": event, "label": label, "first_seen_s": a, "end_s": b}


TRUTH = {"tolerance_s": 1.0, "events": [
    {"zone": "z", "event": "e", "label": "truck", "alt_labels": ["car"], "first_seen_s": 0.0, "end_s": 10.0},
    {"zone": "z", "event": "e", "label": "person", "first_seen_s": 20.0, "end_s": 25.0},
    {"zone": "z", "event": "e", "label": "person", "first_seen_s": 40.0, "end_s": 45.0, "hard": True},
]}


@pytest.mark.parametrize("pred, tp, fp, fn", [
    ([p(), p(label="person", a=20.5, b=24)], 2, 0, 0),
    ([p(), p(a=0, b=5), p(label="person", a=20, b=25)], 2, 1, 0),      # a duplicate from a broken track
    ([p(label="bus")], 0, 1, 2),                                      # wrong label
    ([p(zone="y")], 0, 1, 2),
    ([p(a=8, b=30)], 0, 1, 2),                                        # overlaps too little
    ([], 0, 0, 2),                                                    # the hard one missed is not a miss
    ([p(label="person", a=40, b=45)], 1, 0, 2),                       # found, the hard one counts
])
def test_matching(pred, tp, fp, fn) -> None:
    r = match_events(pred, TRUTH)
    assert (r.tp, r.fp, r.fn) == (tp, fp, fn)


def test_temporal_iou() -> None:
    assert temporal_iou((0, 10), (0, 10), 0) == 1.0
    assert temporal_iou((0, 10), (5, 15), 0) == pytest.approx(5 / 15)
    assert temporal_iou((5, 5), (5.5, 5.5), 1.0) == 1.0
    assert temporal_iou((0, 1), (5, 6), 1.0) == 0.0
