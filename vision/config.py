"""The camera config (ARCHITECTURE.md, "Camera config"): pydantic models and `load_config`.

Global sections (`detector`, `detect`, `tracker`, `events`) are defaults for every camera; a camera's own
section overrides the keys it sets (merged with `model_dump(exclude_unset=True)`, as Frigate does).
Every mistake is a `ConfigError` naming the file, the camera, the zone and the key path.
"""

from __future__ import annotations

from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from vision.detectors import config_class_names, parse_detector_config
from vision.detectors.decoding import COCO80
from vision.errors import ConfigError
from vision.motion import MotionConfig
from vision.objects import ObjectsConfig
from vision.rule_config import OccupancyRule, Point, RuleBase, VisionModel, _check_relative

COCO_NAMES = COCO80   # the labels a config may name before the model is loaded

KEEPALIVE_S = 3.0  # default whole-frame detection interval; below TrackerSettings.lost_s


class DetectSettings(VisionModel):
    fps: float = Field(default=5.0, gt=0, le=60, description="Frames per second decoded and analysed")
    refresh_s: float = Field(
        default=1.0, gt=0, description="While all motion is explained by known tracks, re-detect this often "
        "(seconds); the whole frame is detected every motion.keepalive_s")
    stationary_s: float = Field(
        default=1.0, gt=0, description="In zones whose rules are all `stationary`, what moves does not "
        "matter until it stops: motion there is detected at most this often (seconds), and once as it stops")
    line_fps: float = Field(
        default=15.0, gt=0, le=60, description="A camera with `line` rules decodes up to this many frames a "
        "second (at most the source's own) and, while something moves near a line, detects at that rate: a "
        "fast small vehicle is tracked across the line; other frames keep the `fps` cadence")


class TrackerSettings(VisionModel):
    lost_s: float = Field(default=5.0, gt=0,
                          description="Keep a lost track this long (seconds) before it ends")
    activation_score: float = Field(default=0.35, ge=0, le=1,
                                    description="Score a detection needs to start a track")
    high_score: float = Field(default=0.45, ge=0, le=1,
                              description="ByteTrack's first-stage (high) score split")
    min_iou: float = Field(default=0.1, ge=0, le=1, description="Least IoU to associate a box with a track")
    min_frames: int = Field(default=1, ge=1, description="Consecutive detections before a track gets an id")
    still_radius: float = Field(
        default=0.15, gt=0, description="A track is still while its box's centre stays within this fraction "
        "of its box size of where it is now (and its size within a third of it), a brief odd box apart")
    still_window_s: float = Field(
        default=4.0, gt=0, description="Movement is judged over this many seconds, against the object's own "
        "size: a far car crawling along a road is moving, box jitter is not (reported as `displacement`)")
    link_s: float = Field(
        default=3.0, ge=0, description="A new track that appears within this many seconds of a moving track "
        "being lost, where that object was heading and looking like it, continues it (same id, same event); "
        "a still object's track can be continued for up to lost_s")


class EventSettings(VisionModel):
    snapshots: bool = Field(default=True,
                            description="Write a JPEG snapshot (best frame, box drawn) per event")
    clips: bool = Field(default=True, description="Write an H.264 MP4 clip per event")
    pre_s: float = Field(default=3.0, ge=0, le=30, description="Seconds of clip before the event starts")
    post_s: float = Field(default=3.0, ge=0, le=30, description="Seconds of clip after the event ends")
    max_clip_s: float = Field(default=30.0, gt=0,
                              description="Longest clip; a longer event's clip stops here")
    update_s: float = Field(default=10.0, gt=0, description="Send an `update` message at most this often")


class Location(VisionModel):
    node: str = Field(description="Node of the site graph where this camera looks, for dispatch")


class PresenceRule(RuleBase):
    kind: Literal["presence"] = Field(description="An object in the zone for >= min_seconds")
    labels: list[str] = Field(min_length=1, description="Object labels (COCO names) the rule watches")
    min_seconds: float = Field(ge=0, description="Seconds inside the zone before the event starts")
    gap_s: float = Field(default=8.0, ge=0, description="An object unseen longer than this has left; a track "
                         "found again at the same place within it continues the same event")
    revisit_s: float = Field(default=5.0, ge=0, description="An object that leaves the zone and comes back "
                             "within this many seconds is on the same visit: "
                             "one event (0: every entry is a visit)")


class StationaryRule(RuleBase):
    kind: Literal["stationary"] = Field(description="An object in the zone and not moving for >= min_seconds")
    labels: list[str] = Field(min_length=1, description="Object labels (COCO names) the rule watches")
    min_seconds: float = Field(ge=0, description="Seconds still inside the zone before the event starts")
    gap_s: float = Field(default=20.0, ge=0,
                         description="A still object unseen for longer than this has left; "
                         "a track found again at the same place within it continues the same event")


