"""The line rule: crossings of a polyline by an object's bottom-centre, with direction.

A crossing counts once the bottom-centre stands clear of the line on the other side (BAND of the object's
height away from it): two people walking side by side make boxes that swap and jitter by a few pixels, so a
track whose feet are on the line can step over it and back several times in a second; it crossed once. A track
that ends while its feet are past the line but still within the band crossed too (counted when it ends, or
when the source ends while it is still tracked).

Under motion gating a track near a line may be looked at 0.2-1 s apart, and the tracker may then give a
person's box to another id: a track that comes out of another seen in the same frame (a pair's box that
parted, boxes swapped) starts from where that one was on its side (`_split`), and a track that went into
another's box as it crossed (one walker hidden behind another) crosses with it (`_carried`), a track seen
again where another lost one was heading, far from its own way, carries that one's state (`_swapped`), and a
track whose state a new one took, seen again where another vanished one was heading, takes that one's state,
so each person counts once whatever frames the camera happens to take (`sharpeyes eval --phases`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vision.boxes import bottom_centre, iou, overlap
from vision.config import LineRule
from vision.rules.base import Episode, RuleContext, ZoneRule
from vision.track import SETTLE_S, Track
from vision.tracking import DOUBLE_IOU, ID_STRIDE, beside
from vision.zones import PolygonZone, to_pixels

BAND = 0.08   # of the object's box height: how far past the line its feet must be for the crossing to count
# of a new track's box height: a new track whose feet stand this near where another track seen in the same
# frame was heading (from its sighting before) came out of it: the two were one box (a pair abreast, or one
# walker behind another), or the boxes swapped between two sightings (a walker, predicted between sightings
# under motion gating, seen again as one of the two)
FROM_GROUP = 0.5
# seconds: a crossing within this of one its twin counted (the same two-wheeler seen twice: the bicycle, and
# the bicycle with the man pushing it) is that crossing again, or its box's feet stepping back over the line
TWIN_S = 2.0


def _side(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]))


def _distance(p: np.ndarray, pts: np.ndarray) -> float:
    """Pixels from p to the nearest point of the polyline."""
    a, b = pts[:-1], pts[1:]
    ab = b - a
    u = np.clip(((p - a) * ab).sum(axis=1) / np.maximum((ab * ab).sum(axis=1), 1e-9), 0.0, 1.0)
    return float(np.sqrt((((a + u[:, None] * ab) - p) ** 2).sum(axis=1)).min())


@dataclass
class _Seen:
    """Per track: its latest sighting, and its latest sighting on the side it is counted on (`ref`): a
    crossing is judged from `ref`, so steps back and forth over the line within the band are no crossings."""

    t: float
    anchor: np.ndarray
    ref_t: float
    ref: np.ndarray
    box: np.ndarray
    label: str
    score: float
    past_t: float | None = None         # its first sighting past the line, within the band (pending)
    past: np.ndarray | None = None
    twins: frozenset[int] = frozenset()  # tracks of the same object seen twice (Track.doubles)


class Line(ZoneRule):
    """Crossings of a polyline by an object's bottom-centre, with direction; counts per label."""

    kind = "line"

    def __init__(self, cfg: LineRule, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        w, h = zone._size
        self.line = to_pixels(cfg.line, w, h)
        self.direction = cfg.direction
        self._seen: dict[int, _Seen] = {}
        self._taken: set[int] = set()  # vanished tracks a new one continued (each continues once)
        # taken tracks seen again on their own way (see _evaluate): objects of their own again, so one may
        # vanish again and be continued, or cross as it ends
        self._back: set[int] = set()
        # track id -> when it last crossed (counted, or its twin's crossing again: _twin_crossed), for TWIN_S
        self._crossed: dict[int, float] = {}
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
        # where each track was last on its side of the line before this frame (see _split)
        before = {tid: (s.ref_t, s.ref) for tid, s in self._seen.items()}
        crossers: list[Track] = []
        for tr in ctx.tracks:
            seen = self._seen.get(tr.id)
            if seen is not None and seen.t == tr.last_t:
                continue
            if seen is not None and tr.id in self._taken:
                # another track took its state (it had vanished): seen again where another vanished track
                # was heading, the tracker put its id on that one's object (`_continued`), and it does not
                # cross again from where its own object was (real_campus_walkway_line, phase 3: a walker's
                # track, put on his torso, then on the man beside him, counted that man a second time). Once
                # seen again and not so, it is asked again only when it strays from its own way (vtest_line
                # under noise: a walker found again at his own place, walking on as he was, took a vanished
                # walker's state 1.8 s later, from the other side of the line, and crossed back)
                other = None
                if tr.id not in self._back or _strayed(tr):
                    other = self._continued(tr, ctx)
                if other is not None:
                    self._taken.discard(tr.id)
                    self._back.discard(tr.id)
                    seen = other
                else:
                    self._back.add(tr.id)
            if seen is None:
                seen = self._continued(tr, ctx) or self._split(tr, ctx, before)
            else:
                seen = self._swapped(tr, ctx) or seen
            anchor = tr.anchor
            label = ctx.label(tr)
            if seen is None:
                self._seen[tr.id] = _Seen(tr.last_t, anchor, tr.last_t, anchor, tr.box.copy(), label,
                                          tr.max_score)
                continue
            seen.t, seen.anchor, seen.box = tr.last_t, anchor, tr.box.copy()
            seen.label, seen.score, seen.twins = label, tr.max_score, frozenset(tr.doubles)
            self._seen[tr.id] = seen
            crossed = self._crossing(seen.ref, anchor)
            if crossed is None:
                # on the side it is counted on (or it went round an end of the line)
                seen.ref_t, seen.ref, seen.past_t, seen.past = tr.last_t, anchor, None, None
                continue
            if _distance(anchor, self.line) < BAND * float(tr.box[3] - tr.box[1]):
                if seen.past_t is None:
                    seen.past_t, seen.past = tr.last_t, anchor
                continue   # on the line, or just past it: not yet a crossing
            if _group(tr, ctx):   # a pair's box: its walkers cross on their own tracks
                seen.ref_t, seen.ref, seen.past_t, seen.past = seen.t, seen.anchor, None, None
                continue
            ep = self._count(seen, tr.id, crossed, start=tr.last_t)
            if ep is not None:
                out.append(ep)
            crossers.append(tr)
        for g in crossers:   # after every track of the frame: a new one may have continued a vanished one
            out += self._carried(g, ctx)
        live = {tr.id for tr in ctx.tracks}
        out += self._settle([k for k in self._seen if k not in live], ctx.t)
        self._taken &= live
        self._back &= self._taken
        self._crossed = {k: v for k, v in self._crossed.items() if ctx.t - v <= 2 * TWIN_S}
        return out

    def finish(self, t: float) -> list[Episode]:
        """The source ended: every track ends now, and one whose feet are past the line within the band
        crossed it, as when a track ends."""
        out = self._settle(list(self._seen), t)
        self._taken.clear()
        self._back.clear()
        self._crossed.clear()
        return out

    def _settle(self, ended: list[int], t: float) -> list[Episode]:
        """Forget ended tracks; count those that ended past the line, within the band."""
        out = []
        for tid in ended:
            seen = self._seen.pop(tid)
            if self._spent(tid):
                continue
            crossed = self._crossing(seen.ref, seen.anchor)
            if crossed is not None:
                ep = self._count(seen, tid, crossed, start=t)
                if ep is not None:
                    out.append(ep)
        return out

    def _count(self, seen: _Seen, track_id: int, crossed: tuple[str, float], start: float) -> Episode | None:
        """Count a crossing from seen.ref to seen.anchor; the episode when it is of this rule's direction."""
        way, along = crossed
        # when the bottom-centre reached the line: between the last sighting before it and the first past it,
        # as far as it went (under motion gating the sightings may be a second or more apart)
        end_t = seen.t
        if seen.past_t is not None and seen.past is not None:
            first = self._crossing(seen.ref, seen.past)
            if first is not None:
                end_t, along = seen.past_t, first[1]
        at = seen.ref_t + along * (end_t - seen.ref_t)
        seen.ref_t, seen.ref, seen.past_t, seen.past = seen.t, seen.anchor, None, None
        if not self.accepts(seen.label, seen.score):
            return None
        twin = self._twin_crossed(seen, at)
        self._crossed[track_id] = at   # the object's crossing, counted on whichever of its tracks came first
        if twin:
            return None
        per = self.counts.setdefault(seen.label, {"left_to_right": 0, "right_to_left": 0})
        per[way] += 1  # both ways are counted; only the configured one raises events
        if self.direction != "any" and way != self.direction:
            return None
        return Episode(key=self._key(), label=seen.label, first_seen=at, start=start, last_t=seen.t,
                       box=seen.box, score=seen.score, track_id=track_id, count=sum(per.values()), done=True)

    def _twin_crossed(self, seen: _Seen, at: float) -> bool:
        """A twin of the track (the same object seen twice) crossed, either way, within TWIN_S of `at`
        (counted, or itself the same object's crossing again): this one is the same object's. On
        real_street_bicycles_line_small at night, with noise, a pushed bicycle's two tracks each crossed down,
        and the smaller box's feet stepped back up over the line and down again: four counts for one."""
        return any(abs(at - self._crossed.get(tid, -np.inf)) <= TWIN_S for tid in seen.twins)

    def _carried(self, g: Track, ctx: RuleContext) -> list[Episode]:
        """Tracks that went into `g`'s box as it crossed: one not seen since before this frame (within
        1.5 s) whose box, moved to where its own motion was heading, is mostly (0.6) inside `g`'s box now,
        with its feet past the line (a walker behind another, both seen as one box from there on), crossed
        with it, dated by its own motion; its place is taken to be that one, so it does not count again when
        it is seen there."""
        out: list[Episode] = []
        label = ctx.label(g)
        for other in ctx.tracks:
            seen = self._seen.get(other.id)
            if other.id == g.id or seen is None or self._spent(other.id) or seen.label != label \
                    or not 0 < g.last_t - other.last_t <= 1.5:
                continue   # (a taken one continues as another track)
            heading = _heading(other, g.last_t)
            if not _mostly_inside(seen.box + np.tile(heading - seen.anchor, 2), g.box):
                continue
            crossed = self._crossing(seen.ref, heading)
            if crossed is None:
                continue
            moved = _Seen(g.last_t, heading, seen.ref_t, seen.ref, seen.box, seen.label, seen.score,
                          twins=seen.twins)
            ep = self._count(moved, other.id, crossed, start=g.last_t)
            seen.ref_t, seen.ref, seen.anchor, seen.past_t, seen.past = g.last_t, heading, heading, None, None
            if ep is not None:
                out.append(ep)
        return out

    def _swapped(self, tr: Track, ctx: RuleContext) -> _Seen | None:
        """The state of a track not seen in this frame (within 1.5 s) when this one, seen again, stands where
        that one was heading (within FROM_GROUP of its height) and more than its height from where it was
        heading itself, three times as far: the tracker gave this id the other object's box (on
        campus_line_fast a girl's track, heading west, was put on the next girl 100 px back east as she
        crossed; her crossing was lost)."""
        h = float(tr.box[3] - tr.box[1])
        own = _off_own_way(tr)
        if own is None or own <= h:
            return None
        now = {g.id for g in ctx.tracks if g.last_t == tr.last_t}
        label = ctx.label(tr)
        for other in ctx.tracks:
            seen = self._seen.get(other.id)
            if other.id == tr.id or other.id in now or seen is None or self._spent(other.id) \
                    or seen.label != label or not 0 < tr.last_t - other.last_t <= 1.5:
                continue
            d = float(np.linalg.norm(tr.anchor - _heading(other, tr.last_t)))
            if d <= FROM_GROUP * h and 3 * d < own:
                self._taken.add(other.id)
                self._back.discard(other.id)
                return replace(seen)
        return None

    def _continued(self, tr: Track, ctx: RuleContext) -> _Seen | None:
        """The state of a track that vanished just before this new one appeared near where it was heading:
        under motion gating a walker can get a new id between two sightings, and the crossing is between
        them. A track seen in this frame did not vanish (whether or not this rule has looked at it yet in
        this frame). Only a track of the same family (as the tracker links): a 'horse' box of a walker's
        legs is no walker. Near where it was heading, not where it was: a walker seen again 60 px behind
        where another walker, who had crossed, was last seen is not that one (real_campus_walkway_line_small,
        phase 3, lost a crossing so)."""
        h = float(tr.box[3] - tr.box[1])
        best, best_d = None, max(h, 16.0) * 1.2
        now = {g.id for g in ctx.tracks if g.last_t == tr.last_t}
        tracks = {g.id: g for g in ctx.tracks}
        for tid, seen in self._seen.items():
            if tid == tr.id or self._spent(tid) or tid in now or not 0 < tr.last_t - seen.t <= 1.5 \
                    or tid // ID_STRIDE != tr.id // ID_STRIDE:
                continue
            other = tracks.get(tid)
            was = seen.anchor if other is None else _heading(other, tr.last_t)
            d = float(np.linalg.norm(was - tr.anchor))
            if d < best_d:
                best, best_d = tid, d
        if best is None:
            return None
        self._taken.add(best)
        self._back.discard(best)
        return replace(self._seen[best])

    def _split(self, tr: Track, ctx: RuleContext,
               before: dict[int, tuple[float, np.ndarray]]) -> _Seen | None:
        """A new track that comes out of a track seen in the same frame starts where that one was last on its
        side of the line: each counts once. It comes out of it when it is inside its box, a group's (two
        people abreast seen as one, then apart), or stands where that track was heading (FROM_GROUP) while
        that track is seen elsewhere: the group split, or the two swapped, between two sightings (under
        motion gating they may be most of a second apart, and the group's box is then one of them)."""
        for g in ctx.tracks:
            ref = before.get(g.id)
            if g.id == tr.id or ref is None or g.last_t != tr.last_t or ctx.label(g) != ctx.label(tr):
                continue
            if not (_inside_group(tr.box, g.box) or _came_from(tr, g)):
                continue
            return _Seen(tr.last_t, tr.anchor, ref[0], ref[1].copy(), tr.box.copy(), ctx.label(tr),
                         tr.max_score)
        return None

    def _spent(self, tid: int) -> bool:
        """Another track took this vanished track's state and it was not seen again on its own way."""
        return tid in self._taken and tid not in self._back

    def state_size(self) -> int:
        return len(self._seen) + len(self._taken) + len(self._crossed)


def _group(tr: Track, ctx: RuleContext) -> bool:
    """The track's box now is a group's: it holds (each mostly, 0.6) the boxes of two or more other tracks of
    its label seen in this frame, apart from each other (overlapping less than DOUBLE_IOU). Its crossing is
    theirs, not another walker's: on campus_line_fast at phase 1 a girl's double track, lost 2.6 s, came back
    on the box of her and her friend as they crossed, both tracked and counted there (a third count)."""
    label = ctx.label(tr)
    held = [g.box for g in ctx.tracks if g.id != tr.id and g.last_t == tr.last_t and ctx.label(g) == label
            and _mostly_inside(g.box, tr.box)]
    return any(iou(a, b) < DOUBLE_IOU for k, a in enumerate(held) for b in held[k + 1:])


def _inside_group(box: np.ndarray, group: np.ndarray) -> bool:
    """The box is one of two objects side by side seen as one `group` box, and mostly inside it."""
    return beside(box, group) and _mostly_inside(box, group)


def _mostly_inside(box: np.ndarray, group: np.ndarray) -> bool:
    """At least 0.6 of the box lies inside the `group` box (plain floats: vision.boxes.overlap)."""
    inter, own, _ = overlap(box.tolist(), group.tolist())
    return inter >= 0.6 * own


def _came_from(tr: Track, g: Track) -> bool:
    """A new track stands where `g` was heading from its sighting before this frame (within FROM_GROUP of the
    new box's height), while `g` is seen now somewhere else (boxes that overlap less than DOUBLE_IOU)."""
    hist = [t for t, _ in g.history if t < g.last_t - 1e-9]
    if not hist or g.last_t - hist[-1] > 1.5 or iou(tr.box, g.box) >= DOUBLE_IOU:
        return False
    heading = _heading(g, g.last_t, before=g.last_t)
    return float(np.linalg.norm(tr.anchor - heading)) <= FROM_GROUP * float(tr.box[3] - tr.box[1])


def _off_own_way(tr: Track) -> float | None:
    """Pixels from the track's feet now to where its own motion was heading (from its sightings before this
    one); None when it has none before."""
    if not any(s < tr.last_t - 1e-9 for s, _ in tr.history):
        return None
    return float(np.linalg.norm(tr.anchor - _heading(tr, tr.last_t, before=tr.last_t)))


def _strayed(tr: Track) -> bool:
    """The tracker may have put the track's id on another object: it was not seen for over a second before
    this sighting (on campus_line_small at night a walker's track lost 2.4 s came back on the next walker,
    0.46 of a height from its last place), or its feet now stand more than FROM_GROUP of its height from where
    its own motion was heading."""
    before = [s for s, _ in tr.history if s < tr.last_t - 1e-9]
    off = _off_own_way(tr)
    return off is None or tr.last_t - before[-1] > 1.0 or off > FROM_GROUP * float(tr.box[3] - tr.box[1])


def _heading(track: Track, t: float, before: float | None = None) -> np.ndarray:
    """Where the track's feet were heading at `t`: from its last sighting before `before` (default: its
    last), moving as it did over the SETTLE_S (or more) before that sighting."""
    hist = [(s, b) for s, b in track.history if before is None or s < before - 1e-9]
    t1, b1 = hist[-1]
    p1 = bottom_centre(b1)
    older = [(s, b) for s, b in hist if s <= t1 - SETTLE_S + 1e-6]
    if not older:
        return p1
    t0, b0 = older[-1]
    return p1 + (p1 - bottom_centre(b0)) / (t1 - t0) * (t - t1)

