"""`sharpeyes bench vision`'s pipeline/naive timing on a short clip cut from vtest.avi (real detector)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from api.bench.vision import interleaved_fps
from vision.config import load_config
from vision.detectors import create_detector

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "sample_videos/cases/vtest_fire_lane/camera.yaml"


def cut(out: Path, n: int) -> Path:
    cap = cv2.VideoCapture(str(ROOT / "sample_videos/vtest.avi"))
    vw = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"MJPG"), 10, (768, 576))
    for _ in range(n):
        ok, img = cap.read()
        assert ok
        vw.write(img)
    vw.release()
    cap.release()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("chunk_s", [1.0, 10.0])
def test_interleaved_runs_cover_the_whole_clip_each_its_own_way(tmp_path: Path, chunk_s: float) -> None:
    clip = cut(tmp_path / "short.avi", 36)  # 3.6 s at 10 fps; the camera detects at 5 fps
    camera = next(iter(load_config(CONFIG).cameras))
    detector = create_detector(None)
    out = interleaved_fps(str(CONFIG), str(clip), camera, detector, chunk_s=chunk_s)
    pipe, naive = out["pipeline"], out["naive"]
    # clip frames covered, up to the last one each analysed: the pipeline's last is frame 34 (5 fps of 10)
    assert (pipe["source_frames"], naive["source_frames"]) == (35, 36)
    # naive: the detector on every frame of the clip, whole frame; the pipeline: at detect fps, gated
    assert naive["detector_runs"]["frames"] == naive["detector_runs"]["detect_full"] == 36
    assert pipe["detector_runs"]["frames"] == 18
    assert pipe["detector_runs"]["detect_full"] + pipe["detector_runs"]["detect_regions"] <= 18
    assert pipe["seconds"] > 0 and naive["seconds"] > 0
    # fps = frames / seconds (the seconds reported rounded to 10 ms)
    assert abs(pipe["fps"] * pipe["seconds"] - 35) <= 0.006 * pipe["fps"]
    assert abs(naive["fps"] * naive["seconds"] - 36) <= 0.006 * naive["fps"]


@pytest.mark.slow
def test_stream_trial_starts_every_stream_after_all_have_loaded() -> None:
    """`bench vision`'s realtime trial: N stream processes load, wait at a barrier, then run the camera at
    its real frame rate, the streams spread over STAGGER_S (no two cameras in phase); each reports its frames
    against the frames its rate promises."""
    from api.bench.vision import STAGGER_S, _run_streams

    camera = next(iter(load_config(CONFIG).cameras))
    _, results = _run_streams(str(CONFIG), camera, str(ROOT / "sample_videos/vtest.avi"), 2, 1.0)
    assert len(results) == 2
    first, second = sorted(r["started"] for r in results)
    assert second - first >= 0.9 * STAGGER_S / 2     # the second stream one half of the stagger later
    for r in results:
        assert r["expected"] == pytest.approx(5.0)   # 1 s at the camera's 5 fps
        assert r["frames"] >= 1 and r["max_lag_s"] >= 0.0


def test_the_detector_is_warmed_before_either_side_is_timed(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """ONNX Runtime's first runs of a session cost more (memory planning); the pipeline runs first, so it
    paid them alone. Both sessions (a whole frame, a small crop at its own size) run twice on the clip's
    first frame before the first frame of either side is timed."""

    from vision.config import COCO_NAMES
    from vision.detections import Detections
    from vision.pipeline import CameraPipeline

    log: list[tuple[str, bool]] = []

    class Spy:
        class_names = list(COCO_NAMES)
        input_size = (416, 416)

        def detect_batch(self, images: list[np.ndarray], own_size: bool = False) -> list[Detections]:
            log.append((f"{images[0].shape[1]}x{images[0].shape[0]}", own_size))
            return [Detections.empty() for _ in images]

    process = CameraPipeline.process
    monkeypatch.setattr(CameraPipeline, "process",
                        lambda self, frame: (log.append(("process", self.naive)), process(self, frame))[1])
    clip = cut(tmp_path / "short.avi", 6)
    interleaved_fps(str(CONFIG), str(clip), next(iter(load_config(CONFIG).cameras)), Spy(), chunk_s=1.0)
    first = log.index(("process", False))
    assert log[:first] == [("768x576", False), ("256x192", True)] * 2


def test_the_detector_the_pipeline_runs_beside_its_read_ahead_is_warmed_too(tmp_path: Path) -> None:
    """With a read-ahead thread the pipeline detects on `beside` (OnnxDetector: every input on the
    one-thread session); its first runs are start-up too, so it is warmed as the detector is."""

    from vision.config import COCO_NAMES
    from vision.detections import Detections

    log: list[tuple[str, str]] = []

    class Spy:
        class_names = list(COCO_NAMES)
        input_size = (416, 416)

        def __init__(self, name: str) -> None:
            self.name = name

        def detect_batch(self, images: list[np.ndarray], own_size: bool = False) -> list[Detections]:
            log.append((self.name, f"{images[0].shape[1]}x{images[0].shape[0]}"))
            return [Detections.empty() for _ in images]

    class Configured(Spy):
        def beside(self) -> Spy:
            return Spy("solo")

    from api.bench.vision import _warm

    _warm(Configured("configured"), str(cut(tmp_path / "short.avi", 2)))
    assert log == [("configured", "768x576"), ("configured", "256x192")] * 2 + [("solo", "768x576"),
                                                                                ("solo", "256x192")] * 2


@pytest.mark.slow
def test_a_perturbed_clip_is_rendered_as_a_camera_would_deliver_it(tmp_path: Path) -> None:
    """`bench vision --perturb`: the clip as another camera would deliver it, encoded to H.264 at the rate its
    frames come at; every 2nd frame at half size (odd sides cut to even), grey (infrared night)."""
    import imageio_ffmpeg

    from api.bench.vision import render_perturbed

    clip = cut(tmp_path / "short.avi", 21)   # 2.1 s at 10 fps, 768x576
    out, perturb = render_perturbed(str(clip), "every=2,scale=0.49,mono", tmp_path)
    assert perturb.every == 2 and perturb.mono
    cap = cv2.VideoCapture(str(out))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    assert len(frames) == 11 and abs(fps - 5.0) < 0.01   # frames 0, 2, ..., 20 of the 10 fps clip
    assert frames[0].shape == (282, 376, 3)   # 768 x 576 at 0.49: 376 x 282 (both even already)
    b, g, r = (frames[3][:, :, k].astype(int) for k in range(3))
    # grey: the channels differ by a constant at most (the codec's colour range), not from pixel to pixel as
    # in the colour clip (standard deviations of 31 and 19 there)
    assert max(float(np.std(b - g)), float(np.std(g - r))) < 1.5
    codec = imageio_ffmpeg.read_frames(str(out))
    meta = next(codec)
    codec.close()
    assert meta["codec"] == "h264"


def test_a_bad_perturbation_is_refused_before_anything_runs(tmp_path: Path) -> None:
    from api.bench.vision import render_perturbed
    from vision.errors import ConfigError

    with pytest.raises(ConfigError, match="--perturb"):
        render_perturbed(str(ROOT / "sample_videos/vtest.avi"), "blur=3", tmp_path)
    assert list(tmp_path.iterdir()) == []
