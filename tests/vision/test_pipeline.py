from pathlib import Path

import pytest

from vision.config import parse_config
from vision.pipeline import CameraPipeline

from .conftest import BlobDetector, scene

CFG = {
    "cameras": {"lot": {
        "source": "none.mp4",
        "detect": {"fps": 5},
        "events": {"clips": False},
        "zones": {
            "fire_lane": {"polygon": [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]],
                          "rules": [{"kind": "stationary", "labels": ["car"], "min_seconds": 5,
                                     "event": "blocked"}]},
            "lawn": {"polygon": [[0, 0.5], [0.45, 0.5], [0.45, 1], [0, 1]],
                     "rules": [{"kind": "presence", "labels": ["person"], "min_seconds": 1,
                                "event": "on_lawn"}]},
        },
    }},
}


def make(naive=False, media=None):
    cam = parse_config(CFG).cameras["lot"]
    det = BlobDetector()
    return CameraPipeline("lot", cam, det, naive=naive, media_dir=media), det


def script(t):
    """A car drives in and parks at 4 s, leaves at 40 s; a person crosses the lawn 10-16 s."""
    objs = []
    if t < 44:
        x = 330 - 30 * min(t, 4) if t < 40 else 210 + 30 * (t - 40)
        objs.append(("car", (x, 150, x + 60, 200)))
    if 10 <= t <= 16:
        x = 10 + 20 * (t - 10)
        objs.append(("person", (x, 130, x + 12, 170)))
    return objs


def run(pipe, seconds=50, start=0.0):
    msgs = []
    for k in range(int(seconds * 5)):
        t = start + k * 0.2
        msgs += pipe.process(scene(t, script(t % 60)))
    return msgs + pipe.finish()


@pytest.mark.parametrize("naive", [False, True])
def test_events_from_a_scene(naive: bool, tmp_path: Path) -> None:
    pipe, det = make(naive, tmp_path)
    ends = [m for m in run(pipe) if m.lifecycle == "end"]
    blocked = [m for m in ends if m.event == "blocked"]
    lawn = [m for m in ends if m.event == "on_lawn"]
    assert len(blocked) == 1 and blocked[0].label == "car"
    # under gating the fire lane (stationary rules only) is detected the moment motion there stops
    assert blocked[0].first_seen_s == pytest.approx(4.0,
                                                    abs=1.0) and blocked[0].end_s == pytest.approx(40,
                                                                                                   abs=1.5)
    assert len(lawn) == 1 and lawn[0].first_seen_s == pytest.approx(10, abs=1.0)
    assert Path(blocked[0].snapshot).is_file()
    if not naive:  # motion gating: most frames need no detector
        assert det.calls < 0.5 * pipe.stats.frames
    img = pipe.annotate(scene(20.0, script(20.0)))
    assert img.shape == (240, 320, 3)


def test_stationary_only_zone_ignores_what_passes() -> None:
    """A car driving through the fire lane without stopping: no event, and the detector looks at it about
    once per detect.stationary_s (plus keep-alives), not at every frame it moves."""
    pipe, det = make()
    msgs = []
    for k in range(int(12 * 5)):
        t = k * 0.2
        x = 330 - 30 * t
        msgs += pipe.process(scene(t, [("car", (x, 150, x + 60, 200))] if x > 160 else []))
    msgs += pipe.finish()
    assert not [m for m in msgs if m.event == "blocked"]
    assert pipe.stats.regions <= 6, pipe.stats.as_dict()
    assert det.calls < 0.3 * pipe.stats.frames


def test_state_stays_bounded_on_a_long_stream() -> None:
    """10 minutes of frames (the scene looped): ended tracks, zone memberships and rule state are dropped."""
    pipe, _ = make()
    sizes = []
    for k in range(10 * 60 * 5):
        t = k * 0.2
        pipe.process(scene(t, script(t % 60)))
        if k % 300 == 299:
            sizes.append(sum(pipe.state_size().values()))
    assert max(sizes[3:]) <= max(sizes[:3]) + 2, sizes


