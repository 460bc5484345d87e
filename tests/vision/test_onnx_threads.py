"""ONNX Runtime: a small input (packed motion regions) runs on one thread, with the same outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vision.detectors import create_detector
from vision.detectors.onnx_runtime import OnnxDetector

MODEL = Path(__file__).resolve().parents[2] / "models" / "yolox_nano_416.onnx"


def _record(session: Any, log: list[int], threads: int) -> None:
    """Log the session's intra-op threads each time it runs."""
    run = session.run
    session.run = lambda *a, **k: log.append(threads) or run(*a, **k)


def test_small_input_runs_on_one_thread_with_the_same_outputs() -> None:
    det = create_detector({"model": str(MODEL), "threads": 2})
    assert isinstance(det, OnnxDetector) and det._small is not None
    assert det.session.get_session_options().intra_op_num_threads == 2
    assert det._small.get_session_options().intra_op_num_threads == 1
    ran: list[int] = []
    _record(det.session, ran, 2)
    _record(det._small, ran, 1)
    full = np.random.default_rng(0).random((1, 3, 320, 416), dtype=np.float32) * 255
    det.infer(full)
    assert ran == [2]   # a whole frame: the configured threads
    small = np.ascontiguousarray(full[:, :, :128, :192])
    one = det.infer(small)
    assert ran == [2, 1]
    two = det.session.run(None, {det.session.get_inputs()[0].name: small})
    assert len(one) == len(two) and all(np.array_equal(a, b) for a, b in zip(one, two, strict=True))


def test_one_thread_configured_keeps_one_session() -> None:
    det = create_detector({"model": str(MODEL), "threads": 1})
    assert isinstance(det, OnnxDetector) and det._small is None
    ran: list[int] = []
    _record(det.session, ran, 1)
    det.infer(np.zeros((1, 3, 128, 128), np.float32))
    assert ran == [1]


def test_beside_a_busy_thread_on_two_cores_every_input_runs_on_one_thread(monkeypatch: Any) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    det = create_detector({"model": str(MODEL), "threads": 2})
    assert isinstance(det, OnnxDetector) and det._small is not None
    solo = det.beside()
    assert solo is not det and solo.session is det._small and det.session is not det._small
    ran: list[int] = []
    _record(det.session, ran, 2)
    _record(det._small, ran, 1)
    full = np.random.default_rng(1).random((1, 3, 320, 416), dtype=np.float32) * 255
    one = solo.infer(full)
    assert ran == [1]   # a whole frame too
    two = det.infer(full)
    assert ran == [1, 2]   # the detector itself (the naive loop's) keeps its threads
    assert all(np.array_equal(a, b) for a, b in zip(one, two, strict=True))


def test_beside_keeps_the_threads_where_the_cores_hold_them(monkeypatch: Any) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    det = create_detector({"model": str(MODEL), "threads": 2})
    assert det.beside() is det
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    one = create_detector({"model": str(MODEL), "threads": 1})
    assert isinstance(one, OnnxDetector) and one.beside() is one   # one thread already
