import json
import logging

import pytest

from vision.errors import ConfigError
from vision.eval import (
    HELDOUT_HIDDEN,
    CaseResult,
    find_cases,
    groups,
    match_events,
    report_lines,
    temporal_iou,
)

# a case's camera.yaml: one camera, valid (the eval reads it with vision.config.load_config)
CAMERA_YAML = """cameras:
  c:
    source: clip.mp4
    zones:
      z:
        polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]
        rules: [{kind: presence, labels: [person], min_seconds: 1, event: e}]
"""


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


def test_duplicates_per_visit() -> None:
    # two extra events during the first visit (one under another label), one false alarm elsewhere
    pred = [p(), p(a=0, b=4), p(label="bus", a=6, b=11), p(label="person", a=20, b=25), p(zone="y", a=0,
                                                                                          b=10)]
    r = match_events(pred, TRUTH)
    assert (r.tp, r.fp, r.duplicates) == (2, 3, 2)
    assert r.duplicates_per_visit == pytest.approx(1.0)
    assert match_events([p()], TRUTH).duplicates == 0


def _case(root, name, kind, split, clip="clip.mp4", events=()) -> None:
    d = root / name
    d.mkdir()
    (d / "camera.yaml").write_text(CAMERA_YAML)
    (d / "truth.json").write_text(json.dumps({"clip": clip, "kind": kind, "split": split,
                                              "events": list(events)}))
    if clip == "clip.mp4":
        (d / clip).write_bytes(b"")


def test_find_cases_filters_and_skips_missing_clips(tmp_path, caplog) -> None:
    _case(tmp_path, "a", "real", "dev")
    _case(tmp_path, "b", "real", "heldout")
    _case(tmp_path, "c", "composed", "dev")
    _case(tmp_path, "d", "real", "dev", clip="../../../../shared/clips/gone.mp4")
    with caplog.at_level(logging.WARNING):
        assert [c.name for c in find_cases(tmp_path)] == ["a", "b", "c"]
    assert "gone.mp4" in caplog.text and "skipped" in caplog.text
    assert [c.name for c in find_cases(tmp_path, split="dev")] == ["a", "c"]
    assert [c.name for c in find_cases(tmp_path, split="dev", kind="real")] == ["a"]


def test_bad_kind_is_named(tmp_path) -> None:
    _case(tmp_path, "a", "fake", "dev")
    with pytest.raises(ConfigError, match="kind 'fake'"):
        find_cases(tmp_path)


def test_groups() -> None:
    results = [CaseResult("a", "real", "dev", tp=2, fp=1, duplicates=1), CaseResult("b", "real", "heldout",
                                                                                    tp=1),
               CaseResult("c", "composed", "dev", tp=3, fn=1)]
    g = {r.name: r for r in groups(results)}
    assert list(g) == ["real", "real dev", "real heldout", "composed", "dev", "heldout", "all"]
    assert (g["real"].tp, g["real"].fp, g["real"].duplicates) == (3, 1, 1)
    assert (g["dev"].tp, g["dev"].fn) == (5, 1)
    assert g["all"].tp == 6
    assert g["all"].duplicates_per_visit == pytest.approx(1 / 6)
    lines = report_lines(results, groups(results))
    assert lines[-1].startswith("all") and any(line.startswith("real heldout") for line in lines)


def test_the_table_does_not_list_a_heldout_cases_errors_unless_asked() -> None:
    """A held-out case is measured, never tuned on: the table gives its counts, and which events it missed or
    made up only with show_heldout (--show-heldout); a dev case's are always listed."""
    miss = {"zone": "road", "event": "bike_up", "label": "motorcycle", "first_seen_s": 2.35, "end_s": 2.35}
    false = {**miss, "event": "bike_down", "first_seen_s": 7.0, "end_s": 7.0}
    results = [CaseResult("d", "real", "dev", tp=1, fn=1, misses=[miss]),
               CaseResult("h", "real", "heldout", tp=1, fn=1, fp=1, misses=[miss], false_positives=[false])]
    hidden = report_lines(results, groups(results))
    assert sum("missed: road/bike_up" in line for line in hidden) == 1     # the dev case's
    assert not any("bike_down" in line for line in hidden)
    assert sum(line == HELDOUT_HIDDEN for line in hidden) == 1
    shown = report_lines(results, groups(results), show_heldout=True)
    assert sum("missed: road/bike_up" in line for line in shown) == 2
    assert any("false positive: road/bike_down motorcycle 7.0-7.0s" in line for line in shown)
    assert HELDOUT_HIDDEN not in shown


@pytest.mark.slow
def test_composed_cases_keep_event_f1_at_least_0_9() -> None:
    """The composed clips (exact truth, in the repository) stay >= 0.9 together; no case falls apart: each
    finds at least half of its events, and at least half of what it reports is true. (`left_object` finds its
    bag and misses its rag, 1 / 0 / 1, F1 0.67: its 0.8 before round 6 matched a ghost to the rag by time.)"""
    from pathlib import Path

    from vision.eval import evaluate

    results, totals = evaluate(Path(__file__).resolve().parents[2] / "sample_videos/cases", kind="composed")
    assert len(results) >= 7
    report = "\n".join(report_lines(results, totals))
    assert totals[-1].f1 >= 0.9, report
    assert all(r.recall >= 0.5 and r.precision >= 0.5 for r in results), report
