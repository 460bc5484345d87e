"""What every zone rule shares: episodes, the per-frame context, schedules, and the base classes.

Each rule is a small class: settings in `__init__`, state in the object. `evaluate(ctx)` returns the rule's
episodes active at this frame, each under a key that stays the same while the episode lasts; the event
manager turns a new key into `new`, a vanished key into `end`. Rules on tracked objects (`TrackRule`) hold
an episode through a short gap: a track that ends and a new track of the same label found again at the same
place continue the same episode, so a parked car raises one event, not one per broken track.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from vision import appearance
from vision.boxes import inside_fraction, iou
from vision.config import RuleBase
from vision.track import Track
from vision.zones import PolygonZone


@dataclass
class Episode:
    """One active occurrence of a rule: becomes one event."""

    key: str
    label: str
    first_seen: float
    start: float
    last_t: float
    box: np.ndarray
    score: float
    track_id: int | None = None
    count: int | None = None
    # track rules: most the object moved over the still window, in box sizes
    displacement: float | None = None
    embedding: np.ndarray | None = None  # track rules: what the object looks like (vision.appearance)
    # track rules: since when its place has looked unlike it, while unseen
    empty_since: float | None = None
    still: bool = False  # track rules: the object was standing still when last seen
    place: np.ndarray | None = None  # track rules: its box when the event began or a new track took it over
    seen: np.ndarray | None = None   # track rules: its track's latest box, odd or not (where last seen)
    done: bool = False  # instantaneous (line): ends in the frame it starts


@dataclass
class RuleContext:
    """What a rule sees at one frame."""

    t: float
    tracks: list[Track]
    inside: dict[int, bool]                 # track id -> in this zone (with inertia)
    class_names: list[str] | tuple[str, ...]
    seconds_of_day: float | None = None
    # BGR frame: region rules, and whether a lost object is still there
    image: np.ndarray | None = None
    # left_object: asks the detector whether an object it knows is in this box (crop at a larger scale)
    verify: Callable[[np.ndarray], bool] | None = None
    # left_object: the frame's StaticForeground.shrink, made ahead (None: the rule makes it)
    shrunk: np.ndarray | None = None
    # track id -> detector runs in a row that looked for it where it was and did not find it (unseen tracks)
    misses: Mapping[int, int] = field(default_factory=dict)

    def label(self, track: Track) -> str:
        cid = track.class_id
        return self.class_names[cid] if 0 <= cid < len(self.class_names) else "unknown"


def schedule_active(schedule: list[str], seconds_of_day: float | None) -> bool:
    """Whether any 'HH:MM-HH:MM' window (may wrap midnight) contains the time; no schedule: always."""
    if not schedule or seconds_of_day is None:
        return True
    for item in schedule:
        a, b = item.split("-")
        start = int(a[:2]) * 3600 + int(a[3:]) * 60
        end = int(b[:2]) * 3600 + int(b[3:]) * 60
        s = seconds_of_day % 86400
        if (start <= s < end) if start <= end else (s >= start or s < end):
            return True
    return False


def seconds_of_day(wall_time: float | None, clip_start: str | None, t: float) -> float | None:
    """Time of day for schedules: the frame's wall time, else the clip's start time plus t."""
    if wall_time is not None:
        d = dt.datetime.fromtimestamp(wall_time)
        return d.hour * 3600 + d.minute * 60 + d.second + d.microsecond / 1e6
    if clip_start:
        parts = [int(p) for p in clip_start.split(":")] + [0, 0]
        return (parts[0] * 3600 + parts[1] * 60 + parts[2] + t) % 86400
    d = dt.datetime.now()
    return d.hour * 3600 + d.minute * 60 + d.second


class ZoneRule:
    """Base: the schedule and per-label score thresholds every rule shares."""

    kind = ""

    def __init__(self, cfg: RuleBase, zone: PolygonZone) -> None:
        self.cfg = cfg
        self.zone = zone
        self.event = cfg.event
        self.labels = set(cfg.label_list())
        self._episodes: dict[str, Episode] = {}
        self._serial = 0

    def accepts(self, label: str, score: float) -> bool:
        if self.labels and label not in self.labels:
            return False
        return score >= self.cfg.min_scores.get(label, self.cfg.min_score)

    def _key(self) -> str:
        self._serial += 1
        return f"{self.kind}{self._serial}"

    def evaluate(self, ctx: RuleContext) -> list[Episode]:
        if not schedule_active(self.cfg.schedule, ctx.seconds_of_day):
            self.reset()
            return []
        return self._evaluate(ctx)

    def _evaluate(self, ctx: RuleContext) -> list[Episode]:
        raise NotImplementedError

    def finish(self, t: float) -> list[Episode]:
        """Episodes the end of the source settles (a line crossing still pending); most rules have none."""
        return []

    def reset(self) -> None:
        self._episodes.clear()

    def state_size(self) -> int:
        return len(self._episodes)


STILL_DRIFT = 0.3   # box sizes moved over the still window below which an object stands still
SAME_LOOK = 0.25    # appearance distance below which an unseen still object's place looks just like it


def _stands(tr: Track) -> bool:
    """Whether a track's object stands still for its episode (`Episode.still`)."""
    return tr.drift <= STILL_DRIFT and not tr.odd


