"""Zone rules: presence, stationary, crowd, line, left_object.

Each rule is a small class: settings in `__init__`, state in the object. `evaluate(ctx)` returns the rule's
episodes active at this frame, each under a key that stays the same while the episode lasts; the event
manager turns a new key into `new`, a vanished key into `end`. Rules on tracked objects hold an episode
through a short gap: a track that ends and a new track of the same label found again at the same place
continue the same episode, so a parked car raises one event, not one per broken track.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.config import (
    CrowdRule,
    LeftObjectRule,
    LineRule,
    PresenceRule,
    RuleBase,
    StationaryRule,
)
from vision.tracking import Track
from vision.zones import PolygonZone, to_pixels


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
    done: bool = False  # instantaneous (line): ends in the frame it starts


@dataclass
class RuleContext:
    """What a rule sees at one frame."""

    t: float
    tracks: list[Track]
    inside: dict[int, bool]                 # track id -> in this zone (with inertia)
    class_names: list[str] | tuple[str, ...]
    seconds_of_day: float | None = None
    image: np.ndarray | None = None         # BGR frame, for region rules
    ended: set[int] = field(default_factory=set)  # track ids that ended at this frame
    # left_object: asks the detector whether an object it knows is in this box (crop at a larger scale)
    verify: Callable[[np.ndarray], bool] | None = None

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


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


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

    def reset(self) -> None:
        self._episodes.clear()

    def state_size(self) -> int:
        return len(self._episodes)


class _TrackRule(ZoneRule):
    """Rules on one tracked object at a time, with episodes held through short track gaps."""

    gap_s = 2.0

    def __init__(self, cfg: RuleBase, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        self._by_track: dict[int, str] = {}  # track id -> episode key
        self._adopted: dict[str, float] = {}  # episode key -> when a new track took it over

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
            ok, _ = self.qualifies(tr, ctx) if ctx.inside.get(tid, False) else (False, 0.0)
            if ok or (ctx.inside.get(tid, False) and self._holds(ep, tr, ctx)):
                ep.last_t = tr.last_t
                if tr.moved_to is None:  # not while one odd box awaits confirmation
                    ep.box = tr.box
                ep.score = max(ep.score, tr.max_score)
                ep.label = ctx.label(tr)
            else:
                del self._by_track[tid]
                ep.done = True
        # 2. new qualifying tracks: adopt an orphaned episode at the same place, or start one
        owned = set(self._by_track)
        orphans = [ep for ep in self._episodes.values() if not ep.done and ep.track_id not in owned]
        for tr in ctx.tracks:
            if tr.id in owned or not ctx.inside.get(tr.id, False):
                continue
            label = ctx.label(tr)
            if not self.accepts(label, tr.max_score):
                continue
            ok, since = self.qualifies(tr, ctx)
            match = next((ep for ep in orphans if ep.label == label and _iou(ep.box, tr.box) >= 0.4), None)
            if match is not None and self._adoptable(tr):
                orphans.remove(match)
                match.track_id, match.last_t, match.box = tr.id, tr.last_t, tr.box
                self._by_track[tr.id] = match.key
                self._adopted[match.key] = t
                continue
            if ok and t - since >= min_s:
                key = self._key()
                self._episodes[key] = Episode(key=key, label=label, first_seen=since, start=t, last_t=tr.last_t,
                                              box=tr.box.copy(), score=tr.max_score, track_id=tr.id)
                self._by_track[tr.id] = key
        # 3. orphans past the gap end
        for ep in orphans:
            if t - ep.last_t > self.gap_s:
                ep.done = True
        active = list(self._episodes.values())
        self._episodes = {k: ep for k, ep in self._episodes.items() if not ep.done}
        self._adopted = {k: v for k, v in self._adopted.items() if k in self._episodes}
        return active

    def _holds(self, ep: Episode, tr: Track, ctx: RuleContext) -> bool:
        return False

    def reset(self) -> None:
        super().reset()
        self._by_track.clear()
        self._adopted.clear()

    def _adoptable(self, tr: Track) -> bool:
        return True

    def state_size(self) -> int:
        return len(self._episodes) + len(self._by_track)


class Presence(_TrackRule):
    """An object (of the labels) inside the zone for >= min_seconds: intrusion, loitering, e-bike in corridor."""

    kind = "presence"

    def __init__(self, cfg: PresenceRule, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        self.gap_s = cfg.gap_s
        self._entered: dict[int, float] = {}

    def qualifies(self, track: Track, ctx: RuleContext) -> tuple[bool, float]:
        return True, self._entered.get(track.id, track.first_t)

    def _evaluate(self, ctx: RuleContext) -> list[Episode]:
        for tr in ctx.tracks:
            if ctx.inside.get(tr.id, False):
                self._entered.setdefault(tr.id, tr.last_t)
            else:
                self._entered.pop(tr.id, None)
        live = {tr.id for tr in ctx.tracks}
        for tid in [k for k in self._entered if k not in live]:
            del self._entered[tid]
        return super()._evaluate(ctx)

    def state_size(self) -> int:
        return super().state_size() + len(self._entered)


class Stationary(_TrackRule):
    """An object inside the zone and still for >= min_seconds: one event while it stays (fire lane)."""

    kind = "stationary"

    def __init__(self, cfg: StationaryRule, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        self.gap_s = cfg.gap_s
        self.min_seconds = cfg.min_seconds

    def qualifies(self, track: Track, ctx: RuleContext) -> tuple[bool, float]:
        # speed too: under motion gating a slow mover is seen seldom, and each sighting may fall near the last
        return track.still_seconds(ctx.t) >= self.min_seconds and track.speed < 0.2, track.still_since

    def _holds(self, ep: Episode, tr: Track, ctx: RuleContext) -> bool:
        # the episode holds while its object has not (confirmedly) moved since the event started or since a
        # new track took it over; a speed spike from one odd box does not end it
        since = max(ep.start, self._adopted.get(ep.key, ep.start))
        return tr.still_since <= since + 1e-6

    def _adoptable(self, tr: Track) -> bool:
        return tr.speed < 0.5


class Crowd(ZoneRule):
    """At least min_count objects in the zone at once for >= min_seconds."""

    kind = "crowd"
    hold_s = 2.0

    def __init__(self, cfg: CrowdRule, zone: PolygonZone) -> None:
        super().__init__(cfg, zone)
        self.min_count = cfg.min_count
        self.min_seconds = cfg.min_seconds
        self._since: float | None = None
        self._last_ok = -1e9
        self._current: Episode | None = None

    def _evaluate(self, ctx: RuleContext) -> list[Episode]:
        members = [tr for tr in ctx.tracks if ctx.inside.get(tr.id, False) and ctx.t - tr.last_t <= 1.0
                   and self.accepts(ctx.label(tr), tr.max_score)]
        if len(members) >= self.min_count:
            self._since = ctx.t if self._since is None else self._since
            self._last_ok = ctx.t
        elif self._since is not None and ctx.t - self._last_ok > self.hold_s:
            self._since = None
        ep = self._current
        if self._since is not None and ctx.t - self._since >= self.min_seconds and members:
            boxes = np.array([tr.box for tr in members])
            box = np.array([*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0)], dtype=np.float32)
            labels = [ctx.label(tr) for tr in members]
            if ep is None:
                ep = Episode(key=self._key(), label=max(set(labels), key=labels.count), first_seen=self._since,
                             start=ctx.t, last_t=ctx.t, box=box, score=max(tr.max_score for tr in members),
                             count=len(members))
                self._current = ep
            ep.last_t = ctx.t if len(members) >= self.min_count else ep.last_t
            ep.count = max(ep.count or 0, len(members))
            ep.score = max(ep.score, *(tr.max_score for tr in members))
        elif ep is not None and self._since is None:
            ep.done = True
            self._current = None
        return [ep] if ep is not None else []

    def reset(self) -> None:
        self._since, self._current = None, None


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

    def _crossing(self, p: np.ndarray, q: np.ndarray) -> str | None:
        for a, b in zip(self.line[:-1], self.line[1:], strict=True):
            s1, s2 = _side(p, a, b), _side(q, a, b)
            t1, t2 = _side(a, p, q), _side(b, p, q)
            # a point on the line counts as its right side, so touching it and going back is not a crossing
            if (s1 >= 0) != (s2 >= 0) and t1 * t2 <= 0:
                # image y points down: a positive side value is to the walker's right
                return "left_to_right" if s1 < 0 else "right_to_left"
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
            way = self._crossing(prev[1], tr.anchor)
            if way is None:
                continue
            per = self.counts.setdefault(label, {"left_to_right": 0, "right_to_left": 0})
            per[way] += 1  # both ways are counted; only the configured one raises events
            if self.direction != "any" and way != self.direction:
                continue
            out.append(Episode(key=self._key(), label=label, first_seen=tr.last_t, start=tr.last_t, last_t=tr.last_t,
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


class StaticForeground:
    """Dual background at low resolution: pixels that differ from the long-term background but have
    stopped changing are static foreground (something left behind). The long-term background does not
    learn where static foreground is, so a left object stays found while it stays."""

    def __init__(self, width: int = 160, short_s: float = 2.0, long_s: float = 120.0, threshold: float = 25.0) -> None:
        self.width = width
        self.short_s, self.long_s, self.threshold = short_s, long_s, threshold
        self._short: np.ndarray | None = None
        self._long: np.ndarray | None = None
        self._t = self._t0 = 0.0
        self.scale = 1.0

    def apply(self, image: np.ndarray, t: float) -> np.ndarray:
        h, w = image.shape[:2]
        self.scale = w / self.width
        small = cv2.resize(image, (self.width, max(1, int(round(h / self.scale)))), interpolation=cv2.INTER_AREA)
        # colour, not grey: a yellow rag on light paving has nearly the paving's brightness
        gray = cv2.GaussianBlur(small, (5, 5), 0).astype(np.float32)
        if self._short is None or self._long is None:
            self._short, self._long, self._t, self._t0 = gray.copy(), gray.copy(), t, t
            return np.zeros(gray.shape[:2], dtype=np.uint8)
        dt_s = max(1e-3, t - self._t)
        self._t = t
        a_short = min(1.0, dt_s / self.short_s)
        # the first seconds learn fast and everywhere: whoever stood in the first frame leaves no ghost
        warm = t - self._t0 < 3 * self.short_s
        a_long = min(1.0, dt_s / (self.short_s if warm else self.long_s))
        moving = np.abs(gray - self._short).max(axis=2) > self.threshold
        cv2.accumulateWeighted(gray, self._short, a_short)
        static = (np.abs(self._short - self._long).max(axis=2) > self.threshold) & ~moving
        learn = np.ones_like(moving, dtype=np.uint8) if warm else (~static & ~moving).astype(np.uint8)
        cv2.accumulateWeighted(gray, self._long, a_long, mask=learn)
        mask = static.astype(np.uint8) * 255
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
        return mask

    def absorb(self, box: np.ndarray) -> None:
        """Learn a region (frame pixels) into the long-term background at once."""
        if self._short is None or self._long is None:
            return
        x1, y1 = int(box[0] / self.scale), int(box[1] / self.scale)
        x2, y2 = int(np.ceil(box[2] / self.scale)), int(np.ceil(box[3] / self.scale))
        self._long[y1:y2, x1:x2] = self._short[y1:y2, x1:x2]

    def _drop_ghosts(self, mask: np.ndarray) -> np.ndarray:
        """A region where something that was there has gone (a person who stood at the start walks away)
        differs from the long-term background too; it has fewer edges now than the background had. Such a
        ghost is learnt into the long-term background at once."""
        assert self._short is not None and self._long is not None
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
        if n <= 1:
            return mask
        gs = _gradient(self._short)
        gl = _gradient(self._long)
        for i in range(1, n):
            x, y, w, h, _ = stats[i]
            sel = labels[y:y + h, x:x + w] == i
            if gs[y:y + h, x:x + w][sel].mean() < 0.5 * gl[y:y + h, x:x + w][sel].mean():
                self._long[y:y + h, x:x + w][sel] = self._short[y:y + h, x:x + w][sel]
                mask[y:y + h, x:x + w][sel] = 0
        return mask


def _gradient(image: np.ndarray) -> np.ndarray:
    g = image.max(axis=2)
    return np.asarray(cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1)))


class LeftObject(ZoneRule):
    """A static foreground region in the zone for >= min_seconds that no tracked object explains."""

    kind = "left_object"
    hold_s = 5.0  # a region hidden this long (people in front of it) has gone
    stood_s = 3.0  # an object still this long (not someone putting a thing down) ...
    stood_memory_s = 60.0  # ... leaves a ghost where it stood that is not reported for this long

    def __init__(self, cfg: LeftObjectRule, zone: PolygonZone,
                 background: Callable[[np.ndarray, float], np.ndarray] | None = None) -> None:
        super().__init__(cfg, zone)
        self.min_seconds = cfg.min_seconds
        self.min_area = cfg.min_area
        self.background = StaticForeground()
        self._regions: dict[str, Episode] = {}  # key -> candidate region (since = first_seen)
        self._fired: set[str] = set()
        # where objects stood still for a while (a person waiting): what they leave behind is their ghost
        self._stood: deque[tuple[float, np.ndarray]] = deque(maxlen=2000)

    def _evaluate(self, ctx: RuleContext) -> list[Episode]:
        if ctx.image is None:
            return [ep for ep in self._regions.values() if ep.key in self._fired]
        mask = self.background.apply(ctx.image, ctx.t)
        while self._stood and ctx.t - self._stood[0][0] > self.stood_memory_s:
            self._stood.popleft()
        for tr in ctx.tracks:
            if tr.last_t == ctx.t and tr.still_seconds(ctx.t) >= self.stood_s and ctx.label(tr) == "person":
                self._stood.append((ctx.t, tr.box.copy()))
        s = self.background.scale
        h, w = ctx.image.shape[:2]
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        boxes: list[tuple[np.ndarray, bool]] = []
        for i in range(1, n):
            x, y, bw, bh, area = stats[i]
            if area * s * s < self.min_area * w * h:
                continue
            box = np.array([x * s, y * s, (x + bw) * s, (y + bh) * s], dtype=np.float32)
            anchor = np.array([[(box[0] + box[2]) / 2, box[3]]])
            if not self.zone.contains(anchor)[0]:
                continue
            # a detected object (a person standing, a parked car) explains it
            # (someone walking past is not: only an object that stays there itself)
            explained = any(_iou(box, tr.box) > 0.2 or _inside_frac(box, tr.box) > 0.5 for tr in ctx.tracks
                            if ctx.t - tr.last_t <= 1.5 and tr.speed < 0.3)
            if not explained and any(_inside_frac(box, b) > 0.5 or _iou(box, b) > 0.3 for _, b in self._stood):
                # someone stood here and has gone: the difference is where he was (a ghost), not an object
                self.background.absorb(box)
                continue
            boxes.append((box, explained))
        seen: set[str] = set()
        for box, explained in boxes:
            cands = [ep for ep in self._regions.values() if ep.key not in seen
                     and (_iou(ep.box, box) >= 0.3 or _inside_frac(box, ep.box) > 0.6 or _inside_frac(ep.box, box) > 0.6)]
            match = max(cands, key=lambda ep: _iou(ep.box, box), default=None)
            if match is not None:
                if match.key not in self._fired:
                    match.box = box
                    if explained:  # not left behind while someone stands there: its time starts again
                        match.first_seen = ctx.t
                match.last_t = ctx.t
                seen.add(match.key)
            elif not explained:
                key = self._key()
                self._regions[key] = Episode(key=key, label="unknown", first_seen=ctx.t, start=ctx.t,
                                             last_t=ctx.t, box=box, score=1.0)
                seen.add(key)
        out = []
        for key, ep in list(self._regions.items()):
            if ctx.t - ep.last_t > self.hold_s:
                del self._regions[key]
                if key in self._fired:
                    self._fired.discard(key)
                    ep.done = True
                    out.append(ep)
                continue
            if key not in self._fired and ep.last_t == ctx.t and ep.last_t - ep.first_seen >= self.min_seconds:
                if ctx.verify is not None and ctx.verify(ep.box):
                    ep.first_seen = ctx.t  # a person standing still, say: look again after min_seconds
                    continue
                self._fired.add(key)
                ep.start = ctx.t
            if key in self._fired:
                out.append(ep)
        return out

    def reset(self) -> None:
        self._regions.clear()
        self._fired.clear()

    def state_size(self) -> int:
        return len(self._regions)


def _inside_frac(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of box a inside box b."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1])
    return float(ix * iy / area) if area > 0 else 0.0


RULES: dict[str, type[ZoneRule]] = {
    "presence": Presence, "stationary": Stationary, "crowd": Crowd, "line": Line, "left_object": LeftObject,
}


def build_rule(cfg: RuleBase, zone: PolygonZone) -> ZoneRule:
    return RULES[str(getattr(cfg, "kind"))](cfg, zone)  # type: ignore[arg-type]  # noqa: B009
