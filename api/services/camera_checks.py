"""A camera's config checked field by field before anything is stored: the contract's own models
(vision.config), polygons that cross themselves, labels the camera's detector does not know.

Every problem is a `FieldError` with the key path the page shows it at (`zones.corridor.polygon`,
`zones.corridor.rules.0.labels`); `ConfigInvalid` carries all of them and nothing is saved.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from api.errors import Invalid
from vision.errors import ConfigError, VisionError
from vision.polygons import polygon_problem

if TYPE_CHECKING:   # vision.config loads OpenCV (motion): imported where a config is checked
    from vision.config import Camera as CameraModel

NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def rule_kinds() -> tuple[str, ...]:
    """The rule kinds of the config's rule union (one source of truth: a new kind is known here too)."""
    from api.services.rule_forms import rule_models

    return tuple(rule_models())


@dataclass(frozen=True)
class FieldError:
    field: str        # dotted key path inside the camera's mapping; "" for the camera as a whole
    message: str


class ConfigInvalid(Invalid):
    """A camera config refused; `errors` says what is wrong at which field."""

    code = "config_invalid"

    def __init__(self, camera: str, errors: list[FieldError]) -> None:
        shown = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors[:5])
        super().__init__(f"camera {camera!r} not saved: {shown}")
        self.camera = camera
        self.errors = errors

    def extra(self) -> dict[str, object]:
        return {"errors": [asdict(e) for e in self.errors]}


def field_path(loc: tuple[object, ...]) -> str:
    """('zones', 'lane', 'rules', 0, 'presence', 'labels') -> 'zones.lane.rules.0.labels'."""
    out: list[str] = []
    for i, item in enumerate(loc):
        if i > 0 and isinstance(loc[i - 1], int) and item in rule_kinds():
            continue   # pydantic's discriminator tag, not a key
        out.append(str(item))
    return ".".join(out)