def _revealed(ep: Episode, tr: Track, ctx: RuleContext) -> bool:
    """Whether a track seen now with an odd box that holds its episode's box, its object not moved over the
    still window, is that object seen whole again: someone who stood in front of a parked e-bike while
    plugging it in has walked off, and the detector's box, cut to the part he left free, grows to the whole
    e-bike. The tracker calls the grown box out of place until it has seen it a few times, and a still
    object is looked at only every few seconds: its episode takes it as standing where it stood, and
    watches its place while it is unseen (`_looks_there`) by the whole box's look (the old box's, a part of
    it, would say a place that still holds it is empty)."""
    return (tr.odd and tr.last_t == ctx.t and tr.drift <= STILL_DRIFT
            and inside_fraction(ep.box, tr.box) >= 0.9 and not np.array_equal(ep.box, tr.box))


def _found_again(ep: Episode, tr: Track, boxes: list[np.ndarray]) -> bool:
    """Whether a new track is an episode's object, its track lost, found again at its place: one of `boxes`
    (the new track's now, and where it appeared) lies there. If the object was last seen away from its
    place (its latest box, odd or not, not overlapping that by half the smaller), only where the new track
    appeared counts, at that place or where the object was last seen: a loiterer who walked out of the
    picture in less time than makes odd boxes a move (tracker ODD_S) kept his standing place, and the next
    passer-by to walk through it took his visit over, an alert that did not end. Where the new track
    appeared still counts (a tracker that gave his track to a passer-by, and him a new one where he
    stands)."""
    seen = ep.seen
    if seen is None or max(inside_fraction(seen, ep.box), inside_fraction(ep.box, seen)) >= 0.5:
        return max(iou(ep.box, b) for b in boxes) >= 0.4
    return any(max(iou(ep.box, first), iou(seen, first)) >= 0.4 for first in _first_and_now(tr)[1:])


def _first_and_now(tr: Track) -> list[np.ndarray]:
    """A track's box now and, while its history holds it, where it first appeared."""
    first = [tr.history[0][1]] if tr.history and tr.history[0][0] == tr.first_t else []
    return [tr.box, *first]


