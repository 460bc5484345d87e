"""Occupancy against a count labelled by eye (`sharpeyes eval`, docs/evaluation.md).

truth.json may carry `"occupancy": {"every_s": 10, "zones": {"near_row": [5, 5, 4], ...}}`: the vehicles in
each zone at t = 0, every_s, 2 x every_s, ... (seconds from the clip start). The pipeline's count for a label
is the occupancy rule's count at the frame nearest that time; the error is their absolute difference.
"""

from __future__ import annotations

from typing import Any

from vision.errors import ConfigError


def check(truth: dict[str, Any], where: str) -> None:
    occ = truth.get("occupancy")
    if occ is None:
        return
    if not isinstance(occ, dict) or set(occ) != {"every_s", "zones"} or not isinstance(occ["zones"], dict):
        raise ConfigError(f"{where}: occupancy must be {{'every_s': seconds, 'zones': {{zone: [counts]}}}}")
    if not isinstance(occ["every_s"], int | float) or occ["every_s"] <= 0:
        raise ConfigError(f"{where}: occupancy.every_s must be a positive number of seconds")
    for zone, counts in occ["zones"].items():
        if not isinstance(counts, list) or not all(isinstance(c, int) and c >= 0 for c in counts):
            raise ConfigError(f"{where}: occupancy.zones.{zone} must be a list of counts (integers >= 0)")


def errors(truth: dict[str, Any], frames: dict[str, list[tuple[float, int]]]) -> dict[str, list[float]]:
    """Zone -> absolute errors, one per labelled time (a zone without an occupancy rule: ConfigError)."""
    occ = truth.get("occupancy")
    if not occ:
        return {}
    out: dict[str, list[float]] = {}
    for zone, counts in occ["zones"].items():
        series = frames.get(zone)
        if not series:
            raise ConfigError(f"occupancy is labelled for zone {zone!r}, which has no occupancy rule")
        errs = []
        for i, want in enumerate(counts):
            t = i * float(occ["every_s"])
            _, got = min(series, key=lambda s: abs(s[0] - t))
            errs.append(float(abs(got - want)))
        out[zone] = errs
    return out


def mae(errs: list[float]) -> float | None:
    return round(sum(errs) / len(errs), 3) if errs else None