@pytest.mark.slow
def test_analyze_cli_on_vtest(tmp_path: Path) -> None:
    """The contract of `sharpeyes analyze`: events file lines = to_record(), snapshots beside it, annotated
    MP4."""
    import json

    from api.cli.main import main

    root = Path(__file__).resolve().parents[2]
    events = tmp_path / "ev.jsonl"
    rc = main(["analyze", str(root / "sample_videos/vtest.avi"), "--config",
               str(root / "sample_videos/cases/vtest_fire_lane/camera.yaml"), "--events", str(events),
               "--annotated", str(tmp_path / "ann.mp4")])
    assert rc == 0
    recs = [json.loads(line) for line in events.read_text().splitlines()]
    assert len(recs) == 2 and {r["event"] for r in recs} == {"fire_lane_blocked"}
    for r in recs:
        # the contract's fields in its order, then the stationary judgement (parked: under still_radius)
        assert list(r) == ["id", "camera", "zone", "event", "label", "track_id", "first_seen_s", "start_s",
                           "end_s", "max_score", "bbox", "snapshot", "displacement"]
        assert 0 <= r["displacement"] <= 0.15
        assert r["first_seen_s"] < 3 and r["end_s"] > 76 and Path(r["snapshot"]).is_file()
    assert (tmp_path / "ann.mp4").stat().st_size > 100_000


