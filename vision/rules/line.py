"""The line rule: crossings of a polyline by an object's bottom-centre, with direction."""

from __future__ import annotations

import numpy as np

from vision.config import LineRule
from vision.rules.base import Episode, RuleContext, ZoneRule
from vision.tracking import Track
from vision.zones import PolygonZone, to_pixels


def _side(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]))


class Line(ZoneRule):
    """Crossings of a polyline by an object's bottom-centre, with direction; counts per label."""

    kind = "line"

    def __init__(self, cfg: LineRule, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        w, h = zone._size
        self.line = to_pixels(cfg.line, w, h)
        self.direction = cfg.direction
        self._last: dict[int, tuple[float, np.ndarray]] = {}
        self._taken: set[int] = set()  # vanished tracks a new one continued (each continues once)
        self.counts: dict[str, dict[str, int]] = {}

    def _crossing(self, p: np.ndarray, q: np.ndarray) -> tuple[str, float] | None:
        """The way from p to q crosses the line, and how far along p -> q it does (0..1), or None."""
        for a, b in zip(self.line[:-1], self.line[1:], strict=True):
            s1, s2 = _side(p, a, b), _side(q, a, b)
            t1, t2 = _side(a, p, q), _side(b, p, q)
            # a point on the line counts as its right side, so touching it and going back is not a crossing
            if (s1 >= 0) != (s2 >= 0) and t1 * t2 <= 0:
                # image y points down: a positive side value is to the walker's right
                way = "left_to_right" if s1 < 0 else "right_to_left"
                return way, float(np.clip(s1 / (s1 - s2), 0.0, 1.0)) if s1 != s2 else 1.0
        return None

    def _evaluate(self, ctx: RuleContext) -> list[Episode]:
        out: list[Episode] = []
        for tr in ctx.tracks:
            prev = self._last.get(tr.id)
            if prev is not None and prev[0] == tr.last_t:
                continue
            self._last[tr.id] = (tr.last_t, tr.anchor)
            if prev is None:
                prev = self._continued(tr)
            if prev is None:
                continue
            label = ctx.label(tr)
            if not self.accepts(label, tr.max_score):
                continue
            crossed = self._crossing(prev[1], tr.anchor)
            if crossed is None:
                continue
            way, along = crossed
            per = self.counts.setdefault(label, {"left_to_right": 0, "right_to_left": 0})
            per[way] += 1  # both ways are counted; only the configured one raises events
            if self.direction != "any" and way != self.direction:
                continue
            # when the bottom-centre reached the line: between the two sightings, as far as it went (under
            # motion gating the sightings may be a second or more apart; the event fires at the second one)
            at = prev[0] + along * (tr.last_t - prev[0])
            out.append(Episode(key=self._key(), label=label, first_seen=at, start=tr.last_t,
                               last_t=tr.last_t,
                               box=tr.box.copy(), score=tr.max_score, track_id=tr.id, count=sum(per.values()),
                               done=True))
        live = {tr.id for tr in ctx.tracks}
        for tid in [k for k in self._last if k not in live]:
            del self._last[tid]
        self._taken &= live
        return out

    def _continued(self, tr: Track) -> tuple[float, np.ndarray] | None:
        """The last sighting of a track that vanished just before this new one appeared near it: under
        motion gating a walker can get a new id between two sightings, and the crossing is between them."""
        h = float(tr.box[3] - tr.box[1])
        best, best_d = None, max(h, 16.0) * 1.2
        for tid, (lt, anchor) in self._last.items():
            if tid == tr.id or tid in self._taken or not 0 < tr.last_t - lt <= 1.5:
                continue
            d = float(np.linalg.norm(anchor - tr.anchor))
            if d < best_d:
                best, best_d = tid, d
        if best is None:
            return None
        self._taken.add(best)
        return self._last[best]

    def state_size(self) -> int:
        return len(self._last) + len(self._taken)
