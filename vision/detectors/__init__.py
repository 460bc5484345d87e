"""Detector plugins, one file per backend, chosen by the `type` key of the `detector` config section.

    detector: {type: onnx, model: models/yolox_nano_416.onnx, score_threshold: 0.35, threads: 2,
               filters: {car: {min_area: 900}}}

`type` defaults to `onnx` and `model` to the shipped default (models/yolox_nano_416.onnx,
                                                              chosen by event F1 and
cost on the real dev cases: docs/benchmarks.md), so an empty section works.
Every backend returns `vision.detections.Detections` in source pixels, with `data["class_name"]`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError

from vision.base import Detector
from vision.errors import ConfigError, ModelError

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL = MODELS_DIR / "yolox_nano_416.onnx"
# where a rule watches two-wheelers: small bicycles and motorbikes (10-30 px) are found far more often by
# PP-PicoDet-S than by YOLOX-Nano, at about four times the cost of a run (docs/benchmarks.md, round 6)
TWO_WHEELER_MODEL = MODELS_DIR / "picodet_s_416.onnx"
TWO_WHEELERS = frozenset({"bicycle", "motorcycle"})
# a two-wheeler that only line rules watch is kept from this score: ByteTrack continues a track with such a
# box (its second, low-score stage; it starts none), and a bicycle or motorbike ridden away from the camera
# often scores under 0.35 as it nears a line (docs/benchmarks.md, round 15)
LINE_TWO_WHEELER_SCORE = 0.2


class LabelFilter(BaseModel):
    """Per-label limits, in source pixels; a detection outside them is dropped."""

    model_config = ConfigDict(extra="forbid")

    min_area: float = Field(default=0, ge=0, description="Smallest box area (pixels²) kept for this label")
    max_area: float | None = Field(default=None, gt=0,
                                   description="Largest box area (pixels²) kept; none: no limit")
    min_score: float | None = Field(default=None, ge=0, le=1, description="Score threshold for this label; "
                                    "none: the detector's score_threshold")


class ConfirmSettings(BaseModel):
    """`detector.confirm`: the second model and when it agrees."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Model file of the confirming detector (relative to the config file); "
                       "the same backend and settings as the camera's detector")
    min_score: float = Field(default=0.3, ge=0, le=1, description="Least score of the confirming detection")
    min_iou: float = Field(default=0.3, gt=0, le=1,
                           description="Least overlap of the confirming box with the object's box")
    retry_s: float = Field(default=1.0, gt=0, description="A refused object is looked at again after this")


