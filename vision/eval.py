"""Event-level evaluation of zone rules against labelled cases (`sharpeyes eval CASES_DIR`).

A case is a folder with `camera.yaml` (one camera) and `truth.json`:
`{"clip", "duration_s", "tolerance_s", "events": [{"zone", "event", "label", "alt_labels"?, "first_seen_s",
"end_s", "hard"?}], "kind", "split", "max_seconds"?}` (max_seconds: only that much of the clip is labelled and
analysed; kind: "real" footage or "composed" (synthetic, exact truth); split: "dev" (tuned on) or "heldout"
(only measured); "occupancy"?: vehicle counts per parking zone, vision/eval_occupancy.py).
A predicted event matches a truth event of the same zone and event whose label (or one of
its alt_labels) it carries, when their [first_seen_s, end_s] intervals overlap with temporal IoU >= 0.3; the
truth interval is widened by tolerance_s on each side for the intersection. Each truth event matches once, so
a duplicate event from a broken track is a false positive. A `hard` truth event that is missed is not counted
as a miss (found, it counts as a hit).

Duplicate alerts: an unmatched predicted event of the same zone and event that overlaps (within tolerance_s) a
truth event already matched is a duplicate of that visit (a broken track, a visit split in two); reported per
matched truth event. A case whose clip is missing (a machine without ../shared) is skipped with a warning.
Results are reported per case and per group: real, composed, dev, heldout, and all together.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vision import eval_occupancy as occupancy
from vision.base import Detector
from vision.errors import ConfigError
from vision.perturb import Perturb

MIN_TIOU = 0.3
KINDS = ("real", "composed")
SPLITS = ("dev", "heldout")

log = logging.getLogger(__name__)


@dataclass
class CaseResult:
    name: str
    kind: str = "real"
    split: str = "dev"
    tp: int = 0
    fp: int = 0
    fn: int = 0
    start_errors: list[float] = field(default_factory=list)
    end_errors: list[float] = field(default_factory=list)
    false_positives: list[dict[str, Any]] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0           # predicted events repeating a visit already matched
    seconds: float = 0.0
    occupancy: dict[str, list[float]] = field(default_factory=dict)   # "case/zone" -> |count errors|

    @property
    def duplicates_per_visit(self) -> float:
        return self.duplicates / self.tp if self.tp else 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        def mean(v: list[float]) -> float | None:
            return round(sum(v) / len(v), 2) if v else None

        return {"case": self.name, "kind": self.kind, "split": self.split, "tp": self.tp, "fp": self.fp,
                "fn": self.fn,
                "precision": round(self.precision, 3), "recall": round(self.recall, 3), "f1": round(self.f1,
                                                                                                    3),
                "duplicates": self.duplicates, "duplicates_per_visit": round(self.duplicates_per_visit, 3),
                "mean_start_error_s": mean(self.start_errors), "mean_end_error_s": mean(self.end_errors),
                "seconds": round(self.seconds, 1),
                "occupancy_mae": {z: occupancy.mae(e) for z, e in self.occupancy.items()},
                "occupancy_mae_all": occupancy.mae([x for e in self.occupancy.values() for x in e])}


def temporal_iou(pred: tuple[float, float], truth: tuple[float, float], tolerance: float) -> float:
    """IoU of two [start, end] intervals; the truth is widened by `tolerance` for the intersection only.

    Instantaneous events (line crossings) match when they are within `tolerance` of each other."""
    inter = min(pred[1], truth[1] + tolerance) - max(pred[0], truth[0] - tolerance)
    union = max(pred[1], truth[1]) - min(pred[0], truth[0])
    if inter < 0:
        return 0.0
    if union <= 1e-9 or pred[1] - pred[0] <= 1e-9 or truth[1] - truth[0] <= 1e-9:
        return 1.0  # an instant (a line crossing) within the tolerance of the other
    return min(1.0, inter / union)


def match_events(predicted: list[dict[str, Any]], truth: dict[str, Any], name: str = "") -> CaseResult:
    """Greedy one-to-one matching by temporal IoU (best pairs first)."""
    tol = float(truth.get("tolerance_s", 2.0))
    events = truth.get("events", [])
    pairs = []
    for i, p in enumerate(predicted):
        for j, tr in enumerate(events):
            labels = {tr["label"], *tr.get("alt_labels", [])}
            if p["zone"] != tr["zone"] or p["event"] != tr["event"] or p["label"] not in labels:
                continue
            end = p["end_s"] if p["end_s"] is not None else p["start_s"]
            iou = temporal_iou((p["first_seen_s"], end), (tr["first_seen_s"], tr["end_s"]), tol)
            if iou >= MIN_TIOU:
                pairs.append((iou, i, j))
    res = CaseResult(name)
    used_p: set[int] = set()
    used_t: set[int] = set()
    for _, i, j in sorted(pairs, reverse=True):
        if i in used_p or j in used_t:
            continue
        used_p.add(i)
        used_t.add(j)
        res.tp += 1
        res.start_errors.append(abs(predicted[i]["first_seen_s"] - events[j]["first_seen_s"]))
        res.end_errors.append(abs((predicted[i]["end_s"] or 0.0) - events[j]["end_s"]))
    matched = [events[j] for j in used_t]
    for i, p in enumerate(predicted):
        if i not in used_p:
            res.fp += 1
            res.false_positives.append(p)
            if any(_repeats(p, tr, tol) for tr in matched):
                res.duplicates += 1
    for j, tr in enumerate(events):
        if j not in used_t and not tr.get("hard", False):
            res.fn += 1
            res.misses.append(tr)
    return res


def _repeats(p: dict[str, Any], truth_event: dict[str, Any], tol: float) -> bool:
    """Whether predicted event p is about the same visit as a truth event: same zone and event, and its
    interval meets the truth interval widened by `tol`."""
    if p["zone"] != truth_event["zone"] or p["event"] != truth_event["event"]:
        return False
    end = p["end_s"] if p["end_s"] is not None else p["start_s"]
    return bool(end >= truth_event["first_seen_s"] - tol and p["first_seen_s"] <= truth_event["end_s"] + tol)


def case_clip(case: Path, truth: dict[str, Any]) -> Path | None:
    """The clip a case analyses: its camera's detect sub-stream when the config names one (what the camera's
    pipeline watches; the truth's clip is then the main stream it was labelled on), else the clip the truth
    names (None: the camera config's own source). The config is read as the pipeline reads it (load_config):
    a mistake in it is a ConfigError naming the file and the key, not a case measured on the wrong stream."""
    from vision.config import load_config, resolve_source

    cam = next(iter(load_config(case / "camera.yaml").cameras.values()))
    if cam.detect_source:
        return Path(resolve_source(case / "camera.yaml", cam.detect_source))
    return case / truth["clip"] if truth.get("clip") else None


def find_cases(root: str | Path, split: str | None = None, kind: str | None = None) -> list[Path]:
    """Case folders under `root` (or `root` itself), of the given split and kind when named. A case whose
    clip is missing is skipped with a warning naming the clip."""
    root = Path(root)
    if (root / "truth.json").is_file():
        cases = [root]
    else:
        cases = sorted(p.parent for p in root.glob("*/truth.json"))
    if not cases:
        raise ConfigError(f"{root}: no cases (folders with camera.yaml and truth.json) found")
    out = []
    for case in cases:
        truth = load_truth(case)
        if (split is not None and truth["split"] != split) or (kind is not None and truth["kind"] != kind):
            continue
        clip = case_clip(case, truth)
        if clip is not None and not clip.exists():
            log.warning("case %s skipped: its clip %s is not here (%s)", case.name, clip.name,
                        clip.resolve())
            continue
        out.append(case)
    return out


def load_truth(case: Path) -> dict[str, Any]:
    path = case / "truth.json"
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read truth ({exc})") from None
    truth.setdefault("kind", "composed" if Path(str(truth.get("clip", ""))).name.startswith("composed_")
                     else "real")
    truth.setdefault("split", "dev")
    if truth["kind"] not in KINDS:
        raise ConfigError(f"{path}: kind {truth['kind']!r} is not one of {', '.join(KINDS)}")
    if truth["split"] not in SPLITS:
        raise ConfigError(f"{path}: split {truth['split']!r} is not one of {', '.join(SPLITS)}")
    for k, ev in enumerate(truth.get("events", [])):
        missing = [key for key in ("zone", "event", "label", "first_seen_s", "end_s") if key not in ev]
        if missing:
            raise ConfigError(f"{path}: events[{k}] lacks {', '.join(missing)}")
    occupancy.check(truth, str(path))
    return truth


def case_detector(case: Path, model: str | Path, **settings: Any) -> Detector:
    """The case's own detector section with another model file (`sharpeyes eval --model`)."""
    from vision.config import load_config
    from vision.detectors import create_detector

    cam = next(iter(load_config(case / "camera.yaml").cameras.values()))
    return create_detector({**(cam.detector or {}), **settings, "model": str(Path(model).resolve())},
                           base_dir=case)


def run_case(case: Path, detector: Detector | None = None, naive: bool = False,
             events_path: Path | None = None, model: str | Path | None = None,
             confirm: str | Path | None = None, phase: int = 0,
             perturb: Perturb | None = None) -> tuple[CaseResult, list[dict[str, Any]]]:
    """One case; `phase`: the clip's first `phase` source frames left out, their times kept (its truth still
    holds), so the camera samples the scene at another phase (vision/eval_phases.py); `perturb`: its frames
    as another camera would deliver them (vision/perturb.py; a time in % is of the truth's duration_s)."""
    from vision.analyze import analyze_clip

    if detector is None and model is not None:
        detector = case_detector(case, model)
    truth = load_truth(case)
    clip = case_clip(case, truth)
    limit = truth.get("max_seconds")  # a case may label only the first part of a clip
    result = analyze_clip(case / "camera.yaml", clip, detector=detector, naive=naive, events_path=events_path,
                          media=False, max_seconds=float(limit) if limit is not None else None,
                          confirm_model=Path(confirm).resolve() if confirm is not None else None,
                          skip_frames=phase,
                          perturb=perturb.resolved(truth.get("duration_s")) if perturb is not None else None)
    if result.first_t > 0:   # what began before the first frame looked at cannot be seen to begin: hard
        truth = {**truth, "events": [{**ev, "hard": True} if ev["first_seen_s"] <= result.first_t else ev
                                     for ev in truth.get("events", [])]}
    res = match_events(result.records, truth, case.name)
    res.kind, res.split = truth["kind"], truth["split"]
    res.seconds = result.seconds
    res.occupancy = {f"{case.name}/{z}": e for z, e in occupancy.errors(truth, result.occupancy).items()}
    return res, result.records


def overall(results: list[CaseResult], name: str = "overall") -> CaseResult:
    total = CaseResult(name)
    for r in results:
        total.tp += r.tp
        total.fp += r.fp
        total.fn += r.fn
        total.duplicates += r.duplicates
        total.start_errors += r.start_errors
        total.end_errors += r.end_errors
        total.seconds += r.seconds
        total.occupancy.update(r.occupancy)
    return total


def groups(results: list[CaseResult]) -> list[CaseResult]:
    """Totals per group that has cases: real, real dev, real heldout, composed, dev, heldout; then all."""
    out = []
    for name, pick in (
        ("real", lambda r: r.kind == "real"),
        ("real dev", lambda r: r.kind == "real" and r.split == "dev"),
        ("real heldout", lambda r: r.kind == "real" and r.split == "heldout"),
        ("composed", lambda r: r.kind == "composed"),
        ("dev", lambda r: r.split == "dev"),
        ("heldout", lambda r: r.split == "heldout"),
    ):
        chosen = [r for r in results if pick(r)]
        if chosen and len(chosen) < len(results):
            out.append(overall(chosen, name))
    out.append(overall(results, "all"))
    return out


def evaluate(root: str | Path, detector: Detector | None = None, naive: bool = False, progress: bool = False,
             split: str | None = None, kind: str | None = None,
             model: str | Path | None = None, confirm: str | Path | None = None,
             perturb: Perturb | None = None) -> tuple[list[CaseResult], list[CaseResult]]:
    """Runs the cases (of the split and kind, when named); returns per-case results and the group totals
    (the last one: all of them). `model` replaces the model file of each case's detector section; `confirm`
    adds a confirming model to each; `perturb` changes every case's frames (vision/perturb.py)."""
    cases = find_cases(root, split=split, kind=kind)
    if not cases:
        raise ConfigError(
            f"{root}: no case to run (split {split or 'any'}, kind {kind or 'any'}, clips present)"
        )
    iterator: Any = cases
    if progress:
        from tqdm import tqdm

        iterator = tqdm(cases, desc="eval" + (" (naive)" if naive else ""), unit="case", leave=False)
    results = [run_case(case, detector, naive, model=model, confirm=confirm, perturb=perturb)[0]
               for case in iterator]
    return results, groups(results)


HELDOUT_HIDDEN = ("    held-out: which events were missed or false is not listed (they are only measured; "
                  "--show-heldout lists them)")


def report_lines(results: list[CaseResult], totals: list[CaseResult],
                 show_heldout: bool = False) -> list[str]:
    """The table `sharpeyes eval` prints: one row per case (with its false positives and misses; for a
    held-out case only with `show_heldout`, so measuring it does not show what to tune on it), then the
    group totals."""
    head = (
        f"{'case':<28} {'kind':<8} {'split':<7} {'tp':>3} {'fp':>3} "
        f"{'fn':>3} {'prec':>6} {'rec':>6} {'F1':>6} "
        f"{'dup/visit':>9} {'start err':>9} {'end err':>8}"
    )
    lines = [head]
    cases = {id(r) for r in results}
    for r in [*results, None, *totals]:
        if r is None:
            lines.append("-" * len(head))
            continue
        d = r.as_dict()
        kind, split = (d["kind"], d["split"]) if id(r) in cases else ("", "")
        start = d["mean_start_error_s"] if d["mean_start_error_s"] is not None else "-"
        end = d["mean_end_error_s"] if d["mean_end_error_s"] is not None else "-"
        lines.append(f"{d['case']:<28} {kind:<8} {split:<7} {d['tp']:>3} {d['fp']:>3} {d['fn']:>3} "
                     f"{d['precision']:>6.3f} {d['recall']:>6.3f} "
                     f"{d['f1']:>6.3f} {d['duplicates_per_visit']:>9.3f} "
                     f"{start:>9} {end:>8}")
        if split == "heldout" and not show_heldout:
            if r.false_positives or r.misses:
                lines.append(HELDOUT_HIDDEN)
        else:
            lines += [f"    false positive: {p['zone']}/{p['event']} {p['label']} "
                      f"{p['first_seen_s']}-{p['end_s']}s" for p in r.false_positives]
            lines += [f"    missed: {m['zone']}/{m['event']} {m['label']} {m['first_seen_s']}-{m['end_s']}s"
                      for m in r.misses]
        if r.occupancy:
            zones = ", ".join(f"{z.split('/', 1)[1] if id(r) in cases else z} {occupancy.mae(e):.2f} "
                              f"({len(e)})" for z, e in r.occupancy.items())
            lines.append(f"    occupancy MAE (vehicles; samples): {zones}; all "
                         f"{d['occupancy_mae_all']:.2f}")
    return lines
