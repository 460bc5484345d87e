"""Frame sources on generated clips, a local MJPEG server, a dead URL, and (slow) the real sample clips."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.errors import SourceError
from vision.sources import Backoff, SourceState, decode_stats, open_source

ROOT = Path(__file__).resolve().parents[2]


def numbered(i: int, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    """A frame whose mean brightness encodes its number (robust to JPEG/MPEG compression)."""
    w, h = size
    return np.full((h, w, 3), (i * 5) % 250, np.uint8)


def number_of(image: np.ndarray) -> int:
    return int(round(float(image.mean()) / 5))


def write_clip(path: Path, n: int, fps: float = 10.0, fourcc: str = "MJPG") -> Path:
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (160, 120))
    assert vw.isOpened()
    for i in range(n):
        vw.write(numbered(i))
    vw.release()
    return path


@pytest.mark.parametrize("fps,expected", [
    (None, list(range(40))),
    (10.0, list(range(40))),
    (5.0, list(range(0, 40, 2))),
    (2.5, list(range(0, 40, 4))),
    (3.0, [0, 4, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37]),
])
def test_file_frames_at_detect_fps(tmp_path: Path, fps: float | None, expected: list[int]) -> None:
    clip = write_clip(tmp_path / "c.avi", 40, fps=10)
    frames = list(open_source(clip, fps))
    assert [f.index for f in frames] == expected
    assert [number_of(f.image) for f in frames] == [i % 50 for i in expected]  # pixels match the index
    assert [f.t for f in frames] == pytest.approx([i / 10 for i in expected])
    assert all(f.wall_time is None for f in frames)


def test_mp4_and_mkv_are_read(tmp_path: Path) -> None:
    for name, fourcc in (("c.mp4", "mp4v"), ("c.mkv", "MJPG")):
        frames = list(open_source(write_clip(tmp_path / name, 12, fourcc=fourcc), 5))
        assert [f.index for f in frames] == [0, 2, 4, 6, 8, 10], name


def test_relative_path_from_base_dir(tmp_path: Path) -> None:
    write_clip(tmp_path / "c.avi", 4)
    assert len(list(open_source("c.avi", None, base_dir=tmp_path))) == 4


def put(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make,message", [
    (lambda d: d / "missing.mp4", "does not exist"),
    (lambda d: put(d / "empty.mp4", b""), "empty"),
    (lambda d: put(d / "text.mp4", b"not a video " * 100), "cannot open clip"),
    (lambda d: (d / "imgs").mkdir() or d / "imgs", "has no images"),
])
def test_unopenable_sources_name_the_file(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    with pytest.raises(SourceError, match=message) as err:
        list(open_source(path, 5))
    assert str(path) in str(err.value)


def test_bad_fps_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="detect fps"):
        open_source(write_clip(tmp_path / "c.avi", 2), 0)


def test_image_folder(tmp_path: Path) -> None:
    for i in range(5):
        cv2.imwrite(str(tmp_path / f"f{i:03d}.png"), numbered(i))
    (tmp_path / "notes.txt").write_text("ignored")
    frames = list(open_source(tmp_path, 2))
    assert [number_of(f.image) for f in frames] == [0, 1, 2, 3, 4]
    assert [f.t for f in frames] == [0, 0.5, 1.0, 1.5, 2.0]
    (tmp_path / "f002.png").write_bytes(b"broken")
    src = open_source(tmp_path, 2)
    frames = list(src)
    assert [(f.index, f.t) for f in frames] == [(0, 0), (1, 0.5), (3, 1.5), (4, 2.0)]
    assert src.warnings == [f"image folder {tmp_path}: 1 image(s) did not decode (first: f002.png, frame 2) "
                            "and were skipped; every image that decodes was processed"]
    for f in tmp_path.glob("*.png"):
        f.write_bytes(b"broken")
    with pytest.raises(SourceError, match="none of its 5 images decodes"):
        list(open_source(tmp_path, 2))


def test_realtime_loop_paces_frames_and_continues_the_timeline(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import vision.sources_base

    monkeypatch.setattr(vision.sources_base, "REPORT_S", 0.25)
    clip = write_clip(tmp_path / "c.avi", 10, fps=20)  # 0.5 s clip
    states: list[SourceState] = []
    src = open_source(clip, 10, realtime=True, loop=True, on_state=states.append)
    t0 = time.monotonic()
    frames = []
    for f in src:
        frames.append(f)
        if len(frames) == 12:
            break
    elapsed = time.monotonic() - t0
    src.close()
    assert 1.0 <= elapsed < 2.0  # 12 frames at 10 fps of clip time = 1.1 s of wall time
    assert [f.index for f in frames] == list(range(0, 24, 2))  # the index goes on across loops
    assert [f.t for f in frames] == pytest.approx([i / 10 for i in range(12)])
    assert all(f.wall_time is not None for f in frames)
    reports = [st for st in states if st.frames > 0]  # periodic reports while frames flow
    assert len(reports) >= 3 and all(st.status == "online" for st in reports)
    assert reports[-1].fps == pytest.approx(10, rel=0.3) and reports[-1].last_frame_time is not None


@pytest.mark.parametrize("fourcc,fps", [("MJPG", None), ("MJPG", 3.0), ("mp4v", 5.0), ("mp4v", None)])
def test_read_ahead_gives_the_same_frames_times_and_pixels(tmp_path: Path, fourcc: str,
                                                           fps: float | None) -> None:
    clip = write_clip(tmp_path / ("c.avi" if fourcc == "MJPG" else "c.mp4"), 40, fps=10, fourcc=fourcc)
    inline = list(open_source(clip, fps, read_ahead=0))
    ahead = list(open_source(clip, fps, read_ahead=2))
    assert [(f.index, f.t) for f in ahead] == [(f.index, f.t) for f in inline]
    assert len(ahead) == {None: 40, 5.0: 20, 3.0: 12}[fps]
    # each frame its own pixels (a decoder reusing one buffer would show the newest frame everywhere)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(ahead, inline, strict=True))


def test_read_ahead_decodes_in_its_own_thread_and_ends_with_the_consumer(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.avi", 40, fps=10)
    before = set(threading.enumerate())
    src = open_source(clip, None, read_ahead=3)
    frames = iter(src)
    assert number_of(next(frames).image) == 0
    mine = [t for t in threading.enumerate() if t not in before and t.name == "sharpeyes-read-ahead"]
    assert len(mine) == 1 and mine[0].is_alive()
    deadline = time.monotonic() + 10
    while not src.idle() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert src.idle() and mine[0].is_alive()  # 3 frames decoded ahead, then it waits for the consumer
    assert [number_of(next(frames).image) for _ in range(3)] == [1, 2, 3]
    src.close()
    assert not mine[0].is_alive()  # closing ends the thread (and releases the file)


def _worked_ahead(clip: Path) -> int:
    """Frames the read-ahead thread has decoded (and done `work` on) while the consumer holds the first."""
    src = open_source(clip, None)
    worked: list[int] = []
    src.work_ahead(lambda f: worked.append(f.index))
    frames = iter(src)
    next(frames)
    deadline, last = time.monotonic() + 10, -1
    while time.monotonic() < deadline and (not src.idle() or len(worked) != last):
        last = len(worked)
        time.sleep(0.1)
    src.close()
    return len(worked)


def test_read_ahead_holds_more_frames_of_a_small_clip(tmp_path: Path) -> None:
    """As many frames ahead as 16 MB hold, 3 to 12: a detector run (20-40 ms) takes one core in bursts, and
    3 small frames ahead were used up in one skipped stretch, leaving the read-ahead core idle during the next
    run. A 160x120 clip: 12 queued and one in hand; a 1920x1080 one: 3 (6 MB a frame)."""
    assert _worked_ahead(write_clip(tmp_path / "small.avi", 40)) == 1 + 12 + 1
    big = tmp_path / "big.avi"
    vw = cv2.VideoWriter(str(big), cv2.VideoWriter.fourcc(*"MJPG"), 10, (1920, 1080))
    for i in range(10):
        vw.write(numbered(i, (1920, 1080)))
    vw.release()
    assert _worked_ahead(big) == 1 + 3 + 1


def test_read_ahead_off_for_realtime_and_for_read_ahead_0(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.avi", 10, fps=10)
    before = set(threading.enumerate())
    for src in (open_source(clip, None, read_ahead=0), open_source(clip, None, realtime=True)):
        with src:
            for _ in src:
                assert not [t for t in threading.enumerate() if t not in before and t.is_alive()
                            and t.name == "sharpeyes-read-ahead"]
                break


def test_realtime_drops_frames_when_the_consumer_is_slow(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.avi", 40, fps=20)  # 2 s clip
    src = open_source(clip, None, realtime=True)
    t0 = time.monotonic()
    got = []
    for f in src:
        got.append(f.index)
        time.sleep(0.2)  # the consumer manages 5 frames/s out of 20
    elapsed = time.monotonic() - t0
    assert elapsed < 3.0  # never falls behind the clip's own timeline by more than a frame
    assert 8 <= len(got) <= 12 and got == sorted(got)


# ---- live streams -------------------------------------------------------------------------------

class MjpegServer:
    """A camera on 127.0.0.1 serving multipart MJPEG; `limit` ends each connection after that many frames."""

    def __init__(self, fps: float = 25.0, limit: int | None = None) -> None:
        self.fps, self.limit, self.served, self.connections = fps, limit, 0, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                k = 0
                try:
                    while server.limit is None or k < server.limit:
                        ok, jpg = cv2.imencode(".jpg", numbered(server.served))
                        self.wfile.write(
                            b"--frame\r\nContent-Type: image/jpeg\r\n"
                            + f"Content-Length: {len(jpg)}\r\n\r\n".encode()
                            + jpg.tobytes()
                            + b"\r\n"
                        )
                        server.served += 1
                        k += 1
                        time.sleep(1 / server.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/video.mjpg"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def camera() -> Iterator[MjpegServer]:
    cam = MjpegServer()
    yield cam
    cam.close()


def take(src: object, n: int, delay: float = 0.0) -> list:  # type: ignore[type-arg]
    out = []
    for f in src:  # type: ignore[attr-defined]
        out.append(f)
        if len(out) == n:
            break
        time.sleep(delay)
    return out


def test_stream_is_rate_limited_and_drops_instead_of_queueing(camera: MjpegServer) -> None:
    states: list[SourceState] = []
    src = open_source(camera.url, 5, on_state=states.append, timeout_s=5)
    try:
        t0 = time.monotonic()
        frames = take(src, 6, delay=0.3)  # a consumer slower than the camera
        elapsed = time.monotonic() - t0
        # every frame handed over is the newest one: its number is close to what the camera last sent
        behind = [camera.served - 1 - number_of(f.image) for f in frames[-1:]]
        assert behind[0] <= 3
        assert [f.index for f in frames] == sorted(f.index for f in frames)
        assert frames[-1].index - frames[0].index >= 5 * 25 * 0.3 * 0.6  # camera frames were skipped
        assert elapsed >= 5 * 0.3
        assert src.state.status == "online" and src.state.dropped > 10 and src.state.frames == 6
        assert states and states[0].status == "online"
        assert all(f.wall_time is not None for f in frames)
    finally:
        src.close()


def test_stream_reconnects_after_the_camera_drops() -> None:
    cam = MjpegServer(limit=10)  # every connection ends after 10 frames
    states: list[SourceState] = []
    src = open_source(cam.url, None, on_state=states.append, timeout_s=5,
                      backoff=Backoff(initial_s=0.05, cap_s=0.2))
    try:
        frames = take(src, 25)
        assert len(frames) == 25
        assert cam.connections >= 3
        assert [s.status for s in states].count("reconnecting") >= 2
        assert src.state.reconnects >= 2
    finally:
        src.close()
        cam.close()


def test_dead_url_backs_off_exponentially_then_goes_offline() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    states: list[SourceState] = []
    stamps: list[float] = []

    def record(st: SourceState) -> None:
        states.append(st)
        stamps.append(time.monotonic())

    src = open_source(f"http://127.0.0.1:{port}/x.mjpg", 5, on_state=record, timeout_s=2,
                      backoff=Backoff(initial_s=0.1, factor=2, cap_s=0.4, max_attempts=5))
    with pytest.raises(SourceError, match=rf"127\.0\.0\.1:{port}.*offline"):
        take(src, 1)
    src.close()
    delays = [s.retry_in_s or 0.0 for s in states if s.status == "reconnecting"]
    assert delays == [0.1, 0.2, 0.4, 0.4, 0.4]
    assert states[-1].status == "offline" and "5 attempts" in (states[-1].error or "")
    gaps = np.diff(stamps)
    assert all(g >= d * 0.9 for g, d in zip(gaps, delays, strict=False))


def test_backoff_is_capped() -> None:
    b = Backoff(initial_s=1, factor=3, cap_s=10)
    assert [b.delay(i) for i in range(1, 6)] == [1, 3, 9, 10, 10]


# ---- real clips -----------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name,frames,size", [("vtest.avi", 795, (768, 576)), ("bikes.mp4", 250, (640, 272))])
def test_sample_clips_decode_fully(name: str, frames: int, size: tuple[int, int]) -> None:
    path = ROOT / "sample_videos" / name
    every = list(f.index for f in open_source(path, None))
    assert every == list(range(frames))
    stats = decode_stats(path, 5)
    native = frames / stats.clip_seconds
    assert stats.frames == pytest.approx(frames * 5 / native, abs=1)
    first = next(iter(open_source(path, 5)))
    assert first.image.shape == (size[1], size[0], 3)
    assert stats.realtime_factor > 1  # decodes faster than real time


@pytest.mark.slow
@pytest.mark.parametrize("name", ["composed_ebike_corridor", "composed_left_object", "composed_fire_lane",
                                  "composed_fire_lane_passing"])
def test_composed_clips_match_their_ground_truth(name: str) -> None:
    """Each composed clip has the frames its truth says, the config's zones are the truth's, and every still
    object really is in the pixels at its box (the clip differs there from the background clip)."""
    import json

    from vision.config import load_config

    folder = ROOT / "sample_videos"
    truth = json.loads((folder / f"{name}.json").read_text())
    cam = load_config(folder / f"{name}.yaml").cameras[name]
    assert cam.source == truth["clip"]
    assert set(cam.zones) == set(truth["zones"])
    for z, zone in cam.zones.items():
        np.testing.assert_allclose(np.array(zone.polygon), np.array(truth["zones"][z]), atol=0.006)
    frames = {f.index: f.image for f in open_source(folder / truth["clip"], None)}
    assert len(frames) == truth["frames"] and frames[0].shape == (576, 768, 3)
    first = truth["background"]["first_frame"]
    background = {f.index - first: f.image for f in open_source(folder / "vtest.avi",
                                                                None) if f.index >= first}
    for obj in truth["objects"]:
        for t, x1, y1, x2, y2 in obj["boxes"][:: max(1, len(obj["boxes"]) // 8)]:
            i = int(round(t * 10))
            a = frames[i][y1:y2, x1:x2].astype(int)
            b = background[i][y1:y2, x1:x2].astype(int)
            assert np.abs(a - b).mean() > 12, (obj["id"], t)  # the object is there
    for ev in truth["events"]:
        assert ev["zone"] in truth["zones"] and 0 <= ev["first_seen_s"] < ev["end_s"] <= truth["duration_s"]


def test_stream_with_made_up_timestamps_is_timed_by_arrival() -> None:
    """MJPEG over HTTP has no timestamps: FFmpeg makes them up at 25 fps. A 10 fps camera's frames would run
    at 2.5x; once they fall behind the clock the source times them by arrival instead, without a jump back."""
    cam = MjpegServer(fps=10)
    src = open_source(cam.url, None, timeout_s=5)
    try:
        frames = take(src, 40)
    finally:
        src.close()
        cam.close()
    t = [f.t for f in frames]
    wall = [f.wall_time for f in frames]
    assert t == sorted(t)
    # arrival times
    assert all(abs((t[i + 1] - t[i]) - (wall[i + 1] - wall[i])) < 0.03 for i in range(30, 39))
    assert abs((t[-1] - t[0]) - (wall[-1] - wall[0])) < 1.2  # at most the 1 s slack lost before the switch


def test_work_ahead_runs_in_the_read_ahead_thread_before_each_frame_is_delivered(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.avi", 20, fps=10)
    done: dict[int, str] = {}
    src = open_source(clip, 5, read_ahead=2)
    assert src.work_ahead(lambda f: done.setdefault(f.index, threading.current_thread().name))
    got = []
    for frame in src:
        assert frame.index in done  # done before the frame was delivered
        got.append(frame.index)
    assert got == list(range(0, 20, 2)) and sorted(done) == got
    assert set(done.values()) == {"sharpeyes-read-ahead"}
    # no thread of its own: the caller is told to do the work itself
    assert not open_source(clip, 5, read_ahead=0).work_ahead(print)
    assert not open_source(clip, 5, realtime=True).work_ahead(print)


def test_an_error_in_work_ahead_reaches_the_consumer(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.avi", 20, fps=10)
    src = open_source(clip, None, read_ahead=2)

    def work(frame: object) -> None:
        if getattr(frame, "index", 0) == 5:
            raise ValueError("frame 5 is bad")

    src.work_ahead(work)
    got = []
    with pytest.raises(ValueError, match="frame 5 is bad"):
        for frame in src:
            got.append(frame.index)
    assert got == [0, 1, 2, 3, 4]