class CrowdRule(RuleBase):
    kind: Literal["crowd"] = Field(description=">= min_count objects in the zone at once for >= min_seconds")
    labels: list[str] = Field(min_length=1, description="Object labels (COCO names) counted")
    min_count: int = Field(ge=2, description="Objects at once that make a crowd")
    min_seconds: float = Field(ge=0, description="Seconds the crowd lasts before the event starts")
    gap_s: float = Field(default=8.0, ge=0, description="The count may fall below min_count for up to this "
                         "many seconds (someone hidden, or stepping away a moment) and it is the same crowd: "
                         "one event; thinned out longer, it has dispersed")


class LineRule(RuleBase):
    kind: Literal["line"] = Field(description="An object's bottom-centre crossing a polyline")
    labels: list[str] = Field(min_length=1, description="Object labels (COCO names) counted")
    line: list[Point] = Field(min_length=2, description="Polyline, relative 0..1 points")
    direction: Literal["any", "left_to_right", "right_to_left"] = Field(
        default="any",
        description="Crossing direction that counts, seen walking the line from its first point")

    @field_validator("line")
    @classmethod
    def _relative(cls, v: list[Point]) -> list[Point]:
        return _check_relative(v, "line")


class LeftObjectRule(RuleBase):
    kind: Literal["left_object"] = Field(description="A static foreground region no detected object explains")
    min_seconds: float = Field(ge=0, description="Seconds the region stays before the event starts")
    min_area: float = Field(default=0.001, gt=0, le=1, description="Least region area, fraction of the frame")


Rule = Annotated[Union[PresenceRule, StationaryRule, CrowdRule, LineRule, LeftObjectRule,  # noqa: UP007
                       OccupancyRule],
                 Field(discriminator="kind")]


class Zone(VisionModel):
    polygon: list[Point] = Field(min_length=3, description="Relative 0..1 [x, y] points, at least 3")
    rules: list[Rule] = Field(min_length=1, description="Rules evaluated on objects in this zone")
    inertia: int = Field(default=3, ge=1, description="Frames an object must be in / out before its zone "
                         "membership changes, so one bad box does not end an event")

    @field_validator("polygon")
    @classmethod
    def _relative(cls, v: list[Point]) -> list[Point]:
        return _check_relative(v, "polygon")


class Camera(VisionModel):
    source: str = Field(description="File path (relative to the config file), rtsp:// or http(s):// URL")
    detect_source: str | None = Field(
        default=None, description="The stream the pipeline decodes and analyses instead of `source`, a "
        "path or URL as `source`: the camera's low-resolution sub-stream (Frigate's `detect` role; "
        "docs/config.md). A 1080p 30 fps main stream costs 3.3 ms a frame to decode, every frame")
    detect: DetectSettings = Field(default_factory=DetectSettings, description="Decode / detect rates")
    location: Location | None = Field(default=None, description="Where on the site graph this camera looks")
    zones: dict[str, Zone] = Field(min_length=1, description="Named zones with their rules")
    detector: dict[str, Any] | None = Field(default=None,
                                            description="Overrides of the global detector section")
    tracker: TrackerSettings = Field(default_factory=TrackerSettings, description="Tracker settings")
    events: EventSettings = Field(default_factory=EventSettings, description="Snapshots and clips")
    motion: MotionConfig = Field(default_factory=lambda: MotionConfig(keepalive_s=KEEPALIVE_S),
                                 description="Motion gating (vision/motion.py); keepalive_s defaults to "
                                 f"{KEEPALIVE_S} s here, shorter than "
                                 "tracker.lost_s, so parked cars stay tracked")
    objects: ObjectsConfig = Field(default_factory=ObjectsConfig, description="Object masks and per-label "
                                   "filters (vision/objects.py), applied before tracking")
    clip_start: str | None = Field(default=None, description="Time of day a recorded clip starts, "
                                   "HH:MM[:SS], for rule schedules")
    viid: dict[str, Any] | None = Field(default=None, description="GA/T 1400 records of this camera (APEs, "
                                        "rules): read by the api, docs/gat1400.md")

    def analysed_source(self) -> str:
        """What the pipeline reads: the detect sub-stream when there is one, else `source`."""
        return self.detect_source or self.source

    def watched_labels(self) -> set[str]:
        """The labels the camera's rules watch."""
        return {label for z in self.zones.values() for r in z.rules for label in r.label_list()}

    def detector_section(self) -> dict[str, Any] | None:
        """The detector section, with the default model chosen by what the rules watch
        (`vision.detectors.camera_detector`)."""
        from vision.detectors import camera_detector

        rules = [r for z in self.zones.values() for r in z.rules]
        other = {label for r in rules if r.kind != "line" for label in r.label_list()}
        line_only = {label for r in rules if r.kind == "line" for label in r.label_list()} - other
        return camera_detector(self.detector, self.watched_labels(), line_only)

    def analysis_fps(self) -> float:
        """Frames a second the source delivers: `detect.fps`, or `detect.line_fps` with a line rule."""
        lines = any(r.kind == "line" for z in self.zones.values() for r in z.rules)
        return max(self.detect.fps, self.detect.line_fps) if lines else self.detect.fps


