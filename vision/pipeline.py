"""One camera's pipeline: frame -> motion plan -> detector -> tracker -> zone rules -> events.

`CameraPipeline` is driven frame by frame (`process(frame) -> list[EventMessage]`, then `finish()`), so the
api's worker, `sharpeyes analyze` and the benchmarks all run the same code. Why it is cheap: the detector
runs on the whole frame only every `detect.keepalive_s` (so parked cars stay tracked), on motion regions near
the zones when something new moves there, and not at all while every motion is explained by a known track
that was detected less than `detect.refresh_s` ago; ByteTrack gets timestamps, so these gaps do not break
tracks. `naive=True` runs the detector on every frame it is given, full frame: the baseline of the bench.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.annotate import draw_view
from vision.base import Detector, Frame
from vision.config import Camera, SharpEyesConfig, check_labels
from vision.confirm import confirmer_for
from vision.detections import Detections, known_object_at
from vision.events import EventMessage
from vision.gating import Cadence, LineBurst, MotionExplainer, Predictions, WatchedAreas, at_line, near_line
from vision.holding import StillHolder
from vision.lifecycle import EventManager
from vision.motion import MotionGate, MotionSample, Plan, feet_touch
from vision.objects import ObjectFilterer
from vision.packing import drop_cut
from vision.rules import LeftObject, Line, Occupancy, RuleContext, ZoneRule, build_rule, seconds_of_day
from vision.rules.occupancy import closer_look, look_bounds, take_samples
from vision.tracking import ObjectTracker, family_of
from vision.zones import PolygonZone

log = logging.getLogger(__name__)
UNFIT = ("motion regions do not fit one input at full-frame scale", "motion covers most of the frame")
Early = MotionSample | tuple[np.ndarray, np.ndarray | None, np.ndarray | None]   # a sample, or 3 greys


@dataclass
class PipelineStats:
    frames: int = 0
    full: int = 0          # detector runs on the whole frame
    regions: int = 0       # detector runs on motion crops
    crops: int = 0         # crops detected in all
    skipped: int = 0       # frames with no detector run
    events: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "detect_full": self.full, "detect_regions": self.regions,
                "regions": self.crops, "no_detect": self.skipped, "events": self.events}


class CameraPipeline:
    """Runs one camera; the worker calls `process` per frame and `finish` when the source ends."""

    def __init__(self, name: str, camera: Camera, detector: Detector, *, media_dir: str | Path | None = None,
                 naive: bool = False, config_path: str | Path = "<config>", confirm: Any = None) -> None:
        """`confirm`: a vision.confirm.Confirmer (default: the one `detector.confirm` names, if any)."""
        self.name, self.camera = name, camera
        self.detector, self.naive = detector, naive
        self.class_names = list(detector.class_names)
        model = str(getattr(detector, "path", "the detector"))
        check_labels(config_path, _single(name, camera), self.class_names, model)
        self.tracker = ObjectTracker(camera.tracker, self.class_names)
        self.holder = StillHolder(camera.tracker, self.class_names)   # still objects a run missed
        self._solo: Detector | None = None   # the detector while a read-ahead thread works beside (ahead)
        self._runner: Detector = detector     # the one this pipeline runs: _solo once a read-ahead began
        self.confirm = confirm if confirm is not None else confirmer_for(camera.detector_section(),
                                                                         Path(config_path).resolve().parent)
        self.events = EventManager(name, camera.events, media_dir, camera.analysis_fps())
        self.gate: MotionGate | None = None
        self.objects: ObjectFilterer | None = None
        self.stats = PipelineStats()
        self.zones: dict[str, PolygonZone] = {}
        self._parking: list[tuple[int, int, int, int]] = []   # crops of the parking zones
        self.rules: list[tuple[str, int, ZoneRule]] = []
        self._inside: dict[str, dict[int, bool]] = {}
        self._interest: list[np.ndarray] | None = None
        self._lazy: list[np.ndarray] = []            # zones with only `stationary` rules (full-size masks)
        self._lazy_small: np.ndarray | None = None   # their union at the motion model's size
        self._lazy_moving = False
        self._settle_px = 4
        self._last_lazy = -1e9
        self._areas = WatchedAreas({}, everywhere=True)
        self.burst: LineBurst | None = None   # frames between the detect-fps ones, near lines
        self._near: list[Any] = []             # this frame's motion regions near a line
        self._on_lines: WatchedAreas | None = None   # where a line rule counts each label
        self._predictions = Predictions(self._predictable)   # one per camera: the explainer's and the burst's
        self.explainer = MotionExplainer(camera.detect.refresh_s, camera.motion.keepalive_s, self._watched,
                                         self._predictions)
        self._last_t = 0.0
        self._size: tuple[int, int] | None = None
        self._early: dict[int, Early] = {}  # frame index -> motion measured ahead
        self._shrunk: dict[int, list[np.ndarray]] = {}  # frame index -> its left_object rules' small copies
        self._cadence: Cadence | None = None   # line cameras: the frames that feed the background model
        self._grey: np.ndarray | None = None   # line cameras: the last frame's small grey copy
        self._grey2: np.ndarray | None = None  # and the one before it
        self.last_mode = "none"
        self._look: tuple[np.ndarray, np.ndarray | None] | None = None   # the last run's boxes, its grey

    def _setup(self, width: int, height: int) -> None:
        self._size = (width, height)
        self.objects = ObjectFilterer(self.camera.objects, self.class_names, (width, height))
        for zname, zcfg in self.camera.zones.items():
            zone = PolygonZone(zname, zcfg.polygon, width, height, inertia=zcfg.inertia)
            self.zones[zname] = zone
            self._inside[zname] = {}
            for i, rcfg in enumerate(zcfg.rules):
                self.rules.append((zname, i, build_rule(rcfg, zone)))
        self._parking = [look_bounds(self.zones[z], width, height) for z, _, r in self.rules
                         if isinstance(r, Occupancy)]
        self._left = [r for _, _, r in self.rules if isinstance(r, LeftObject)]   # downscaled ahead
        # only motion in zones matters, and near lines (a line rule ignores its zone's polygon)
        self._lines = [rule.line for _, _, rule in self.rules if isinstance(rule, Line)]
        # in a zone whose rules are all `stationary`, what moves does not matter until it stops: motion there
        # is detected at most every detect.stationary_s, and once when it stops (see _plan)
        kinds = {zname: {r.kind for r in zcfg.rules} for zname, zcfg in self.camera.zones.items()}
        lazy = {zname for zname, k in kinds.items() if k == {"stationary"}}
        self._interest = [z.mask() for zname, z in self.zones.items()
                          if zname not in lazy and kinds[zname] != {"line"}]
        # where each label is watched (a left_object rule: every object, everywhere)
        areas: dict[str, list[tuple[np.ndarray, bool]]] = {}
        on_lines: dict[str, list[tuple[np.ndarray, bool]]] = {}
        for zname, idx, rule in self.rules:
            shape = (rule.line, False) if isinstance(rule, Line) else (self.zones[zname].polygon, True)
            for label in self.camera.zones[zname].rules[idx].label_list():
                areas.setdefault(label, []).append(shape)
                if isinstance(rule, Line):
                    on_lines.setdefault(label, []).append(shape)
        self._areas = WatchedAreas(areas, any(isinstance(r, LeftObject) for _, _, r in self.rules))
        if self._lines and not self.naive:
            near = self._on_lines = WatchedAreas(on_lines)
            self.burst = LineBurst(self.camera.detect.fps, self.camera.analysis_fps(), self._lines,
                                   lambda tr: near(self._label(tr), tr.box), self._predictions)
            self._cadence = Cadence(self.camera.detect.fps, self.camera.analysis_fps())
        self._lazy = [z.mask() for zname, z in self.zones.items() if zname in lazy]
        motion = (
            self.camera.motion if not self.naive else self.camera.motion.model_copy(update={"enabled": False})
        )
        iw, ih = self.detector.input_size
        stretched = getattr(getattr(self.detector, "format", None), "resize", "") == "stretch"
        if stretched and self._lines and motion.region_scale is None:
            # a line camera looks for small fast things near its lines: regions enlarged up to 2x as for a
            # fixed input (at the size the whole frame shows them, a crossing of the dev cases was lost)
            motion = motion.model_copy(update={"region_scale": 2.0})
        # own_floor: a line-only camera's small frame packs its motion regions at its own scale (MotionGate)
        self.gate = MotionGate(motion, (width, height), (int(iw), int(ih)), stretched=stretched,
                               free_size=bool(getattr(self.detector, "dynamic_input", False)),
                               own_floor=bool(self._lines) and not (self._interest or self._lazy))
        if self._left:   # a thing put down stays foreground for seconds: looked at once a refresh_s
            self.explainer.watch_empty(self.gate.motion.scale)
        if self._lazy:
            union = np.bitwise_or.reduce(self._lazy, axis=0)
            self._lazy_small = cv2.resize(union, self.gate.motion.small_size, interpolation=cv2.INTER_NEAREST)
            sw, sh = self.gate.motion.small_size
            self._settle_px = max(4, int(motion.min_area * sw * sh))

    # ------------------------------------------------------------------ detection plan

    def ahead(self, frame: Frame) -> None:
        """The work on a frame that depends only on the frames before it, not on what was detected: a
        source's read-ahead thread runs it on each frame before delivering it (`FrameSource.work_ahead`),
        on the core decoding uses, while `process` works on an earlier frame (see `_measure`)."""
        if self._size is None:
            self._setup(frame.image.shape[1], frame.image.shape[0])
        if self._solo is None and not self.naive:   # the naive loop, the baseline, keeps its detector as set
            self._solo = self._runner = getattr(self.detector, "beside", lambda: self.detector)()
        assert self.gate is not None
        if self.gate.config.enabled:
            self._early[frame.index] = self._measure(frame.image, frame.t)
        if self._left:   # the left_object rules' downscale: 1.3 ms at 768x576
            self._shrunk[frame.index] = [r.background.shrink(frame.image) for r in self._left]

    def _measure(self, image: np.ndarray, t: float) -> Early:
        """Every frame's motion work that needs no detection result, in frame order: the background model's
        step. A line camera feeds the model its detect-fps frames only (which those are depends on the
        frames' times alone); a frame between them keeps its small grey copy and the last frame's, for a
        frame difference made only if the frame is looked at (`MotionDetector.difference`)."""
        assert self.gate is not None
        motion = self.gate.motion
        if self._cadence is None:
            return motion.measure(image)
        grey = motion.small_grey(image)
        prev, prev2 = self._grey, self._grey2
        self._grey, self._grey2 = grey, prev
        return motion.measure(image, grey) if self._cadence.base(t) else (grey, prev, prev2)

    def _plan(self, image: np.ndarray, t: float, base: bool = True, early: Early | None = None) -> Plan:
        assert self.gate is not None
        between = isinstance(early, tuple)   # a line camera's frame between two detect-fps ones
        if isinstance(early, tuple):
            early = self.gate.motion.difference(*early)
        plan = self.gate.plan(image, t, early, between)
        settled = self._settled() if base else False
        self._near = []
        if self.gate.own_floor and plan.mode == "regions" and self._at_line(t):
            # in regions, a crossing of a pair walking abreast was lost (never skipped below)
            plan = self.gate.full_now(t, "a track at a line: the whole frame, not regions", "regions")
        elif plan.mode == "full" and self._explained_whole(plan, t):
            self.gate.undo_full()
            return Plan("skip", [], "motion explained by tracks (a whole-frame plan)", plan.motion_fraction)
        if plan.mode == "full":
            self._last_lazy = t
        if plan.mode != "regions":
            return plan
        if self._interest is not None:  # only motion that touches a zone matters
            # motion touches a zone when what moves could stand in it: a blob's feet, not its padded box
            near = self._near = [r for r in plan.regions if near_line(r, plan.blobs, self._lines)]
            regions = near if not base else [r for r in plan.regions if r in near
                                             or any(feet_touch(r, plan.blobs, m) for m in self._interest)]
            lazy = [r for r in plan.regions if base and r not in regions
                    and any(m[r[1] : r[3], r[0] : r[2]].any() for m in self._lazy)]
            # stationary-only zones: a moving object matters once it stops; the frame where motion there stops
            # is detected (first_seen_s of what stopped), else a look every stationary_s
            if lazy and settled:
                # the whole frame: a stopped object's motion box may hold only the part that moved last
                self._last_lazy = t
                return self.gate.full_now(t, "motion stopped in a stationary-only zone", "regions")
            if lazy and t - self._last_lazy >= self.camera.detect.stationary_s - 1e-6:
                regions += lazy
                self._last_lazy = t
            if not regions:
                return Plan("skip", [], "no motion in zones that needs the detector now",
                            plan.motion_fraction)
            plan = Plan("regions", regions, plan.reason, plan.motion_fraction, plan.blobs)
        # motion that known tracks (or an empty look) explain needs no detector until a track is due
        blobs = (b for b in plan.blobs if near_line(b, [], self._lines))   # looked at only if still explained
        if self.explainer.explains(plan.regions, self.tracker.tracks.values(), t, blobs,
                                   (plan.blobs, self.gate.motion.grey)):
            return Plan("skip", [], "motion explained by tracks", plan.motion_fraction)
        return plan

    def _explained_whole(self, plan: Plan, t: float) -> bool:
        """A line-only camera's whole-frame plan made because its motion regions do not fit one input or
        cover most of the frame (a small frame: nearly every plan with motion), or in the warm-up that
        restarts: skipped as a regions plan is, when the tracks explain the motion and every moving blob
        near a line, unless a track stands near a line (gating.CROSSING)."""
        assert self.gate is not None
        if (self.burst is None or self._interest or self._lazy
                or not (plan.reason in UNFIT or self.gate.rewarming)) or self._at_line(t):
            return False
        blobs = [b for b in self.gate.motion.blobs if near_line(b, [], self._lines)]
        return self.explainer.explains(plan.regions, self.tracker.tracks.values(), t, blobs)

    def _at_line(self, t: float) -> bool:
        """Whether a recent track that may decide a line's count stands at it (gating.at_line): one of a label
        the line counts, or of an odd class (family 0: a walker was boxed as a dog at the campus line)."""
        near = self._on_lines
        return near is not None and at_line([tr for tr in self.tracker.current(t, 1.0) if near(
            self._label(tr), tr.box) or not family_of(tr.class_id, self.class_names)], self._lines)

    def _label(self, track: Any) -> str | None:
        names, cid = self.class_names, track.class_id
        return names[cid] if 0 <= cid < len(names) else None

    def _watched(self, track: Any) -> bool:
        return self._areas(self._label(track), track.box)

    def _predictable(self, track: Any) -> bool:
        """Near a line that counts it and near no zone that watches it: where it crosses is dated between two
        sightings, so its place may be left to its predicted motion (gating.drift_rate)."""
        label = self._label(track)
        return (self._on_lines is not None and self._on_lines(label, track.box)
                and not self._areas.near_zone(label, track.box))

    def _settled(self) -> bool:
        """Whether motion in the stationary-only zones stopped at this frame (frame difference, small
        grey)."""
        if self._lazy_small is None or self.gate is None:
            return False
        moving = self.gate.motion.changed_pixels(self._lazy_small) >= self._settle_px
        settled = self._lazy_moving and not moving
        self._lazy_moving = moving
        return settled

    def _detect(self, image: np.ndarray, plan: Plan) -> Detections:
        assert self.gate is not None
        batch, det = self.gate.prepare(image, plan), self._runner
        dets = batch.to_frame(det.detect_batch(batch.images, own_size=True) if batch.own_size
                              else det.detect_batch(batch.images))
        self._look = (dets.xyxy, self.gate.motion.grey)   # the boxes before any filter: what is there
        if plan.mode == "full":   # parking zones: a closer look at each (vision/rules/occupancy.py)
            dets = closer_look(det, image, dets, self._parking)
        if self.objects is not None:  # object masks and per-label filters, before the tracker
            dets = self.objects(dets)
        h, w = image.shape[:2]
        return drop_cut(dets, plan.regions, w, h) if plan.mode == "regions" else dets

    # ------------------------------------------------------------------ per frame

    def process(self, frame: Frame) -> list[EventMessage]:
        """Analyse one frame; returns the event messages (new / update / end) it caused."""
        image, t = frame.image, float(frame.t)
        if self._size is None:
            self._setup(image.shape[1], image.shape[0])
        self._last_t = t
        self.stats.frames += 1
        out = self.events.push_frame(image, t)
        base = self.burst is None or self.burst.base(t)
        planned = base or (self.burst is not None and self.burst.active)
        early = self._early.pop(frame.index, None)
        if early is None and self._cadence is not None and self.gate is not None and self.gate.config.enabled:
            early = self._measure(image, t)   # no read-ahead thread: every frame is measured here, in order
        if planned:
            plan = self._plan(image, t, base, early)
        else:
            plan = Plan("skip", [], "between detect-fps frames, nothing moving near a line")
        mode = self.last_mode = plan.mode
        updated = mode != "skip"
        if mode == "skip":
            self.stats.skipped += 1
        else:
            dets = self.holder.add(self._detect(image, plan), image, t, mode, plan.regions,
                                   self.tracker.tracks.values())
            if mode == "full":
                self.stats.full += 1
            else:
                self.stats.regions += 1
                self.stats.crops += len(plan.regions)
            self.tracker.update(dets, t, image, self.explainer.misses)
            self.explainer.ran(mode, plan.regions, self.tracker.tracks.values(), t, self._look)
            ended = {tr.id for tr in self.tracker.ended}
            if self.confirm is not None:
                self.confirm.forget(ended)
            for zname, zone in self.zones.items():
                zone.forget(ended)
                inside = self._inside[zname]
                for tid in ended:
                    inside.pop(tid, None)
        tracks = self.tracker.current(t)
        if self.burst is not None and planned:
            self.burst.update(self._near, tracks, t)
        if updated:
            observed = [tr for tr in tracks if tr.last_t == t]
            for zname, zone in self.zones.items():
                if observed:
                    flags = zone.trigger([tr.id for tr in observed], np.stack([tr.anchor for tr in observed]))
                    self._inside[zname].update({tr.id: bool(f) for tr, f in zip(observed, flags,
                                                                                strict=True)})
        sod, det = seconds_of_day(frame.wall_time, self.camera.clip_start, t), self._runner
        shrunk = iter(self._shrunk.pop(frame.index, []))   # made ahead, in the left_object rules' order
        for zname, idx, rule in self.rules:
            left = isinstance(rule, LeftObject)
            ctx = RuleContext(t=t, tracks=tracks, inside=self._inside[zname], class_names=self.class_names,
                              seconds_of_day=sod, image=image,
                              verify=partial(known_object_at, det, image) if left else None,
                              shrunk=next(shrunk, None) if left else None, misses=self.explainer.misses)
            episodes = rule.evaluate(ctx)
            if self.confirm is not None and not left and episodes:
                episodes = self.confirm.keep(episodes, image, t, partial(self.events.is_open, zname, idx))
            msgs = self.events.step(zname, idx, rule.kind, rule.event, episodes, t, frame.wall_time)
            out.extend(msgs)
        self.stats.events += sum(1 for m in out if m.lifecycle == "new")
        return out

    def take_samples(self) -> list[dict[str, Any]]:   # the parking zones' samples since the last call
        return take_samples(self.name, self.rules)

    def finish(self) -> list[EventMessage]:
        """Settle what the rules still hold (a pending line crossing) and end the events still open (the
        source ended or the worker stops)."""
        out: list[EventMessage] = []
        for zname, idx, rule in self.rules:
            episodes = rule.finish(self._last_t)
            if episodes:
                out += self.events.step(zname, idx, rule.kind, rule.event, episodes, self._last_t)
        self.stats.events += sum(1 for m in out if m.lifecycle == "new")
        return out + self.events.finish(self._last_t)

    # ------------------------------------------------------------------ drawing

    def annotate(self, frame: Frame) -> np.ndarray:
        """The frame with zones, tracked boxes with ids and labels, and active events (for the live view)."""
        lines = [rule.line for _, _, rule in self.rules if isinstance(rule, Line)]
        status = f"{self.name} t={frame.t:6.1f}s detect={self.last_mode} events={len(self.events.active)}"
        return draw_view(frame.image, self.zones, lines, self.tracker.current(frame.t, max_age_s=1.0),
                         self.class_names, self.events.active, status)

    def state_size(self) -> dict[str, int]:
        """Objects held by each stage: stays bounded on a long stream."""
        return {
            "tracker": self.tracker.state_size(),
            "zones": sum(z.state_size() for z in self.zones.values())
            + sum(len(v) for v in self._inside.values()),
            "rules": sum(r.state_size() for _, _, r in self.rules)
            + (self.confirm.state_size() if self.confirm is not None else 0),
            "events": self.events.state_size(),
        }


def _single(name: str, camera: Camera) -> SharpEyesConfig:
    """A config with just this camera, for label checks against the detector's own class names."""
    return SharpEyesConfig.model_construct(cameras={name: camera})
