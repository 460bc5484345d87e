"""Event-level evaluation of zone rules against labelled cases (`sharpeyes eval CASES_DIR`).

A case is a folder with `camera.yaml` (one camera) and `truth.json`:
`{"clip", "duration_s", "tolerance_s", "events": [{"zone", "event", "label", "alt_labels"?, "first_seen_s",
"end_s", "hard"?}], "max_seconds"?}` (max_seconds: only that much of the clip is labelled and analysed). A predicted event matches a truth event of the same zone and event whose label (or one of
its alt_labels) it carries, when their [first_seen_s, end_s] intervals overlap with temporal IoU >= 0.3; the
truth interval is widened by tolerance_s on each side for the intersection. Each truth event matches once, so
a duplicate event from a broken track is a false positive. A `hard` truth event that is missed is not counted
as a miss (found, it counts as a hit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vision.base import Detector
from vision.errors import ConfigError

MIN_TIOU = 0.3


@dataclass
class CaseResult:
    name: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    start_errors: list[float] = field(default_factory=list)
    end_errors: list[float] = field(default_factory=list)
    false_positives: list[dict[str, Any]] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

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

        return {"case": self.name, "tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": round(self.precision, 3), "recall": round(self.recall, 3), "f1": round(self.f1, 3),
                "mean_start_error_s": mean(self.start_errors), "mean_end_error_s": mean(self.end_errors),
                "seconds": round(self.seconds, 1)}


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
    for i, p in enumerate(predicted):
        if i not in used_p:
            res.fp += 1
            res.false_positives.append(p)
    for j, tr in enumerate(events):
        if j not in used_t and not tr.get("hard", False):
            res.fn += 1
            res.misses.append(tr)
    return res


def find_cases(root: str | Path) -> list[Path]:
    root = Path(root)
    if (root / "truth.json").is_file():
        return [root]
    cases = sorted(p.parent for p in root.glob("*/truth.json"))
    if not cases:
        raise ConfigError(f"{root}: no cases (folders with camera.yaml and truth.json) found")
    return cases


def load_truth(case: Path) -> dict[str, Any]:
    path = case / "truth.json"
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read truth ({exc})") from None
    for k, ev in enumerate(truth.get("events", [])):
        missing = [key for key in ("zone", "event", "label", "first_seen_s", "end_s") if key not in ev]
        if missing:
            raise ConfigError(f"{path}: events[{k}] lacks {', '.join(missing)}")
    return truth


def run_case(case: Path, detector: Detector | None = None, naive: bool = False,
             events_path: Path | None = None) -> tuple[CaseResult, list[dict[str, Any]]]:
    from vision.pipeline import analyze_clip

    truth = load_truth(case)
    clip = case / truth["clip"] if truth.get("clip") else None
    limit = truth.get("max_seconds")  # a case may label only the first part of a clip
    result = analyze_clip(case / "camera.yaml", clip, detector=detector, naive=naive, events_path=events_path,
                          media=False, max_seconds=float(limit) if limit is not None else None)
    res = match_events(result.records, truth, case.name)
    res.seconds = result.seconds
    return res, result.records


def overall(results: list[CaseResult]) -> CaseResult:
    total = CaseResult("overall")
    for r in results:
        total.tp += r.tp
        total.fp += r.fp
        total.fn += r.fn
        total.start_errors += r.start_errors
        total.end_errors += r.end_errors
        total.seconds += r.seconds
    return total


def evaluate(root: str | Path, detector: Detector | None = None, naive: bool = False,
             progress: bool = False) -> tuple[list[CaseResult], CaseResult]:
    cases = find_cases(root)
    iterator: Any = cases
    if progress:
        from tqdm import tqdm

        iterator = tqdm(cases, desc="eval" + (" (naive)" if naive else ""), unit="case", leave=False)
    results = [run_case(case, detector, naive)[0] for case in iterator]
    return results, overall(results)
