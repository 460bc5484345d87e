import json
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from vision.config import EventSettings
from vision.lifecycle import EventManager
from vision.rules import Episode


def ep(key, t, done=False, score=0.6):
    return Episode(key=key, label="car", first_seen=1.0, start=2.0, last_t=t, box=np.array([10, 10, 50,
                                                                                            40.0]),
                   score=score, track_id=7, done=done)


def frame(k):
    img = np.zeros((120, 160, 3), np.uint8)
    img[:, (k * 3) % 160] = 255
    return img


def test_lifecycle_stable_id_snapshot_and_playable_clip(tmp_path: Path) -> None:
    mgr = EventManager("cam", EventSettings(pre_s=1, post_s=1, update_s=0.5), tmp_path, fps=5)
    msgs = []
    for k in range(40):
        t = k * 0.2
        msgs += mgr.push_frame(frame(k), t)
        eps = [ep("a", t, score=0.6 + 0.01 * k)] if 10 <= k < 25 else []
        msgs += mgr.step("zone", 0, "stationary", "blocked", eps, t)
    kinds = [m.lifecycle for m in msgs]
    assert kinds[0] == "new" and kinds[-1] == "end" and "update" in kinds
    assert len({m.id for m in msgs}) == 1
    assert [m.seq for m in msgs] == list(range(len(msgs)))
    end = msgs[-1]
    assert end.end_s == 4.8 and end.first_seen_s == 1.0 and end.max_score > 0.8
    assert Path(end.snapshot).is_file() and Path(end.clip).is_file()
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", end.clip],
                           capture_output=True, text=True)
    assert "h264" in probe.stderr and "yuv420p" in probe.stderr
    # 1 s before + 3 s of event + 1 s after, at 5 fps
    assert 20 <= imageio_ffmpeg.count_frames_and_secs(end.clip)[0] <= 27
    rec = end.to_record()
    json.dumps(rec)
    assert set(rec) == {"id", "camera", "zone", "event", "label", "track_id", "first_seen_s", "start_s",
                        "end_s",
                        "max_score", "bbox", "snapshot", "displacement"}


def test_finish_ends_open_events(tmp_path: Path) -> None:
    mgr = EventManager("cam", EventSettings(clips=False, snapshots=False), None, fps=5)
    mgr.push_frame(frame(0), 0.0)
    (new,) = mgr.step("z", 0, "presence", "e", [ep("a", 0.0)], 0.0)
    (end,) = mgr.finish(3.0)
    assert end.id == new.id and end.lifecycle == "end" and end.end_s == 2.0  # not before start_s
    assert mgr.state_size() == 0


def test_clip_follows_the_rate_frames_really_come_at(tmp_path: Path) -> None:
    """A line camera analyses at line_fps (15) but a 5 fps source gives 5: set_fps makes the clip's second
    before the event 5 frames, and the clip play at 5 fps, as for a camera configured at 5."""
    mgr = EventManager("cam", EventSettings(pre_s=1, post_s=1, update_s=0.5), tmp_path, fps=15)
    mgr.set_fps(5)
    msgs = []
    for k in range(40):
        t = k * 0.2
        msgs += mgr.push_frame(frame(k), t)
        msgs += mgr.step("zone", 0, "line", "crossing", [ep("a", t)] if 10 <= k < 25 else [], t)
    end = msgs[-1]
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(end.clip)
    assert 20 <= frames <= 27 and abs(seconds - frames / 5) < 0.3
