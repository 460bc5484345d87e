"""ONNX Runtime backend (the default): NanoDet, CenterNet, and Ultralytics YOLOv8/11 exports, on the CPU."""

from __future__ import annotations

import copy
import os
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from vision.detectors import DetectorSettings
from vision.detectors.decoding import read_model_format
from vision.detectors.tensor_detector import TensorDetector
from vision.errors import ModelError


def open_session(path: Path, threads: int, spin: bool = True) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    # spinning speeds up one inference (its threads wait for the next operator busily), but after the run the
    # pool's threads would go on spinning and take the cores from the work between runs (decoding and
    # the motion model in the read-ahead thread, the tracker): they stop when the run returns
    opts.add_session_config_entry("session.force_spinning_stop", "1")
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: not a model ONNX Runtime can load ({first[:200]}); "
                         "check the file is a complete .onnx export") from None


def session_metadata(session: ort.InferenceSession) -> dict[str, str]:
    return dict(session.get_modelmeta().custom_metadata_map or {})


# an input of at most this fraction of the model's area (packed motion regions) runs on one thread: YOLOX-Nano
# on the crops of the left_object case (24-50k pixels) took 2.3 ms of CPU on one thread against 3.4 (no
# spinning) to 5.4 ms (spinning) on two, and no less wall time; the same outputs, bit for bit
SMALL_INPUT = 1 / 3


class _OneThread:
    """The one-thread session of a multi-thread detector, opened when first asked for (50 ms and a second copy
    of the model's weights in memory): a detector that never runs a small input nor runs beside a read-ahead
    thread (the naive loop, a bench's whole frames, a 16-core machine) never opens it. Shared by the
    detector's copies (`OnnxDetector.beside`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.session: ort.InferenceSession | None = None
        self._lock = threading.Lock()   # a read-ahead thread (beside) and the detecting one may both ask

    def get(self) -> ort.InferenceSession:
        if self.session is None:
            with self._lock:
                if self.session is None:
                    self.session = open_session(self.path, 1)
        return self.session


class OnnxDetector(TensorDetector):
    def __init__(self, cfg: DetectorSettings, path: Path) -> None:
        self.session = open_session(path, cfg.threads, bool(getattr(cfg, "spin", True)))
        # one thread, for small inputs: opened at the first (a live camera's first motion region pays 50 ms)
        self._one = _OneThread(path) if cfg.threads > 1 else None
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"{path}: expected one image input, the model has {len(inputs)}")
        self._input = inputs[0].name
        fmt = read_model_format(path, session_metadata(self.session), tuple(inputs[0].shape),
                                [tuple(o.shape) for o in self.session.get_outputs()])
        super().__init__(cfg, path, fmt)

    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        session = self.session
        iw, ih = self.input_size
        if self._one is not None and batch.size <= SMALL_INPUT * 3 * iw * ih:   # all images of the batch
            session = self._one.get()
        return list(session.run(None, {self._input: batch}))

    def beside(self, busy: int = 1) -> OnnxDetector:
        """This detector for a caller that keeps `busy` threads of its own working while it detects (a
        pipeline whose source's read-ahead thread decodes and measures motion): every input on one thread
        when the cores cannot hold those and the detector's threads too. There a second inference thread only
        contends with that work: while the read-ahead thread holds a core, the pool's two threads wait on
        each other, spinning (the pipeline's CPU on the 1920x1080 street clip, all 49 runs whole-input:
        3.8-4.0 -> 2.7-2.8 s a pass). The same outputs, bit for bit (one model, two sessions)."""
        if self._one is None or (os.cpu_count() or 1) >= self.cfg.threads + busy:
            return self
        solo = copy.copy(self)
        solo.session = self._one.get()
        return solo

