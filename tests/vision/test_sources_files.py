"""Real-world files made here with FFmpeg: variable frame rate, a header that lies about its frame count,
a truncated file with a broken last GOP. Header counts and durations are hints: every frame that decodes is
delivered at its own timestamp, with one warning per clip and no error. (Slow: the same through
`sharpeyes analyze` with the real detector.)"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from vision.errors import SourceError
from vision.sources import FileSource, open_source

ROOT = Path(__file__).resolve().parents[2]
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
W, H = 160, 120
STEP_S = "if(lt(N,20),N/10,2+(N-20)/2)"  # frames 0-19 every 0.1 s, then every 0.5 s
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def bar(i: int) -> np.ndarray:
    """A frame whose white bar is 3*i pixels long, so its number survives any codec."""
    img = np.full((H, W, 3), 40, np.uint8)
    img[40:80, : 3 * i + 2] = 255
    return img


def number_of(image: np.ndarray) -> int:
    return int(round((int((image[60] > 150).all(axis=1).sum()) - 2) / 3))


def encode(out: Path, n: int, *args: str, rate: float = 10) -> Path:
    """Frames 0..n-1 of `bar` through FFmpeg with extra output arguments (filters, codec, muxer flags)."""
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
           "-s", f"{W}x{H}", "-r", str(rate), "-i", "-", *args, str(out)]
    frames = b"".join(bar(i).tobytes() for i in range(n))
    subprocess.run(cmd, input=frames, check=True, timeout=60)
    return out


def vfr_time(k: int) -> float:
    return k / 10 if k < 20 else 2 + (k - 20) / 2


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name == "vision.sources"
    ]


@pytest.mark.parametrize("name,args", [
    ("vfr.mp4", ["-vf", f"setpts='{STEP_S}/TB'", "-fps_mode", "vfr", *H264, "-g", "10"]),
    ("vfr.mkv", ["-vf", f"setpts='{STEP_S}/TB'", "-fps_mode", "vfr", "-c:v", "mjpeg", "-q:v", "3"]),
])
def test_variable_frame_rate_uses_the_frames_timestamps(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                        name: str, args: list[str]) -> None:
    clip = encode(tmp_path / name, 40, *args)
    frames = list(open_source(clip, None))
    assert [number_of(f.image) for f in frames] == list(range(40))
    assert [f.t for f in frames] == pytest.approx([vfr_time(k) for k in range(40)], abs=0.002)
    # at 2 fps the picks follow the timestamps: every 5th frame while they are 0.1 s apart, then every frame
    picked = [number_of(f.image) for f in open_source(clip, 2)]
    assert picked == [0, 5, 10, 15, *range(20, 40)]
    warned = warnings_of(caplog)
    assert len(warned) == 2  # one per pass over the clip
    assert str(clip) in warned[0] and "variable frame rate" in warned[0] and "100-500 ms" in warned[0]


def test_constant_rate_clip_warns_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clip = encode(tmp_path / "c.mp4", 30, *H264, "-g", "10")
    frames = list(open_source(clip, None))
    assert [f.t for f in frames] == pytest.approx([k / 10 for k in range(30)])
    assert warnings_of(caplog) == []


def patch_avi_frame_count(path: Path, frames: int) -> None:
    """Make an AVI's headers (avih dwTotalFrames, strh dwLength) claim `frames` frames."""
    data = bytearray(path.read_bytes())
    avih, strh = data.index(b"avih"), data.index(b"strh")
    data[avih + 24: avih + 28] = frames.to_bytes(4, "little")
    data[strh + 40: strh + 44] = frames.to_bytes(4, "little")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("claimed", [48, 33])