class TrackRule(ZoneRule):
    """Rules on one tracked object at a time, with episodes held through short track gaps."""

    gap_s = 2.0

    def __init__(self, cfg: RuleBase, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        # an object that leaves the zone and comes back within this is on the same visit
        self.revisit_s = float(getattr(cfg, "revisit_s", 0.0))
        self._by_track: dict[int, str] = {}  # track id -> episode key
        self._adopted: dict[str, float] = {}  # episode key -> when a new track took it over
        self._handed: dict[int, str] = {}  # lost track id -> the episode a new track took over from it

    def qualifies(self, track: Track, ctx: RuleContext) -> tuple[bool, float]:
        """(condition holds now, when the object's condition began)."""
        raise NotImplementedError

    def _evaluate(self, ctx: RuleContext) -> list[Episode]:
        t = ctx.t
        tracks = {tr.id: tr for tr in ctx.tracks}
        min_s = float(getattr(self.cfg, "min_seconds", 0.0))
        # 1. episodes whose track is still here
        for tid, key in list(self._by_track.items()):
            ep = self._episodes[key]
            tr = tracks.get(tid)
            if tr is None:
                del self._by_track[tid]  # orphaned: held until gap_s, adoptable
                continue
            if tr.last_t < t and self._gone(ep, ctx):
                del self._by_track[tid]
                ep.done = True
                continue
            inside = ctx.inside.get(tid, False)
            ok, _ = self.qualifies(tr, ctx) if inside else (False, 0.0)
            if ok or (inside and self._holds(ep, tr, ctx)):
                ep.last_t = max(ep.last_t, tr.last_t)
                revealed = _revealed(ep, tr, ctx)
                if not tr.odd or revealed:  # not while an odd box (an occlusion, a move) is the latest
                    ep.box = tr.box
                ep.score = max(ep.score, tr.max_score)
                ep.label = ctx.label(tr)
                ep.displacement = max(ep.displacement or 0.0, round(tr.drift, 3))
                if tr.last_t == t:
                    ep.empty_since = None
                    ep.seen = tr.box
                    # an odd box inside the one it had is part of it, someone passing in front: that says
                    # nothing of what it looks like or whether it stands still (it ended an e-bike's visit
                    # once the detector missed it next); one out of it is the start of a move
                    if revealed:
                        # it looks now as its whole box does, and stands where it stood
                        ep.still = True
                        ep.embedding = appearance.embed(ctx.image, tr.box) if ctx.image is not None \
                            else tr.embedding
                    elif not (tr.odd and inside_fraction(tr.box, ep.box) >= 0.9):
                        ep.still = _stands(tr)
                        if not tr.odd:
                            ep.embedding = appearance.blend(ep.embedding, tr.embedding)
                elif self._looks_there(ep, ctx):
                    ep.last_t = t
            elif not inside and t - ep.last_t <= self.revisit_s:
                pass  # out of the zone for now: the same visit if it comes back soon
            else:
                del self._by_track[tid]
                ep.done = True
        # 2. new qualifying tracks: adopt an orphaned episode at the same place, or start one
        owned = set(self._by_track)
        orphans = [ep for ep in self._episodes.values() if not ep.done and ep.track_id not in owned]
        # an episode whose track is lost (not seen now, kept by the tracker a while) is open to a track first
        # seen after it was lost, at its place (where the new track appeared, or where it is now): the same
        # object found again under a new id; and to a track that was that object seen twice (Track.doubles)
        lost = {key: tracks[tid] for tid, key in self._by_track.items() if tracks[tid].last_t < t}
        for tr in ctx.tracks:
            if tr.id in owned or tr.id in self._handed or not ctx.inside.get(tr.id, False):
                continue
            label = ctx.label(tr)
            if not self.accepts(label, tr.max_score) or not self._may_take(tr, ctx):
                continue
            ok, since = self.qualifies(tr, ctx)
            if tr.doubles and any(tid in tr.doubles and key not in lost
                                  and self._same_kind(self._episodes[key].label, label)
                                  for tid, key in self._by_track.items()):
                # the same object seen twice (Track.doubles), its other track here now (its visit not `lost`),
                # or its visit begun or handed over in this very frame (both tracks' time came up together):
                # one visit
                continue
            match = next((ep for ep in orphans if self._same_kind(ep.label, label)
                          and (_found_again(ep, tr, [tr.box]) or ep.track_id in tr.doubles)), None)
            if match is None:
                match = next((self._episodes[k] for k, old in lost.items()
                              if self._same_kind(self._episodes[k].label, label)
                              and (old.id in tr.doubles
                                   or (old.last_t < tr.first_t
                                       and _found_again(self._episodes[k], tr, _first_and_now(tr))))),
                             None)
                if match is not None and self._adoptable(tr):
                    old_id = lost.pop(match.key).id
                    del self._by_track[old_id]
                    self._handed[old_id] = match.key   # it cannot start the same visit again
                    orphans.append(match)
            if match is not None and self._adoptable(tr):
                orphans.remove(match)
                match.track_id, match.last_t, match.box, match.place = tr.id, tr.last_t, tr.box, tr.box.copy()
                match.seen = tr.box
                self._by_track[tr.id] = match.key
                self._adopted[match.key] = t
                continue
            # fires only with the latest box inside: the zone's inertia keeps an object that has just left
            # (its feet out, or cut by the frame edge) inside for a few more looks, and that is no visit
            if ok and t - since >= min_s and self.zone.contains(tr.anchor[None])[0]:
                key = self._key()
                self._episodes[key] = Episode(key=key, label=label, first_seen=since, start=t,
                                              last_t=tr.last_t,
                                              box=tr.box.copy(), score=tr.max_score, track_id=tr.id,
                                              displacement=round(tr.drift, 3), place=tr.box.copy(),
                                              seen=tr.box,
                                              # what it looked like when last seen: a track unseen as its time
                                              # comes up (a still e-bike the keep-alive missed) may be lost
                                              # next, and its place is then watched (_looks_there) by it
                                              embedding=tr.embedding, still=_stands(tr))
                self._by_track[tr.id] = key
        # 3. orphans past the gap, or whose place has been seen empty, end
        for ep in orphans:
            if self._looks_there(ep, ctx):
                ep.last_t = t
            if t - ep.last_t > self.gap_s or self._gone(ep, ctx):
                ep.done = True
        active = list(self._episodes.values())
        self._episodes = {k: ep for k, ep in self._episodes.items() if not ep.done}
        self._adopted = {k: v for k, v in self._adopted.items() if k in self._episodes}
        self._handed = {k: v for k, v in self._handed.items() if k in tracks}
        return active

    def _holds(self, ep: Episode, tr: Track, ctx: RuleContext) -> bool:
        return False

    def _may_take(self, tr: Track, ctx: RuleContext) -> bool:
        """Whether a track without an event may start one now, or take over one (a rule may ask more)."""
        return True

    def _looks_there(self, ep: Episode, ctx: RuleContext) -> bool:
        """Whether an object that stood still, now unseen by the detector (a parked bicycle it loses, someone
        standing with their back to the camera), is still there to the eye: its place looks just like it.
        Its visit then goes on."""
        if not ep.still or ctx.image is None or ep.embedding is None:
            return False
        return appearance.distance(appearance.embed(ctx.image, ep.box), ep.embedding) <= SAME_LOOK

    def _gone(self, ep: Episode, ctx: RuleContext) -> bool:
        """Whether the object of an episode whose track is not seen now has left (default: never; it is held
        until gap_s)."""
        return False

    def _same_kind(self, a: str, b: str) -> bool:
        """Labels one object may carry over a visit: the same, or both watched by this rule (a bicycle the
        detector calls a motorcycle for a while, in a rule on [bicycle, motorcycle])."""
        return a == b or (a in self.labels and b in self.labels)

    def reset(self) -> None:
        super().reset()
        self._by_track.clear()
        self._adopted.clear()
        self._handed.clear()

    def _adoptable(self, tr: Track) -> bool:
        return True

    def state_size(self) -> int:
        return len(self._episodes) + len(self._by_track) + len(self._handed)