class SharpEyesConfig(VisionModel):
    detector: dict[str, Any] = Field(default_factory=dict, description="Detector (vision/detectors): "
                                     "`type` and its settings; the default when empty")
    detect: DetectSettings = Field(default_factory=DetectSettings,
                                   description="Defaults of every camera's `detect`")
    tracker: TrackerSettings = Field(default_factory=TrackerSettings,
                                     description="Defaults of every camera's `tracker`")
    events: EventSettings = Field(default_factory=EventSettings,
                                  description="Defaults of every camera's `events`")
    motion: MotionConfig = Field(default_factory=lambda: MotionConfig(keepalive_s=KEEPALIVE_S),
                                 description="Defaults of every camera's `motion`")
    objects: ObjectsConfig = Field(default_factory=ObjectsConfig, description="Defaults of every camera's "
                                   "`objects` (a camera's filters for a label "
                                   "replace these; its mask, if set, too)")
    cameras: dict[str, Camera] = Field(min_length=1, description="Cameras by name")
    viid: dict[str, Any] | None = Field(default=None,
                                        description="The api's GA/T 1400 视图库 (docs/gat1400.md)")


# ---------------------------------------------------------------------------------------------------- loading

def _describe_loc(loc: tuple[Any, ...]) -> str:
    """('cameras', 'lobby', 'zones', 'corridor', 'rules', 0, 'presence', 'min_seconds') -> readable."""
    parts: list[str] = []
    path: list[str] = []
    i = 0
    loc = tuple(x for x in loc if x not in ("presence", "stationary", "crowd", "line", "left_object")
                or (path and path[-1] == "kind"))
    while i < len(loc):
        item = loc[i]
        if item == "cameras" and i + 1 < len(loc):
            parts.append(f"camera '{loc[i + 1]}'")
            i += 2
            continue
        if item == "zones" and i + 1 < len(loc):
            parts.append(f"zone '{loc[i + 1]}'")
            i += 2
            continue
        path.append(f"[{item}]" if isinstance(item, int) else str(item))
        i += 1
    key = "".join(p if p.startswith("[") else ("." + p if k else p) for k, p in enumerate(path))
    if key:
        parts.append(f"key '{key}'")
    return ", ".join(parts)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config model at a location, to list the keys it allows."""
    tp: Any = SharpEyesConfig
    for item in loc:
        while get_origin(tp) is Annotated or get_origin(tp) is Union:
            if get_origin(tp) is Annotated:
                tp = get_args(tp)[0]
            else:
                kinds = {get_args(m.model_fields["kind"].annotation)[0]: m for m in get_args(tp)
                         if isinstance(m, type) and issubclass(m, BaseModel) and "kind" in m.model_fields}
                if item in kinds:
                    tp = kinds[item]
                    break
                tp = next((a for a in get_args(tp) if a is not type(None)), None)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if item in tp.model_fields:
                tp = tp.model_fields[item].annotation
            continue
        origin = get_origin(tp)
        if origin in (dict, list):
            tp = get_args(tp)[-1]
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            continue
    while get_origin(tp) in (Annotated, Union):
        tp = next((a for a in get_args(tp) if a is not type(None)), None)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _first_error(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The error to report: an unknown key before anything else, since a misspelt key (`labelz`) is also a
    missing one (`labels`), and the unknown key is what the user has to change."""
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])