def _message(err: dict[str, object]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (see docs/config.md for the keys this section takes)"
    if kind == "missing":
        return "required"
    if kind == "union_tag_invalid":
        return f"unknown rule kind; expected one of: {', '.join(rule_kinds())}"
    if kind == "union_tag_not_found":
        return f"a rule needs a kind ({', '.join(rule_kinds())})"
    return str(err["msg"]).removeprefix("Value error, ")


def detector_classes(detector: dict[str, object] | None, base_dir: Path) -> tuple[list[str] | None, str]:
    """The class names of a camera's detector (without loading it) and how to name its model; None when
    only loading it would tell (a .pt without `classes`)."""
    from vision.config import COCO_NAMES
    from vision.detectors import config_class_names, parse_detector_config

    cfg = parse_detector_config(detector or {}, "detector")
    names, model = config_class_names(cfg, base_dir)
    if names is None and cfg.type == "onnx":
        names = list(COCO_NAMES)
    return names, model


def _polygons(cam: CameraModel) -> list[tuple[str, list[tuple[float, float]]]]:
    out: list[tuple[str, list[tuple[float, float]]]] = [(f"zones.{z}.polygon", list(zone.polygon))
                                        for z, zone in cam.zones.items()]
    out += [(f"objects.mask.{i}", list(p)) for i, p in enumerate(cam.objects.mask)]
    for label, f in cam.objects.filters.items():
        out += [(f"objects.filters.{label}.mask.{i}", list(p)) for i, p in enumerate(f.mask)]
    out += [(f"motion.mask.{i}", list(p)) for i, p in enumerate(cam.motion.mask)]
    return out


def _labels(cam: CameraModel, base_dir: Path) -> list[FieldError]:
    try:
        names, model = detector_classes(cam.detector_section(), base_dir)
    except (ConfigError, VisionError) as exc:
        return [FieldError("detector", str(exc))]
    if names is None:
        return []
    known, listed = set(names), ", ".join(names)
    errors = []
    for z, zone in cam.zones.items():
        for i, rule in enumerate(zone.rules):
            for key in ("labels", "min_scores"):
                for label in getattr(rule, key, None) or []:
                    if label not in known:
                        errors.append(FieldError(f"zones.{z}.rules.{i}.{key}", f"unknown label '{label}'; "
                                                 f"the classes of {model} are: {listed}"))
    for label in cam.objects.filters:
        if label not in known:
            errors.append(FieldError(f"objects.filters.{label}",
                                     f"unknown label '{label}'; the classes of {model} are: {listed}"))
    return errors


def check_camera(name: str, raw: object, base_dir: Path) -> dict[str, object]:
    """The camera's mapping as the YAML contract writes it (normalised: what an export shows), or
    ConfigInvalid naming every field that is wrong."""
    from vision.config import Camera as CameraModel
    from vision.config import parse_config

    if not NAME.match(name or ""):
        raise ConfigInvalid(name, [FieldError("name", "a camera name is 1-100 letters, digits, '_' or '-'")])
    if not isinstance(raw, dict):
        raise ConfigInvalid(name, [FieldError("", "a camera is a mapping (source, detect, zones, ...)")])
    try:
        cam = CameraModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigInvalid(name, [FieldError(field_path(tuple(e["loc"])), _message(dict(e)))
                                   for e in exc.errors()]) from None
    errors = [FieldError(where, problem) for where, pts in _polygons(cam)
              if (problem := polygon_problem(pts)) is not None]
    errors += _labels(cam, base_dir)
    if errors:
        raise ConfigInvalid(name, errors)
    try:   # the whole contract once more, as a worker will load it
        parse_config({"cameras": {name: raw}}, base_dir / "camera.yaml")
    except ConfigError as exc:
        raise ConfigInvalid(name, [FieldError("", str(exc))]) from None
    normal: dict[str, object] = cam.model_dump(mode="json", exclude_unset=True)
    return normal


def fold_globals(doc: dict[str, object]) -> dict[str, dict[str, object]]:
    """The cameras of a YAML document with its global sections folded into each (a camera's own keys win),
    so that each camera stands alone in the database."""
    cams = doc.get("cameras")
    if not isinstance(cams, dict) or not cams:
        raise ConfigInvalid("", [FieldError("cameras",
                                            "the YAML needs a 'cameras' mapping with at least one")])
    unknown = set(doc) - {"cameras", "detector", "detect", "tracker", "events", "motion", "objects"}
    if unknown:
        raise ConfigInvalid("", [FieldError(sorted(unknown)[0], "unknown top-level key (expected: cameras, "
                                            "detector, detect, tracker, events, motion, objects)")])
    out: dict[str, dict[str, object]] = {}
    for name, cam in cams.items():
        if not isinstance(cam, dict):
            raise ConfigInvalid(str(name), [FieldError("", "a camera is a mapping (source, detect, zones)")])
        merged = dict(cam)
        for section in ("detector", "detect", "tracker", "events", "motion", "objects"):
            glob = doc.get(section)
            if isinstance(glob, dict) and glob:
                own = cam.get(section) or {}
                merged[section] = {**glob, **own} if isinstance(own, dict) else own
                if section == "objects" and isinstance(own, dict) and "filters" in glob:
                    merged[section]["filters"] = {**glob["filters"], **(own.get("filters") or {})}
        out[str(name)] = merged
    return out


def absolute_source(raw: dict[str, object], base_dir: Path) -> dict[str, object]:
    """A relative file source (and detect sub-stream) made absolute from `base_dir` (the YAML file's folder,
    or the server's)."""
    out = dict(raw)
    for key in ("source", "detect_source"):
        src = raw.get(key)
        try:
            if isinstance(src, str) and src and "://" not in src and not Path(src).expanduser().is_absolute():
                out[key] = str((base_dir / src).resolve())
        except (OSError, RuntimeError):     # a name the file system refuses: the source check says so
            pass
    return out
