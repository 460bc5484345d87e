"""ONNX Runtime: a small input (packed motion regions) runs on one thread, with the same outputs; that
one-thread session is opened only once something needs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vision.detectors import create_detector, onnx_runtime
from vision.detectors.onnx_runtime import OnnxDetector

MODEL = Path(__file__).resolve().parents[2] / "models" / "yolox_nano_416.onnx"


def _record(session: Any, log: list[int], threads: int) -> None:
    """Log the session's intra-op threads each time it runs."""
    run = session.run
    session.run = lambda *a, **k: log.append(threads) or run(*a, **k)


def test_small_input_runs_on_one_thread_with_the_same_outputs() -> None:
    det = create_detector({"model": str(MODEL), "threads": 2})
    assert isinstance(det, OnnxDetector) and det._one is not None
    assert det.session.get_session_options().intra_op_num_threads == 2
    ran: list[int] = []
    _record(det.session, ran, 2)
    full = np.random.default_rng(0).random((1, 3, 320, 416), dtype=np.float32) * 255
    det.infer(full)
    assert ran == [2]   # a whole frame: the configured threads
    assert det._one.session is None   # and no one-thread session opened for it
    small = np.ascontiguousarray(full[:, :, :128, :192])
    one = det.infer(small)
    opened = det._one.session
    assert opened is not None and opened.get_session_options().intra_op_num_threads == 1
    _record(opened, ran, 1)
    assert len(one) == len(det.infer(small)) and det._one.session is opened   # opened once, then kept
    assert ran == [2, 1]
    two = det.session.run(None, {det.session.get_inputs()[0].name: small})
    assert len(one) == len(two) and all(np.array_equal(a, b) for a, b in zip(one, two, strict=True))


def test_a_detector_that_runs_only_whole_frames_opens_one_session(monkeypatch: Any) -> None:
    opened: list[int] = []
    real = onnx_runtime.open_session
    monkeypatch.setattr(onnx_runtime, "open_session",
                        lambda path, threads, spin=True: opened.append(threads) or real(path, threads, spin))
    det = create_detector({"model": str(MODEL), "threads": 2})
    full = np.random.default_rng(2).random((1, 3, 320, 416), dtype=np.float32) * 255
    det.infer(full)
    det.infer(full)
    assert opened == [2]   # the one-thread session's load time and memory are not paid
    det.infer(np.ascontiguousarray(full[:, :, :128, :192]))
    assert opened == [2, 1]


def test_one_thread_configured_keeps_one_session() -> None:
    det = create_detector({"model": str(MODEL), "threads": 1})
    assert isinstance(det, OnnxDetector) and det._one is None
    ran: list[int] = []
    _record(det.session, ran, 1)
    det.infer(np.zeros((1, 3, 128, 128), np.float32))
    assert ran == [1]


def test_beside_a_busy_thread_on_two_cores_every_input_runs_on_one_thread(monkeypatch: Any) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    det = create_detector({"model": str(MODEL), "threads": 2})
    assert isinstance(det, OnnxDetector) and det._one is not None and det._one.session is None
    solo = det.beside()
    assert solo is not det and solo.session is det._one.session and det.session is not solo.session
    assert isinstance(solo, OnnxDetector) and solo._one is det._one   # the copies share it
    ran: list[int] = []
    _record(det.session, ran, 2)
    _record(solo.session, ran, 1)
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
    assert isinstance(det, OnnxDetector) and det._one is not None and det._one.session is None
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    one = create_detector({"model": str(MODEL), "threads": 1})
    assert isinstance(one, OnnxDetector) and one.beside() is one   # one thread already