def _format_error(path: Path, err: dict[str, Any]) -> str:
    loc = tuple(err["loc"])
    where = _describe_loc(loc)
    etype = err["type"]
    if etype == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = ", ".join(sorted(model.model_fields)) if model else "see ARCHITECTURE.md"
        near = get_close_matches(str(loc[-1]), list(model.model_fields), n=1) if model else []
        hint = f"did you mean '{near[0]}'? " if near else ""
        msg = f"unknown key '{loc[-1]}' ({hint}expected one of: {allowed})"
    elif etype == "missing":
        model = _model_at(loc)
        desc = ""
        if model is None:
            parent = _model_at(loc[:-1])
            if parent is not None and loc[-1] in parent.model_fields:
                desc = parent.model_fields[loc[-1]].description or ""
        msg = "missing required field" + (f" ({desc})" if desc else "")
    elif etype == "too_short" and loc and loc[-1] == "rules":
        msg = "a zone needs at least one rule (presence, stationary, crowd, line, left_object)"
    elif etype == "too_short" and loc and loc[-1] in ("polygon", "line"):
        need = 3 if loc[-1] == "polygon" else 2
        msg = f"a {loc[-1]} needs at least {need} points, got {len(err.get('input') or [])}"
    elif etype == "union_tag_invalid":
        msg = "unknown rule kind; expected one of: presence, stationary, crowd, line, left_object"
    elif etype == "union_tag_not_found":
        msg = "rule has no 'kind' (one of: presence, stationary, crowd, line, left_object)"
    else:
        msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{path}: {where}: {msg}" if where else f"{path}: {msg}"


def _merge(defaults: BaseModel, own: BaseModel) -> dict[str, Any]:
    return {**defaults.model_dump(exclude_unset=True), **own.model_dump(exclude_unset=True)}


def check_labels(path: Path | str, config: SharpEyesConfig, class_names: list[str] | tuple[str, ...],
                 model: str = "the detector", camera: str | None = None) -> None:
    """Every label a rule or an object filter names must be a class of the camera's detector; the error names
    the file, camera, zone, key path and the detector's class list."""
    known = set(class_names)
    listed = ", ".join(class_names)
    for cam_name, cam in config.cameras.items():
        if camera is not None and cam_name != camera:
            continue
        where = [(f"zone '{zone_name}', key 'rules[{i}].{key}'", label)
                 for zone_name, zone in cam.zones.items() for i, rule in enumerate(zone.rules)
                 for key in ("labels", "min_scores") for label in (getattr(rule, key, None) or [])]
        where += [(f"key 'objects.filters.{label}'", label) for label in cam.objects.filters]
        for at, label in where:
            if label not in known:
                raise ConfigError(f"{path}: camera '{cam_name}', {at}: unknown label '{label}'; "
                                  f"the classes of {model} are: {listed}")


def parse_config(data: Any, path: Path | str = "<config>") -> SharpEyesConfig:
    """Validate a loaded YAML document; global sections become each camera's defaults."""
    path = Path(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'cameras' section at the top")
    try:
        config = SharpEyesConfig.model_validate(data)
        # Second pass with the global defaults merged into each camera: the camera's own keys win.
        cameras: dict[str, Any] = {}
        detectors: dict[str, Any] = {}
        for name, cam in config.cameras.items():
            raw = dict(data["cameras"][name])
            for section in ("detect", "tracker", "events"):
                raw[section] = _merge(getattr(config, section), getattr(cam, section))
            raw["motion"] = _merge(config.motion, cam.motion)
            raw["motion"].setdefault("keepalive_s", KEEPALIVE_S)
            raw["objects"] = _merge(config.objects, cam.objects)
            raw["objects"]["filters"] = {**config.objects.model_dump(exclude_unset=True).get("filters", {}),
                                         **cam.objects.model_dump(exclude_unset=True).get("filters", {})}
            raw["detector"] = {**config.detector, **(cam.detector or {})}
            detectors[name] = parse_detector_config(raw["detector"],
                                                    f"{path}: camera '{name}', key 'detector'")
            cameras[name] = raw
        config = SharpEyesConfig.model_validate({**data, "cameras": cameras})
    except ValidationError as exc:
        raise ConfigError(_format_error(path, _first_error([dict(e) for e in exc.errors()]))) from None
    for name, det in detectors.items():  # each camera's labels against its own detector's classes
        names, model = config_class_names(det, path.resolve().parent)
        if names is None and det.type == "onnx":
            names = list(COCO_NAMES)  # an ONNX model without names: COCO-80, as the runtime reads 80 classes
        if names is not None:   # else (a .pt, an IR): checked when the detector loads (CameraPipeline)
            check_labels(path, config, names, model, camera=name)
    return config


def load_config(path: str | Path) -> SharpEyesConfig:
    """Read and validate a camera config file; ConfigError (file, camera, zone, key) on any mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc.strerror}); check the path") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data, path)


def resolve_source(config_path: str | Path, source: str) -> str:
    """A file source is relative to the config file; URLs are returned as they are."""
    if "://" in source:
        return source
    p = Path(source)
    return str(p if p.is_absolute() else Path(config_path).resolve().parent / p)
