"""`sharpeyes eval --phases K`: each case run K times at K sampling phases of its clip.

A camera's frames fall at an arbitrary phase of what happens in front of it, and the pipeline looks at some of
them (the detect fps, a line camera's line_fps): one run of a clip is one phase. Run k (0 <= k < K) leaves the
clip's first k source frames out, their times kept (so the truth still applies), and the source and the
pipeline sample the rest as they always do, from the first frame taken (vision/sources_file.py `skip`,
gating.Cadence). A truth event that begins at or before the first frame taken cannot be seen to begin: in that
run it is `hard` (missed, it is not counted). Reported per case: tp / fp / fn / duplicates summed over the
phases, and the worst phase (most misses and false positives); per group (as `eval`'s): the sums, and the
worst phases of its cases together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vision.errors import ConfigError
from vision.eval import HELDOUT_HIDDEN, CaseResult, find_cases, groups, overall, run_case
from vision.perturb import Perturb

Groups = list[tuple[str, CaseResult, CaseResult]]   # name, sums over the phases, the worst phases together


@dataclass
class PhaseResult:
    """One case at each phase: runs[k] left out the clip's first k source frames."""

    name: str
    kind: str = "real"
    split: str = "dev"
    runs: list[CaseResult] = field(default_factory=list)

    @property
    def total(self) -> CaseResult:
        res = overall(self.runs, self.name)
        res.kind, res.split = self.kind, self.split
        return res

    @property
    def worst_phase(self) -> int:
        """The phase with the most misses and false positives (then duplicates; the first of equals)."""
        return min(range(len(self.runs)), key=lambda k: (-(self.runs[k].fn + self.runs[k].fp),
                                                         -self.runs[k].duplicates, k))

    @property
    def worst(self) -> CaseResult:
        res = overall([self.runs[self.worst_phase]], self.name)
        res.kind, res.split = self.kind, self.split
        return res

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.name, "kind": self.kind, "split": self.split, "phases": len(self.runs),
                "sum": _counts(self.total), "worst_phase": self.worst_phase, "worst": _counts(self.worst),
                "per_phase": [_counts(r) for r in self.runs]}


def _counts(r: CaseResult) -> dict[str, Any]:
    return {"tp": r.tp, "fp": r.fp, "fn": r.fn, "duplicates": r.duplicates,
            "precision": round(r.precision, 3), "recall": round(r.recall, 3), "f1": round(r.f1, 3)}


def evaluate_phases(root: str | Path, phases: int, naive: bool = False, progress: bool = False,
                    split: str | None = None, kind: str | None = None, model: str | Path | None = None,
                    confirm: str | Path | None = None,
                    perturb: Perturb | None = None) -> tuple[list[PhaseResult], Groups]:
    """Runs the cases (as `vision.eval.evaluate` picks them) at `phases` phases each; returns per-case results
    and per group (name, sums over the phases, the worst phases together), the last one all of them."""
    if phases < 1:
        raise ConfigError(f"--phases {phases}: give 1 or more (1 is the ordinary run)")
    cases = find_cases(root, split=split, kind=kind)
    if not cases:
        raise ConfigError(f"{root}: no case to run (split {split or 'any'}, kind {kind or 'any'}, "
                          "clips present)")
    jobs: Any = [(case, k) for case in cases for k in range(phases)]
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc=f"eval x{phases} phases", unit="run", leave=False)
    results: dict[Path, PhaseResult] = {}
    for case, k in jobs:
        res = run_case(case, naive=naive, model=model, confirm=confirm, phase=k, perturb=perturb)[0]
        pr = results.setdefault(case, PhaseResult(case.name, res.kind, res.split))
        pr.runs.append(res)
    out = list(results.values())
    sums, worsts = groups([p.total for p in out]), groups([p.worst for p in out])
    return out, [(s.name, s, w) for s, w in zip(sums, worsts, strict=True)]


def report_lines(results: list[PhaseResult], totals: Groups, show_heldout: bool = False) -> list[str]:
    """The table `sharpeyes eval --phases K` prints: per case the sums over its phases, the worst phase and
    how many phases erred (with each such phase's misses and false positives; for a held-out case only with
    `show_heldout`), then the groups."""
    k = len(results[0].runs) if results else 0
    head = (f"{'case':<32} {'kind':<8} {'split':<7} {'tp':>4} {'fp':>4} {'fn':>4} {'dup':>4} "
            f"{'F1':>6}  {'worst phase: tp/fp/fn/dup':<26} {'phases with errors':>18}")
    lines = [f"each case at {k} sampling phases (run k leaves out the clip's first k frames); sums over "
             "the phases", head]

    def row(name: str, kind: str, split: str, s: CaseResult, w: CaseResult, worst: str, erred: str) -> str:
        counts = f"{worst}{w.tp}/{w.fp}/{w.fn}/{w.duplicates}"
        return (f"{name:<32} {kind:<8} {split:<7} {s.tp:>4} {s.fp:>4} {s.fn:>4} {s.duplicates:>4} "
                f"{s.f1:>6.3f}  {counts:<26} {erred:>18}")

    for p in results:
        bad = [j for j, r in enumerate(p.runs) if r.fp or r.fn]
        lines.append(row(p.name, p.kind, p.split, p.total, p.worst, f"{p.worst_phase}: ", f"{len(bad)}/{k}"))
        if bad and p.split == "heldout" and not show_heldout:
            lines.append(HELDOUT_HIDDEN)
            continue
        for j in bad:
            r = p.runs[j]
            what = [f"missed {m['event']} {m['label']} {m['first_seen_s']}s" for m in r.misses]
            what += [f"false positive {f['event']} {f['label']} {f['first_seen_s']}s"
                     for f in r.false_positives]
            lines.append(f"    phase {j}: " + "; ".join(what or [f"{r.fn} missed, {r.fp} false positive(s)"]))
    lines.append("-" * len(head))
    for name, s, w in totals:
        lines.append(row(name, "", "", s, w, "", ""))
    return lines


def report_json(results: list[PhaseResult], totals: Groups) -> dict[str, Any]:
    groups_ = [{"group": name, "sum": _counts(s), "worst": _counts(w)} for name, s, w in totals]
    return {"phases": len(results[0].runs) if results else 0, "cases": [p.as_dict() for p in results],
            "groups": groups_, "overall": groups_[-1]}