def test_header_frame_count_is_a_hint(tmp_path: Path, caplog: pytest.LogCaptureFixture, claimed: int) -> None:
    clip = encode(tmp_path / "c.avi", 40, "-c:v", "mpeg4", "-q:v", "3")
    patch_avi_frame_count(clip, claimed)
    src = open_source(clip, None)
    assert isinstance(src, FileSource) and src.frame_count == claimed
    frames = list(src)
    assert [number_of(f.image) for f in frames] == list(range(40))
    assert frames[-1].t == pytest.approx(3.9)
    (warned,) = warnings_of(caplog)
    assert f"header says {claimed} frames" in warned and "40 decoded" in warned and str(clip) in warned
    assert src.warnings == [warned] and src.state.status == "ended"


def test_truncated_avi_ends_the_clip_with_one_warning(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    clip = encode(tmp_path / "c.avi", 100, "-c:v", "mjpeg", "-q:v", "3")
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])  # the AVI header still says 100 frames; the index is gone
    got = [number_of(f.image) for f in open_source(clip, None)]
    assert 40 < len(got) < 60 and got[:-1] == list(range(len(got) - 1))  # the last one may be cut short
    (warned,) = warnings_of(caplog)
    assert str(clip) in warned and "header says 100 frames" in warned and f"but {len(got)} decoded" in warned
    assert "truncated" in warned


