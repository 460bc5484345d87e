"""`sharpeyes eval --phases K`: each case at K sampling phases of its clip (vision/eval_phases.py), the
source's `skip` and a line camera's cadence that start at the first frame taken."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vision import eval_phases
from vision.analyze import AnalyzeResult
from vision.eval import HELDOUT_HIDDEN, CaseResult, run_case
from vision.gating import Cadence
from vision.pipeline import PipelineStats
from vision.sources import FileSource

from .test_eval import CAMERA_YAML
from .test_sources_files import encode, number_of


def test_skip_leaves_out_the_first_frames_and_starts_the_grid_at_the_first_one_taken(tmp_path: Path) -> None:
    """A 10 fps clip at 5 fps: frames 0, 2, 4, ...; with its first frame left out, 1, 3, 5, ... at their own
    times (the grid does not keep the old phase after the first frame)."""
    clip = encode(tmp_path / "c.avi", 12, "-c:v", "mjpeg", "-q:v", "3")
    for skip, numbers in ((0, [0, 2, 4, 6, 8, 10]), (1, [1, 3, 5, 7, 9, 11]), (2, [2, 4, 6, 8, 10])):
        with FileSource(clip, 5.0, read_ahead=0, skip=skip) as src:
            frames = list(src)
        assert [number_of(f.image) for f in frames] == numbers
        assert [f.index for f in frames] == numbers
        assert [f.t for f in frames] == pytest.approx([n / 10 for n in numbers])


def test_a_line_cameras_cadence_starts_at_its_first_frame() -> None:
    """A line camera's 10 fps frames from 0.1 s (the clip's first frame left out): the detect-fps (5) cadence
    is every other frame from the first, not 0.1 and then the old grid's 0.2, 0.4."""
    cadence = Cadence(5.0, 10.0)
    times = [k / 10 for k in range(1, 10)]
    assert [t for t in times if cadence.base(t)] == pytest.approx([0.1, 0.3, 0.5, 0.7, 0.9])


def test_a_truth_event_before_the_first_frame_taken_is_hard(tmp_path: Path, monkeypatch: Any) -> None:
    """A phase that starts at 0.2 s cannot see a crossing at 0.1 s: missed, it is not counted; the one at
    5 s still is."""
    case = tmp_path / "c"
    case.mkdir()
    (case / "camera.yaml").write_text(CAMERA_YAML)
    (case / "truth.json").write_text(json.dumps({"kind": "real", "split": "dev", "events": [
        {"zone": "z", "event": "e", "label": "person", "first_seen_s": 0.1, "end_s": 0.1},
        {"zone": "z", "event": "e", "label": "person", "first_seen_s": 5.0, "end_s": 5.0}]}))
    seen: list[int] = []

    def fake(config: Any, clip: Any, **kw: Any) -> AnalyzeResult:
        seen.append(kw["skip_frames"])
        return AnalyzeResult([], PipelineStats(), 0.1, 10.0, 100, first_t=kw["skip_frames"] / 10)

    monkeypatch.setattr("vision.analyze.analyze_clip", fake)
    assert (run_case(case)[0].fn, run_case(case, phase=2)[0].fn) == (2, 1)
    assert seen == [0, 2]


def _results(tp_fn: list[tuple[int, int, int]], name: str, kind: str = "real") -> list[CaseResult]:
    return [CaseResult(name, kind, "dev", tp=tp, fp=fp, fn=fn, duplicates=fp) for tp, fp, fn in tp_fn]


