"""The detector's pre- and post-processing shortcuts give the numbers the plain formulas give (the same
detections, bit for bit): thresholds applied before the work they save, one OpenCV pass for the blob."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.detectors.decoding import ModelFormat, _blob, _rows_reaching, decode_yolox


def _yolox_reference(output: np.ndarray, fmt: ModelFormat, threshold: float,
                     size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """YOLOX decoding with every row's 80 class scores multiplied out (the formula as first written)."""
    from vision.detectors.decoding import _yolox_grid

    grid, stride_of = _yolox_grid(size[0], size[1], tuple(fmt.strides))
    cls = output[:, 5:] * output[:, 4:5]
    best = cls.argmax(axis=1)
    score = cls[np.arange(len(cls)), best]
    keep = np.nonzero(score >= threshold)[0]
    pred, s = output[keep], stride_of[keep, None]
    cxy = (pred[:, :2] + grid[keep]) * s
    half = np.exp(pred[:, 2:4]) * s / 2
    return np.concatenate([cxy - half, cxy + half], axis=1), score[keep], best[keep]


@pytest.mark.parametrize("class_max", [1.0, 3.0])   # sigmoid scores; raw scores above 1 (no shortcut)
def test_yolox_objectness_first_gives_the_same_detections(class_max: float) -> None:
    rng = np.random.default_rng(7)
    fmt = ModelFormat(decoder="yolox", class_names=[f"c{i}" for i in range(80)], size=(96, 64))
    rows = sum((96 // s) * (64 // s) for s in fmt.strides)
    out = rng.random((rows, 85), dtype=np.float32)
    out[:, 4] = rng.random(rows, dtype=np.float32) ** 3    # few objects
    out[:, 5:] *= class_max
    out[5, 5:] = out[5, 4]   # ties between classes
    for threshold in (0.05, 0.35, 0.9):
        got = decode_yolox(out, fmt, threshold, (96, 64))
        want = _yolox_reference(out, fmt, threshold, (96, 64))
        for g, w in zip(got, want, strict=True):
            assert g.dtype == w.dtype and np.array_equal(g, w)


def test_rows_reaching_a_threshold_as_the_row_maximum_finds_them() -> None:
    rng = np.random.default_rng(3)
    for n, power in ((2704, 12), (49, 1), (1, 1), (0, 1)):
        scores = (rng.random((n, 80), dtype=np.float32) ** power).astype(np.float32)
        for threshold in (0.0, 0.35, 0.999, 2.0):
            want = np.nonzero(scores.max(axis=1, initial=-1.0) >= threshold)[0]
            assert np.array_equal(_rows_reaching(scores, threshold), want)


@pytest.mark.parametrize("color", ["BGR", "RGB"])
@pytest.mark.parametrize("mean,std", [((103.53, 116.28, 123.675), (57.375, 57.12, 58.395)),
                                      ((0.0, 0.0, 0.0), (255.0, 255.0, 255.0)),
                                      ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))])
def test_blob_scales_each_channel_as_multiplying_after_did(color: str, mean: tuple[float, float, float],
                                                           std: tuple[float, float, float]) -> None:
    image = np.random.default_rng(5).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    fmt = ModelFormat(decoder="nanodet", class_names=["a"], size=(96, 64), color=color, mean=mean, std=std)
    want = np.asarray(cv2.dnn.blobFromImage(image, 1.0, (96, 64), mean, color == "RGB"), np.float32)
    want *= (1.0 / np.asarray(std, np.float32))[None, :, None, None]
    got = _blob(image, fmt)
    assert got.dtype == np.float32 and got.shape == (1, 3, 64, 96) and np.array_equal(got, want)
