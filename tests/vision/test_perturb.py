"""`sharpeyes eval --perturb SPEC` (vision/perturb.py): the cases' frames as another camera would deliver them
(a light switched on or off, every N-th frame, another size, harder compression), the truth unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vision.analyze import AnalyzeResult
from vision.errors import ConfigError
from vision.eval import run_case
from vision.perturb import Perturb, parse
from vision.pipeline import PipelineStats
from vision.sources import FileSource, open_source

from .test_eval import CAMERA_YAML
from .test_sources_files import encode, number_of


def test_parse_reads_each_kind_and_their_times() -> None:
    p = parse("light=1.3")
    assert (p.light, p.light_from, p.light_to, p.every, p.scale, p.jpeg) == (1.3, "40%", None, 1, 1.0, None)
    p = parse("light=0.7@12.5, every=2, scale=0.5, jpeg=30")
    assert (p.light, p.light_from, p.every, p.scale, p.jpeg) == (0.7, 12.5, 2, 0.5, 30)
    p = parse("light=1.5@18..28")
    assert (p.light_from, p.light_to) == (18.0, 28.0)
    assert parse("light=1.5@20%..60%").resolved(50.0).light_from == pytest.approx(10.0)
    assert parse("light=1.5@20%..60%").resolved(50.0).light_to == pytest.approx(30.0)
    assert parse("light=1.3").resolved(40.0).light_from == pytest.approx(16.0)   # 40 % by default


@pytest.mark.parametrize("spec, says", [
    ("light", "is not key=value"),
    ("light=", "is not key=value"),
    ("light=0", "between 0 and 10"),
    ("light=1.3@soon", "is not G, G@AT or G@FROM..TO"),
    ("light=1.3@20..10", "FROM before TO"),
    ("light=1.3@10..50%", "mixes seconds and %"),
    ("every=0", "1 or more"),
    ("every=1.5", "1 or more"),
    ("scale=big", "needs a number"),
    ("scale=0", "between 0.05 and 4"),
    ("jpeg=101", "from 1 to 100"),
    ("blur=3", "is no perturbation"),
    ("every=2,every=3", "is given twice"),
    ("noise=0", "between 0 and 100"),
    ("noise=lots", "needs a number"),
    ("mono=1", "takes no value"),
])
def test_a_bad_spec_names_the_part_and_says_what_to_give(spec: str, says: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(spec)
    assert says in str(e.value) and "light=G" in str(e.value)


def test_a_time_in_percent_needs_the_cases_duration() -> None:
    with pytest.raises(ConfigError, match="duration_s"):
        parse("light=1.3@40%").resolved(None)
    assert parse("light=1.3@4").resolved(None).light_from == 4.0
    assert parse("every=2,scale=0.5").resolved(None).every == 2   # no light change: no time needed


def test_light_steps_or_ramps_and_clips_at_white() -> None:
    step = parse("light=2@1").resolved(None)
    assert [step.gain(t) for t in (0.0, 0.99, 1.0, 5.0)] == [1.0, 1.0, 2.0, 2.0]
    ramp = parse("light=0.5@2..4").resolved(None)
    assert [ramp.gain(t) for t in (1.0, 2.0, 3.0, 4.0, 9.0)] == pytest.approx([1.0, 1.0, 0.75, 0.5, 0.5])
    img = np.array([[[40, 100, 200]]], np.uint8)
    assert step.apply(img, 0.5).tolist() == [[[40, 100, 200]]]
    assert step.apply(img, 1.5).tolist() == [[[80, 200, 255]]]        # saturates, as a sensor does


def test_scale_and_jpeg_change_the_image_not_its_meaning() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    assert parse("scale=0.5").apply(img, 0.0).shape == (60, 80, 3)
    out = parse("jpeg=10").apply(img, 0.0)
    assert out.shape == img.shape and not np.array_equal(out, img)
    assert Perturb().changes_images is False and parse("every=2").changes_images is False


def test_mono_is_grey_and_noise_is_the_same_for_the_same_frame() -> None:
    img = np.zeros((40, 60, 3), np.uint8)
    img[:, :, 2] = 200   # red
    grey = parse("mono").apply(img, 0.0)
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all() and grey.max() > 0
    noisy = parse("noise=8")
    a, b, c = noisy.apply(img, 1.2), noisy.apply(img, 1.2), noisy.apply(img, 1.4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    spread = (a.astype(np.int16) - img)[..., 0]   # a dark channel: noise clipped below 0 on half of it
    assert 2.0 < float(spread.std()) < 8.0
    assert parse("mono,noise=3").changes_images


def test_the_source_delivers_every_nth_frame_at_their_own_times_after_the_phase(tmp_path: Path) -> None:
    """A 10 fps clip with every=2: frames 0, 2, 4, ... (a 5 fps camera); the phase's frames left out come
    first, so phase 1 gives 1, 3, 5, ...; the source says 5 fps."""
    clip = encode(tmp_path / "c.avi", 12, "-c:v", "mjpeg", "-q:v", "3")
    for skip, numbers in ((0, [0, 2, 4, 6, 8, 10]), (1, [1, 3, 5, 7, 9, 11])):
        with FileSource(clip, None, read_ahead=0, skip=skip, perturb=parse("every=2")) as src:
            frames = list(src)
            assert src.native_fps == pytest.approx(5.0) and src.source_fps == pytest.approx(10.0)
        assert [number_of(f.image) for f in frames] == numbers
        assert [f.t for f in frames] == pytest.approx([n / 10 for n in numbers])


def test_the_source_changes_the_light_from_its_time(tmp_path: Path) -> None:
    """light=2@0.5 on a grey-40 clip: grey 80 from 0.5 s on, the frames' numbers (their white bars) kept."""
    clip = encode(tmp_path / "c.avi", 10, "-c:v", "mjpeg", "-q:v", "2")
    with open_source(clip, None, perturb=parse("light=2@0.5").resolved(None), read_ahead=2) as src:
        frames = list(src)
    assert [number_of(f.image) for f in frames] == list(range(10))
    grey = [int(f.image[10, 10].mean()) for f in frames]
    assert all(35 <= g <= 45 for g in grey[:5]) and all(75 <= g <= 85 for g in grey[5:])


