"""Service points (志愿者积分): an append-only, hash-chained ledger per person.

Entries are never edited nor deleted; a correction is a new entry. The api stores each returned entry as a
row and rebuilds the ledger from the rows (`Ledger(rows)` checks the chain, so an edited row is caught).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from patrol.errors import PatrolError
from patrol.policy import PointsRules, default_policy

GENESIS = "0" * 64


@dataclass(frozen=True)
class PointsEntry:
    seq: int
    person: str
    delta: int               # + earned, - redeemed
    kind: str                # task_resolved | patrol_hours | checkin | redemption | adjustment
    ref: str                 # incident id, patrol/shift id, checkpoint, item
    at: datetime
    note: str
    prev_hash: str
    hash: str

    @staticmethod
    def digest(seq: int, person: str, delta: int, kind: str, ref: str, at: datetime, note: str,
               prev: str) -> str:
        body = json.dumps([seq, person, delta, kind, ref, at.isoformat(), note, prev], ensure_ascii=False)
        return hashlib.sha256(body.encode()).hexdigest()


class Ledger:
    """Balances, history, awards and redemptions; only ever appended to."""

    def __init__(self, entries: Iterable[PointsEntry] = (), rules: PointsRules | None = None) -> None:
        self.rules = rules or default_policy().points
        self._entries: list[PointsEntry] = []
        self._balance: dict[str, int] = {}
        prev = GENESIS
        for i, e in enumerate(entries):
            want = PointsEntry.digest(e.seq, e.person, e.delta, e.kind, e.ref, e.at, e.note, prev)
            if e.seq != i or e.prev_hash != prev or e.hash != want:
                raise PatrolError(
                    f"points ledger: entry {i} (seq {e.seq}, {e.person}) was altered or is out of "
                    "order; restore it from the backup, never edit entries"
                )
            self._add(e)
            prev = e.hash

    def _add(self, e: PointsEntry) -> None:
        self._entries.append(e)
        self._balance[e.person] = self._balance.get(e.person, 0) + e.delta

    def append(self, person: str, delta: int, kind: str, ref: str, at: datetime,
               note: str = "") -> PointsEntry:
        prev = self._entries[-1].hash if self._entries else GENESIS
        seq = len(self._entries)
        e = PointsEntry(seq, person, int(delta), kind, ref, at, note,
                        prev, PointsEntry.digest(seq, person, int(delta), kind, ref, at, note, prev))
        self._add(e)
        return e

    @property
    def entries(self) -> Sequence[PointsEntry]:
        return tuple(self._entries)

    def balance(self, person: str) -> int:
        return self._balance.get(person, 0)

    def history(self, person: str) -> list[PointsEntry]:
        return [e for e in self._entries if e.person == person]

    # --- rules --------------------------------------------------------------------------------------------
    def award_task(self, people: Iterable[str], incident_id: str, severity: int, in_time: bool,
                   at: datetime) -> list[PointsEntry]:
        r = self.rules
        pts = (
            r.task_resolved
            + r.severity_bonus * max(0, severity - 1)
            + (r.resolved_in_time_bonus if in_time else 0)
        )
        note = f"resolved, severity {severity}" + (", within deadline" if in_time else "")
        return [self.append(p, pts, "task_resolved", incident_id, at, note) for p in people]

    def award_patrol(self, people: Iterable[str], hours: float, ref: str, at: datetime) -> list[PointsEntry]:
        full = int(hours)
        if full <= 0:
            return []
        return [self.append(p, self.rules.patrol_hour * full, "patrol_hours", ref, at,
                            f"{full} h routine patrol")
                for p in people]

    def award_checkin(self, person: str, checkpoint: str, at: datetime) -> PointsEntry:
        return self.append(person, self.rules.checkin, "checkin", checkpoint, at, "checkpoint check-in")

    def redeem(self, person: str, points: int, item: str, at: datetime) -> PointsEntry:
        if points <= 0:
            raise PatrolError(f"redeem: points must be > 0, got {points}")
        if self.balance(person) < points:
            raise PatrolError(
                f"redeem: {person} has {self.balance(person)} points, {points} needed for '{item}'"
            )
        return self.append(person, -points, "redemption", item, at, f"exchanged for {item}")