def test_evaluate_phases_sums_and_worst_phase(tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    """Each case runs at phases 0..K-1; per case and group: sums over the phases and the worst phase (most
    misses and false positives); the CLI prints the table and writes the JSON."""
    for name, kind in (("line", "real"), ("comp", "composed")):
        d = tmp_path / name
        d.mkdir()
        (d / "camera.yaml").write_text(CAMERA_YAML)
        (d / "truth.json").write_text(json.dumps({"kind": kind, "split": "dev", "events": []}))
    runs = {"line": _results([(12, 0, 0), (10, 0, 2), (12, 1, 0)], "line"),
            "comp": _results([(3, 0, 0), (3, 0, 0), (2, 0, 1)], "comp", "composed")}
    calls: list[tuple[str, int]] = []

    def fake(case: Path, detector: Any = None, naive: bool = False, model: Any = None, confirm: Any = None,
             phase: int = 0, perturb: Any = None) -> tuple[CaseResult, list[Any]]:
        calls.append((case.name, phase))
        return runs[case.name][phase], []

    monkeypatch.setattr(eval_phases, "run_case", fake)
    results, totals = eval_phases.evaluate_phases(tmp_path, 3)
    assert calls == [("comp", 0), ("comp", 1), ("comp", 2), ("line", 0), ("line", 1), ("line", 2)]
    line = next(r for r in results if r.name == "line")
    assert (line.total.tp, line.total.fp, line.total.fn, line.total.duplicates) == (34, 1, 2, 1)
    assert line.worst_phase == 1 and (line.worst.tp, line.worst.fn) == (10, 2)
    g = {name: (s, w) for name, s, w in totals}
    assert list(g) == ["real", "real dev", "composed", "all"]   # "dev": all of them
    assert (g["all"][0].tp, g["all"][0].fn) == (42, 3)
    assert (g["all"][1].tp, g["all"][1].fn) == (12, 3)   # the worst phases together: 10/0/2 and 2/0/1
    lines = eval_phases.report_lines(results, totals)
    assert [x.strip() for x in lines if x.strip().startswith("phase ")] == [   # comp, then line
        "phase 2: 1 missed, 0 false positive(s)", "phase 1: 2 missed, 0 false positive(s)",
        "phase 2: 0 missed, 1 false positive(s)"]
    assert lines[-1].startswith("all")

    from api.cli.main import main

    out = tmp_path / "phases.json"
    assert main(["eval", str(tmp_path), "--phases", "3", "--json", str(out)]) == 0
    assert "worst phase" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["phases"] == 3 and report["overall"]["group"] == "all"
    case = next(c for c in report["cases"] if c["case"] == "line")
    assert case["worst_phase"] == 1 and case["sum"]["fn"] == 2
    assert [p["fn"] for p in case["per_phase"]] == [0, 2, 0]


def test_phases_must_be_at_least_one(tmp_path: Path) -> None:
    from vision.errors import ConfigError

    with pytest.raises(ConfigError, match="--phases 0"):
        eval_phases.evaluate_phases(tmp_path, 0)


def test_a_heldout_cases_erring_phases_are_listed_only_when_asked(tmp_path: Path, monkeypatch: Any,
                                                                  capsys: Any) -> None:
    """`eval --phases` lists the misses of each erring phase of a dev case; of a held-out case (measured,
    never tuned on) only its counts, unless --show-heldout."""
    for name, split in (("d", "dev"), ("h", "heldout")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "camera.yaml").write_text(CAMERA_YAML)
        truth = {"kind": "real", "split": split, "events": []}
        (tmp_path / name / "truth.json").write_text(json.dumps(truth))
    miss = {"zone": "road", "event": "bike_up", "label": "motorcycle", "first_seen_s": 2.35, "end_s": 2.35}

    def fake(case: Path, detector: Any = None, naive: bool = False, model: Any = None, confirm: Any = None,
             phase: int = 0, perturb: Any = None) -> tuple[CaseResult, list[Any]]:
        split = "heldout" if case.name == "h" else "dev"
        return CaseResult(case.name, "real", split, tp=1, fn=phase, misses=[miss] * phase), []

    monkeypatch.setattr(eval_phases, "run_case", fake)
    from api.cli.main import main

    assert main(["eval", str(tmp_path), "--phases", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("phase 1: missed bike_up motorcycle 2.35s") == 1 and out.count(HELDOUT_HIDDEN) == 1
    assert main(["eval", str(tmp_path), "--phases", "2", "--show-heldout"]) == 0
    out = capsys.readouterr().out
    assert out.count("phase 1: missed bike_up motorcycle 2.35s") == 2 and HELDOUT_HIDDEN not in out