def test_a_stream_or_an_image_folder_is_not_perturbed(tmp_path: Path) -> None:
    from vision.errors import SourceError

    with pytest.raises(SourceError, match="recorded clip"):
        open_source("rtsp://127.0.0.1:1/x", 5, perturb=parse("every=2"))
    with pytest.raises(SourceError, match="image folder"):
        open_source(tmp_path, 5, perturb=parse("every=2"))


def test_eval_gives_each_case_the_perturbation_in_its_own_seconds(tmp_path: Path, monkeypatch: Any,
                                                                   capsys: Any) -> None:
    """A light change at 40 % is at 8 s of a 20 s case and 4 s of a 10 s one; the CLI says the run was
    perturbed and puts the perturbation in its JSON; a bad spec is an error that says what to give."""
    for name, duration in (("a", 20.0), ("b", 10.0)):
        d = tmp_path / name
        d.mkdir()
        (d / "camera.yaml").write_text(CAMERA_YAML)
        (d / "clip.mp4").write_bytes(b"x")
        (d / "truth.json").write_text(json.dumps({"kind": "real", "split": "dev", "duration_s": duration,
                                                  "events": []}))
    seen: list[Any] = []

    def fake(config: Any, clip: Any, **kw: Any) -> AnalyzeResult:
        seen.append(kw["perturb"])
        return AnalyzeResult([], PipelineStats(), 0.1, 10.0, 100)

    monkeypatch.setattr("vision.analyze.analyze_clip", fake)
    run_case(tmp_path / "a", perturb=parse("light=1.3,every=2"))
    run_case(tmp_path / "b", perturb=parse("light=1.3,every=2"))
    run_case(tmp_path / "b")
    assert [(p.light_from, p.every) for p in seen[:2]] == [(pytest.approx(8.0), 2), (pytest.approx(4.0), 2)]
    assert seen[2] is None

    from api.cli.main import main

    out = tmp_path / "r.json"
    assert main(["eval", str(tmp_path), "--perturb", "jpeg=40", "--json", str(out)]) == 0
    assert "perturbed: jpeg=40" in capsys.readouterr().out
    assert json.loads(out.read_text())["perturb"]["jpeg"] == 40
    assert main(["eval", str(tmp_path), "--perturb", "jpeg=40", "--phases", "2", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["perturb"]["spec"] == "jpeg=40"
    assert main(["eval", str(tmp_path), "--perturb", "fog=1"]) == 2
    assert "'fog=1' is no perturbation" in capsys.readouterr().err


def test_analyze_takes_a_perturbation_with_times_in_percent_of_the_clip(tmp_path: Path, capsys: Any) -> None:
    """`sharpeyes analyze --perturb`: the composed e-bike clip (75 s, its header says) at half its frame rate
    with the light switched on at 40 % (30 s) still gives its three visits; the annotated video has the
    changed frames; a bad spec is an error that says what to give, and no events file is written."""
    import cv2

    from api.cli.main import main

    root = Path(__file__).resolve().parents[2]
    clip = root / "sample_videos/composed_ebike_visits.mp4"
    cfg = root / "sample_videos/cases/ebike_visits/camera.yaml"
    events = tmp_path / "ev.jsonl"
    ann = tmp_path / "ann.mp4"
    assert main(["analyze", str(clip), "--config", str(cfg), "--events", str(events), "--annotated", str(ann),
                 "--perturb", "every=2,light=1.6@40%"]) == 0
    recs = [json.loads(line) for line in events.read_text().splitlines()]
    assert len(recs) == 3 and all(r["event"] == "ebike_in_corridor" for r in recs)
    cap = cv2.VideoCapture(str(ann))
    fps = cap.get(cv2.CAP_PROP_FPS)
    means = []
    for t in (10.0, 50.0):
        cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000)
        ok, frame = cap.read()
        assert ok
        means.append(float(frame.mean()))
    cap.release()
    assert fps == pytest.approx(5.0, abs=0.5)          # every other frame of the 10 fps clip
    assert means[1] > 1.3 * means[0]                  # brighter after 30 s
    bad = tmp_path / "bad.jsonl"
    assert main(["analyze", str(clip), "--config", str(cfg), "--events", str(bad),
                 "--perturb", "light=2@x"]) == 2
    assert "light=G" in capsys.readouterr().err and not bad.exists()