def test_broken_last_gop_of_an_mp4_ends_the_clip(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An MP4 with its index first (as cameras that stream-record write) cut off inside its last GOP."""
    clip = encode(tmp_path / "c.mp4", 100, *H264, "-g", "25", "-movflags", "+faststart")
    data = clip.read_bytes()
    clip.write_bytes(data[: int(len(data) * 0.85)])
    frames = list(open_source(clip, 5))
    nums = [number_of(f.image) for f in frames]
    assert nums == list(range(0, 2 * len(nums), 2)) and 15 <= len(nums) < 50
    assert [f.t for f in frames] == pytest.approx([n / 10 for n in nums])
    (warned,) = warnings_of(caplog)
    assert "header says 100 frames" in warned and "truncated, or a broken last GOP" in warned


def test_a_clip_with_no_decodable_frame_is_still_an_error(tmp_path: Path) -> None:
    clip = encode(tmp_path / "c.avi", 40, "-c:v", "mjpeg", "-q:v", "3")
    data = bytearray(clip.read_bytes())
    movi = data.index(b"movi")
    data[movi + 4:] = bytes(len(data) - movi - 4)  # every frame zeroed, the header intact
    clip.write_bytes(bytes(data))
    with pytest.raises(SourceError, match="no decodable frames") as err:
        list(open_source(clip, None))
    assert str(clip) in str(err.value)


def test_loop_continues_the_timeline_of_a_vfr_clip(tmp_path: Path) -> None:
    clip = encode(tmp_path / "v.mkv", 24, "-vf", f"setpts='{STEP_S}/TB'", "-fps_mode", "vfr", "-c:v", "mjpeg")
    src = open_source(clip, None, loop=True)
    frames = []
    for f in src:
        frames.append(f)
        if len(frames) == 30:
            break
    src.close()
    period = vfr_time(23) + 0.1  # the header's rate (10 fps) closes the loop
    assert [f.t for f in frames] == pytest.approx([vfr_time(k) for k in range(24)]
                                                  + [period + vfr_time(k) for k in range(6)], abs=0.002)
    assert [f.index for f in frames] == list(range(30))


# ---- through `sharpeyes analyze`, with the real detector ------------------------------------------------

CASE = ROOT / "sample_videos" / "cases" / "ebike_visits" / "camera.yaml"
COMPOSED = ROOT / "sample_videos" / "composed_ebike_visits.mp4"  # 10 fps; visits 3.5-15.6 s and 27.5-40.1 s


def analyze(clip: Path, tmp_path: Path) -> tuple[int, list[dict[str, float]], list[str]]:
    events = tmp_path / "ev.jsonl"
    proc = subprocess.run([sys.executable, "-m", "api.cli.main", "analyze", str(clip), "--config", str(CASE),
                           "--events", str(events)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    recs = [json.loads(line) for line in events.read_text().splitlines()] if events.exists() else []
    warned = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    return proc.returncode, recs, warned


def recode(out: Path, *args: str) -> Path:
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-i", str(COMPOSED), "-frames:v",
                    "440",
                    "-an", *args, str(out)], check=True, timeout=300)
    return out


@pytest.mark.slow
def test_analyze_vfr_clip_gives_event_times_from_timestamps(tmp_path: Path) -> None:
    """The first 20 s at 10 fps, the rest at 5 fps (each frame shown 0.2 s): the second visit, frames
    275-401 of the composed clip, happens at 20 + (k - 200) / 5 = 35-60 s of the VFR clip."""
    clip = recode(tmp_path / "vfr.mp4", "-vf", "setpts='if(lt(N,200),N/10,20+(N-200)/5)/TB'", "-fps_mode",
                  "vfr",
                  *H264, "-crf", "18")
    rc, recs, warned = analyze(clip, tmp_path)
    assert rc == 0 and len(warned) == 1 and "variable frame rate" in warned[0], warned
    assert {r["event"] for r in recs} == {"ebike_in_corridor"}
    first, *second = sorted(recs, key=lambda r: r["first_seen_s"])
    # by the header's average rate (440 frames / 64 s = 6.9 fps) the first visit would be 13.6-21 s
    assert 3 <= first["first_seen_s"] <= 11 and 13 <= first["end_s"] <= 16  # truth: 3.5-15.6 s
    to_vfr = [20 + (t * 10 - 200) / 5 for t in (27.5, 40.1)]  # 35.0 s, 60.2 s
    assert second and all(to_vfr[0] - 1 <= r["first_seen_s"] and r["end_s"] <= to_vfr[1] + 3 for r in second)
    assert min(r["first_seen_s"] for r in second) <= 40 and max(r["end_s"] for r in second) >= 57


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["header", "truncated"])
def test_analyze_wrong_header_or_truncated_file_writes_events(tmp_path: Path, fault: str) -> None:
    if fault == "header":  # the header promises 448 frames, 440 are there (as the 467/459 clip of issue 11)
        clip = recode(tmp_path / "c.avi", "-c:v", "mpeg4", "-q:v", "4")
        patch_avi_frame_count(clip, 448)
    else:  # an MP4 with its index first, cut off in the GOP at about 41.5 s
        clip = recode(tmp_path / "c.mp4", *H264, "-g", "50", "-movflags", "+faststart")
        clip.write_bytes(clip.read_bytes()[: int(clip.stat().st_size * 0.95)])
    assert cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT) in (440, 448)
    rc, recs, warned = analyze(clip, tmp_path)
    assert rc == 0 and len(warned) == 1 and "header says" in warned[0], warned
    spans = sorted((r["first_seen_s"], r["end_s"]) for r in recs)
    assert len(spans) == 2 and 3 <= spans[0][0] <= 13 and 27 <= spans[1][0] <= 33 and spans[1][1] >= 38, spans


def test_a_clip_played_in_real_time_decodes_on_one_thread() -> None:
    """N cameras in real time share the cores: one FFmpeg decoding thread each; as fast as it decodes, FFmpeg
    picks its own number."""
    clip = Path(__file__).resolve().parents[2] / "sample_videos" / "composed_fire_lane.mp4"   # H.264
    threads = cv2.getNumThreads()
    cv2.setNumThreads(2)     # OpenCV gives FFmpeg as many decoding threads as its own pool has
    try:
        live = FileSource(clip, 5.0, realtime=True)._open()
        fast = FileSource(clip, 5.0)._open()
        assert fast.get(cv2.CAP_PROP_N_THREADS) == 2 and live.get(cv2.CAP_PROP_N_THREADS) == 1
        live.release()
        fast.release()
    finally:
        cv2.setNumThreads(threads)
