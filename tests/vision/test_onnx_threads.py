"""ONNX Runtime: a small input (packed motion regions) runs on one thread, with the same outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vision.detectors import create_detector
from vision.detectors.onnx_runtime import OnnxDetector

MODEL = Path(__file__).resolve().parents[2] / "models" / "yolox_nano_416.onnx"


def _threads(det: OnnxDetector, batch: np.ndarray) -> list[int]:
    """Intra-op threads of each session the detector has run on, after running `batch`."""
    det.infer(batch)
    sessions = [det.session] + ([det._small] if det._small is not None else [])
    return [s.get_session_options().intra_op_num_threads for s in sessions]


def test_small_input_runs_on_one_thread_with_the_same_outputs() -> None:
    det = create_detector({"model": str(MODEL), "threads": 2})
    assert isinstance(det, OnnxDetector)
    full = np.random.default_rng(0).random((1, 3, 320, 416), dtype=np.float32) * 255
    assert _threads(det, full) == [2]   # a whole frame: the configured threads
    small = np.ascontiguousarray(full[:, :, :128, :192])
    assert _threads(det, small) == [2, 1]
    assert det._small is not None
    one = det.infer(small)
    two = det.session.run(None, {det.session.get_inputs()[0].name: small})
    assert len(one) == len(two) and all(np.array_equal(a, b) for a, b in zip(one, two, strict=True))


def test_one_thread_configured_keeps_one_session() -> None:
    det = create_detector({"model": str(MODEL), "threads": 1})
    assert isinstance(det, OnnxDetector)
    assert _threads(det, np.zeros((1, 3, 128, 128), np.float32)) == [1]