class DetectorSettings(BaseModel):
    """Settings every backend shares."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(default=str(DEFAULT_MODEL), description="Model file, relative to the config file "
                       "(default: the shipped models/yolox_nano_416.onnx)")
    score_threshold: float = Field(default=0.35, ge=0, le=1, description="Least score of a detection kept")
    iou_threshold: float = Field(default=0.5, gt=0, le=1, description="Overlap above which NMS drops the "
                                 "weaker of two boxes of one class")
    same_object_iou: float = Field(default=0.7, gt=0, le=1, description="Boxes of two kindred classes (car, "
                                   "truck, bus; bicycle, motorcycle) overlapping "
                                   "more than this are one object: "
                                   "the weaker is dropped (1: never)")
    labels: list[str] | None = Field(default=None,
                                     description="Only these labels are kept; none: all classes")
    filters: dict[str, LabelFilter] = Field(default_factory=dict, description="Per-label min/max area and "
                                            "score, by label name")
    threads: int = Field(default=2, ge=1, le=64, description="CPU threads one inference may use (ONNX "
                         "Runtime: an input of at most a third of the model's, packed motion regions, "
                         "uses one; so does every input of a clip analysed with its read-ahead thread "
                         "beside, where the cores cannot hold that thread and these)")
    classes: list[str] | None = Field(default=None, min_length=1, description="The model's class names in "
                                      "order, for a model that carries none readable before it loads (a .pt "
                                      "file, an ONNX export without `names` "
                                      "metadata): rule labels are checked "
                                      "against them when the config loads; they "
                                      "replace the model's own names "
                                      "(same count)")
    confirm: ConfirmSettings | None = Field(default=None, description="A second model that must see a new "
                                            "object too before its event fires (vision/confirm.py)")


class OnnxDetectorConfig(DetectorSettings):
    type: Literal["onnx"] = Field(default="onnx", description="ONNX Runtime on the CPU (the default)")
    spin: bool = Field(default=True, description="Let ONNX Runtime's threads busy-wait between operators "
                       "(its default): NanoDet 25 instead of 33 ms on 2 "
                       "idle cores; false is faster when other "
                       "work keeps the cores busy")


class OpenVinoDetectorConfig(DetectorSettings):
    type: Literal["openvino"] = Field(description="OpenVINO (pip install 'sharpeyes[openvino]')")
    device: str = Field(default="CPU", description="OpenVINO device: CPU, GPU, AUTO")


class UltralyticsDetectorConfig(DetectorSettings):
    type: Literal["ultralytics"] = Field(description="Ultralytics with your own .pt weights "
                                         "(pip install 'sharpeyes[ultralytics]'; needs torch)")
    device: str = Field(default="cpu", description="torch device: cpu, cuda:0, ...")
    imgsz: int = Field(default=640, ge=32, description="Inference size (pixels, longer side)")


def _detector_type(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "onnx"))
    return str(getattr(value, "type", "onnx"))


DetectorConfig = Annotated[
    Annotated[OnnxDetectorConfig, Tag("onnx")]
    | Annotated[OpenVinoDetectorConfig, Tag("openvino")]
    | Annotated[UltralyticsDetectorConfig, Tag("ultralytics")],
    Discriminator(_detector_type),
]
DETECTOR_TYPES = ("onnx", "openvino", "ultralytics")
_adapter: TypeAdapter[Any] = TypeAdapter(DetectorConfig)


def parse_detector_config(data: dict[str, Any] | None, where: str = "detector") -> DetectorConfig:
    """Validate a `detector` section; ConfigError naming `where` (file and section) and the key."""
    try:
        return _adapter.validate_python(data or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(x) for x in err["loc"] if x not in DETECTOR_TYPES]
        key = ".".join(loc)
        if err["type"] == "union_tag_invalid":
            msg = (f"unknown detector type {err['input'].get('type')!r}; "
                   f"expected one of: {', '.join(DETECTOR_TYPES)}")
        elif err["type"] == "extra_forbidden":
            kind = _detector_type(data)
            models: dict[str, type[BaseModel]] = {"onnx": OnnxDetectorConfig,
                                                  "openvino": OpenVinoDetectorConfig,
                                                  "ultralytics": UltralyticsDetectorConfig}
            model = models.get(kind, OnnxDetectorConfig)
            allowed = (
                LabelFilter.model_fields if len(loc) == 3 and loc[0] == "filters" else model.model_fields
            )
            msg = f"unknown key '{key}' (expected one of: {', '.join(sorted(allowed))})"
        else:
            msg = f"key '{key}': {err['msg']}" if key else str(err["msg"])
        raise ConfigError(f"{where}: {msg}") from None


def camera_detector(section: dict[str, Any] | None, watched: Iterable[str],
                    line_only: Iterable[str] = ()) -> dict[str, Any] | None:
    """A camera's detector section, with the default model chosen by the labels its rules watch: where no
    model (nor another backend) is named and a rule watches bicycles or motorcycles, TWO_WHEELER_MODEL. A
    two-wheeler label that only line rules watch (`line_only`) and that `filters` gives no min_score is kept
    from LINE_TWO_WHEELER_SCORE."""
    if section and section.get("type", "onnx") != "onnx":
        return section
    out = dict(section or {})
    if "model" not in out and TWO_WHEELERS & set(watched):
        out["model"] = str(TWO_WHEELER_MODEL)
    filters = out.get("filters")
    filters = dict(filters) if isinstance(filters, dict) else {}
    for label in sorted(TWO_WHEELERS & set(line_only)):
        own = filters.get(label)
        own = dict(own) if isinstance(own, dict) else {}
        if own.get("min_score") is None:
            floor = min(float(out.get("score_threshold", 1.0)), LINE_TWO_WHEELER_SCORE)
            filters[label] = {**own, "min_score": floor}
    if filters:
        out["filters"] = filters
    return out or section


def resolve_model(cfg: DetectorSettings, base_dir: Path | str | None) -> Path:
    path = Path(cfg.model).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if not path.is_file():
        hint = ("rebuild the shipped models with models/convert.py (see models/README.md)"
                if path.resolve().parent == MODELS_DIR else "check detector.model")
        raise ModelError(f"{path}: model file not found; {hint}")
    return path


def config_class_names(cfg: DetectorConfig, base_dir: Path | str | None) -> tuple[list[str] | None, str]:
    """The class names of the model a detector section names, without loading it, and how to name the model.

    None when they are known only once it loads (a .pt file or OpenVINO IR without `classes`)."""
    from vision.detectors.model_info import class_names

    path = Path(cfg.model).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    try:
        shown = str(path.resolve().relative_to(MODELS_DIR.parent))
    except ValueError:
        shown = str(path)
    return class_names(cfg.classes, path), shown


def create_detector(cfg: DetectorConfig | dict[str, Any] | None = None,
                    base_dir: Path | str | None = None) -> Detector:
    """Build the backend `cfg.type` names; the model path is relative to `base_dir` (the config's folder)."""
    if cfg is None or isinstance(cfg, dict):
        cfg = parse_detector_config(cfg)
    path = resolve_model(cfg, base_dir)
    if isinstance(cfg, OpenVinoDetectorConfig):
        from vision.detectors.openvino import OpenVinoDetector

        return OpenVinoDetector(cfg, path)
    if isinstance(cfg, UltralyticsDetectorConfig):
        from vision.detectors.ultralytics import UltralyticsDetector

        return UltralyticsDetector(cfg, path)
    from vision.detectors.onnx_runtime import OnnxDetector

    return OnnxDetector(cfg, path)


__all__ = [
    "DEFAULT_MODEL", "TWO_WHEELER_MODEL", "ConfirmSettings", "DetectorConfig", "DetectorSettings",
    "LabelFilter",
    "OnnxDetectorConfig", "OpenVinoDetectorConfig", "UltralyticsDetectorConfig", "camera_detector",
    "config_class_names", "create_detector", "parse_detector_config",
]