def test_config_error_from_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli.main import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "cameras:\n  a:\n    source: x.mp4\n    zones:\n      z: "
        "{polygon: [[0, 0], [1, 0], [1, 1]], rules: []}\n"
    )
    assert main(["analyze", "x.mp4", "--config", str(cfg), "--events", str(tmp_path / "e.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "camera 'a', zone 'z', key 'rules'" in err and err.count("\n") == 1


@pytest.mark.slow
def test_fast_walkers_on_a_line_need_the_frames_between_the_detect_fps_ones(tmp_path: Path) -> None:
    """vtest.avi at 3x speed (real footage; walkers move 1-2 widths per 0.2 s): crossings are found when the
    pipeline looks at the frames between the 5 fps ones while something moves near the line, and lost
    without (line_fps = fps, the old behaviour)."""
    import json

    from vision.eval import run_case

    case = Path(__file__).resolve().parents[2] / "sample_videos/cases/real_vtest_line_fast"
    found = {}
    for line_fps in (15, 5):
        copy = tmp_path / f"case_{line_fps}"
        copy.mkdir()
        cfg = (case / "camera.yaml").read_text()
        cfg = cfg.replace("source: ../../real/", f"source: {case.parents[1] / 'real'}/")
        cfg = cfg.replace("detect: {fps: 5}", f"detect: {{fps: 5, line_fps: {line_fps}}}")
        (copy / "camera.yaml").write_text(cfg)
        truth = json.loads((case / "truth.json").read_text())
        truth["clip"] = str((case / truth["clip"]).resolve())
        (copy / "truth.json").write_text(json.dumps(truth))
        result, _ = run_case(copy)
        found[line_fps] = result
    assert found[15].tp >= 12 and found[15].fp <= 1, found[15]
    assert found[5].tp <= found[15].tp - 3, (found[5], found[15])


@pytest.mark.slow
def test_a_small_line_camera_leaves_explained_whole_frame_plans_to_its_tracks() -> None:
    """vtest.avi at 3x speed and 256x192 (real footage): motion regions never fit one input there, so every
    frame with motion was planned on the whole frame, explained or not (109 detector runs of 134 frames).
    Such plans are skipped when the tracks explain the motion and no track stands near the line, and every
    crossing is still found, each dated within the case's tolerance."""
    from vision.analyze import analyze_clip
    from vision.eval import case_clip, load_truth, match_events

    case = Path(__file__).resolve().parents[2] / "sample_videos/cases/real_vtest_line_small_fast"
    truth = load_truth(case)
    result = analyze_clip(case / "camera.yaml", case_clip(case, truth), media=False)
    found = match_events(result.records, truth, case.name)
    assert (found.tp, found.fp, found.fn, found.duplicates) == (13, 0, 0, 0), found
    assert result.stats.full + result.stats.regions <= 100, result.stats


@pytest.mark.slow
def test_small_two_wheelers_on_a_line_are_counted() -> None:
    """The Oxford street at 480x270 (real footage; bicycles 10-40 px wide, one pushed away from the camera
    and seen from behind): both crossings of the counting line are found, each dated within the case's
    tolerance, with the default detector of a camera whose rules watch two-wheelers (PicoDet-S)."""
    from vision.eval import run_case

    result, records = run_case(Path(__file__).resolve().parents[2]
                               / "sample_videos/cases/real_street_bicycles_line_small")
    assert (result.tp, result.fp, result.fn) == (2, 0, 0), (result, records)


LINE_CFG = {"cameras": {"gate": {
    "source": "none.mp4", "detect": {"fps": 5, "line_fps": 10}, "events": {"clips": False},
    "zones": {"road": {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
                       "rules": [{"kind": "line", "labels": ["person"], "line": [[0.5, 0.3], [0.5, 0.9]],
                                  "direction": d, "event": "crossed"} for d in ("left_to_right",
                                                                                "right_to_left")]}},
}}}


def line_script(t: float) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Walkers crossing the line at x = 160 px, one slow and one fast."""
    objs = []
    if 1 <= t <= 9:
        x = 40 + 30 * (t - 1)
        objs.append(("person", (x, 120, x + 12, 160)))
    if 12 <= t <= 15:
        x = 20 + 90 * (t - 12)
        objs.append(("person", (x, 90, x + 12, 130)))
    return objs


@pytest.mark.parametrize("config,script_of,fps", [(CFG, script, 5), (LINE_CFG, line_script, 10)])
def test_motion_measured_ahead_changes_nothing(config: dict, script_of, fps: int,  # type: ignore[no-untyped-def]
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`ahead` (what a source's read-ahead thread runs on each frame before delivering it) done up to three
    frames before `process`: the same plans, detector runs and events as without it, and the background
    model fed the same frames. With line rules the background model is fed the detect-fps frames only, the
    frames between them keep their grey copy for a frame difference (fed every frame, the model changed the
    events on vtest_line)."""
    from vision.motion import MotionDetector

    fed: list[float] = []
    measure = MotionDetector.measure
    monkeypatch.setattr(MotionDetector, "measure",
                        lambda self, image, grey=None: (fed.append(float(image.mean())), measure(self, image,
                                                                                                  grey))[1])
    cam_name = next(iter(config["cameras"]))
    frames = [scene(k / fps, script_of(k / fps)) for k in range(int(20 * fps))]
    results = []
    for depth in (0, 3):
        fed.clear()
        det = BlobDetector()
        pipe = CameraPipeline(cam_name, parse_config(config).cameras[cam_name], det)
        msgs, modes = [], []
        for k, frame in enumerate(frames):
            if depth:
                for f in frames[k + (0 if k == 0 else depth):k + depth + 1]:
                    pipe.ahead(f)
            msgs += pipe.process(frame)
            modes.append(pipe.last_mode)
        msgs += pipe.finish()
        results.append(([(m.lifecycle, m.event, m.track_id, m.first_seen_s) for m in msgs], modes,
                        pipe.stats.as_dict(), det.calls, list(fed)))
    assert results[0] == results[1]
    msgs, modes, stats, calls, feeds = results[0]
    # without line rules every frame feeds the model; with them, the 5 fps ones only (every other frame here:
    # the frames between them are looked at by a frame difference)
    assert len(feeds) == (len(frames) if config is CFG else len(frames) // 2)
    assert {e for _, e, _, _ in msgs} == ({"crossed"} if config is LINE_CFG else {"blocked", "on_lawn"})
    assert "skip" in modes and calls < len(frames)  # gated: the comparison is not all full-frame runs


def test_a_crossing_pending_when_the_clip_ends_is_counted() -> None:
    """The clip ends while a walker stands with the feet 2 px past the counting line, short of the band (8 %
    of the box height) that counts a crossing at once: `finish` counts it, as the end of the track would. The
    walker behind, still short of the line, is not counted."""
    pipe = CameraPipeline("gate", parse_config(LINE_CFG).cameras["gate"], BlobDetector())
    msgs = []
    for k in range(70):   # 0 .. 6.9 s; from 5.2 s the walker's feet stand at x 162 (the line is at x 160)
        t = k / 10
        x = min(40 + 30 * (t - 1), 156)
        objs = [("person", (x, 120, x + 12, 160)), ("person", (x - 40, 170, x - 28, 210))] if t >= 1 else []
        msgs += pipe.process(scene(t, objs))
    assert [m for m in msgs if m.lifecycle == "new"] == []
    new = [m for m in pipe.finish() if m.lifecycle == "new"]
    assert len(new) == 1 and new[0].event == "crossed" and new[0].count == 1, new
    assert 4.8 <= new[0].first_seen_s <= 5.4 and new[0].start_s == pytest.approx(6.9)


BIKE_LINE_CFG = {"cameras": {"street": {
    "source": "none.mp4", "detect": {"fps": 5}, "events": {"clips": False},
    "zones": {"road": {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
                       "rules": [{"kind": "line", "labels": ["bicycle"], "line": [[0.0, 0.6], [1.0, 0.6]],
                                  "direction": "any", "event": "cycle"}]}},
}}}


@pytest.mark.parametrize("label,decides", [("person", False), ("car", False), ("bicycle", True)])
def test_only_a_track_that_may_decide_a_count_holds_whole_frames_at_a_line(label: str, decides: bool) -> None:
    """A line camera looks at the whole frame while a track stands at a line (which track is which decides
    the next count): not for a walker or a car at a line that counts only bicycles, which the tracker keeps
    apart from bicycles (another family of classes), so it never becomes one the line counts."""
    pipe = CameraPipeline("street", parse_config(BIKE_LINE_CFG).cameras["street"], BlobDetector())
    for k in range(3):   # the warm-up: whole frames, so the object is tracked
        pipe.process(scene(k * 0.2, [(label, (150, 120, 170, 146))]))   # feet 2 px from the line (y 144)
    assert len(pipe.tracker.tracks) == 1
    assert pipe._at_line(0.4) is decides


@pytest.mark.slow
def test_walkers_at_a_bicycle_line_leave_explained_whole_frames_to_the_tracks() -> None:
    """The Oxford street at 2x speed and 320x180 (real footage): walkers stand at the bicycles' counting line
    most of the time; explained whole-frame plans are no longer run for them (28 detector runs of 76 frames
    before), and both crossings are still found."""
    from vision.analyze import analyze_clip
    from vision.eval import case_clip, load_truth, match_events

    case = Path(__file__).resolve().parents[2] / "sample_videos/cases/real_street_bicycles_line_fast"
    truth = load_truth(case)
    result = analyze_clip(case / "camera.yaml", case_clip(case, truth), media=False)
    found = match_events(result.records, truth, case.name)
    assert (found.tp, found.fp, found.fn, found.duplicates) == (2, 0, 0, 0), found
    assert result.stats.full + result.stats.regions <= 26, result.stats


class Solo(BlobDetector):
    """What `beside` gives (one inference thread); counts its calls apart from the configured one's."""


class Besides(BlobDetector):
    def __init__(self) -> None:
        super().__init__()
        self.solo = Solo()

    def beside(self) -> BlobDetector:
        return self.solo


@pytest.mark.parametrize("naive", [False, True])
def test_with_a_read_ahead_thread_the_pipeline_detects_on_the_detector_beside_it(naive: bool) -> None:
    """A source's read-ahead thread doing the motion work (`ahead`) takes a core: the pipeline runs its
    detector as `beside` gives it (one thread, the same outputs); the naive loop, the bench's baseline,
    keeps the detector as configured; without a read-ahead thread nothing changes."""
    cam = parse_config(CFG).cameras["lot"]
    for ahead in (False, True):
        det = Besides()
        pipe = CameraPipeline("lot", cam, det, naive=naive)
        for k in range(50):
            frame = scene(k * 0.2, script(k * 0.2))
            if ahead:
                pipe.ahead(frame)
            pipe.process(frame)
        beside = ahead and not naive
        assert (det.solo.calls > 0, det.calls == 0) == (beside, beside)
