"""OpenVINO backend (pip install 'sharpeyes[openvino]'): the same models and decoders as the ONNX backend.

Takes an `.onnx` file (class names and input format from its metadata) or an OpenVINO IR `.xml`
(Ultralytics' OpenVINO export: names and imgsz from the `metadata.yaml` beside it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from vision.detectors import OpenVinoDetectorConfig
from vision.detectors.decoding import read_model_format
from vision.detectors.tensor_detector import TensorDetector
from vision.errors import ModelError


def _metadata(path: Path) -> dict[str, str]:
    if path.suffix.lower() == ".onnx":
        from vision.detectors.onnx_runtime import open_session, session_metadata

        return session_metadata(open_session(path, 1))
    meta_file = path.parent / "metadata.yaml"
    if not meta_file.is_file():
        return {}
    data = yaml.safe_load(meta_file.read_text(encoding="utf-8")) or {}
    return {k: (v if isinstance(v, str) else repr(v)) for k, v in data.items()}


class OpenVinoDetector(TensorDetector):
    def __init__(self, cfg: OpenVinoDetectorConfig, path: Path) -> None:
        try:
            import openvino as ov
        except ImportError:
            raise ModelError(
                "detector type 'openvino' needs OpenVINO: pip install 'sharpeyes[openvino]'"
            ) from None
        core = ov.Core()
        try:
            model = core.read_model(str(path))
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses with long messages
            detail = " ".join(str(exc).split())[:300]
            raise ModelError(
                f"{path}: not a model OpenVINO can read (.onnx or OpenVINO .xml); {detail}"
            ) from None
        if len(model.inputs) != 1:
            raise ModelError(f"{path}: expected one image input, the model has {len(model.inputs)}")

        def dims(partial: Any) -> tuple[Any, ...]:
            return tuple(d.get_length() if d.is_static else None for d in partial)

        input_shape = dims(model.inputs[0].get_partial_shape())
        outputs = [dims(o.get_partial_shape()) for o in model.outputs]
        fmt = read_model_format(path, _metadata(path), input_shape, outputs)
        super().__init__(cfg, path, fmt)
        config = {"INFERENCE_NUM_THREADS": cfg.threads, "PERFORMANCE_HINT": "LATENCY"}
        try:
            self.compiled = core.compile_model(model, cfg.device, config)
        except Exception as exc:
            raise ModelError(f"{path}: OpenVINO cannot compile it for device {cfg.device!r} "
                             f"({str(exc).strip().splitlines()[0][:200]})") from None
        self.request = self.compiled.create_infer_request()

    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        result = self.request.infer({0: batch})
        return [np.asarray(result[out]) for out in self.compiled.outputs]
