"""Live RTSP against a real server (GStreamer's gst-rtsp-server in its own process, tests/rtsp.py): killed and
restarted, frozen and thawed, a wrong path; and an RTSP URL where nothing listens (no server needed)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rtsp import RtspCamera, clip_frames, free_port
from vision.errors import SourceError
from vision.sources import Backoff, SourceState, open_source

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clip_frames(ROOT / "sample_videos" / "vtest.avi", tmp_path_factory.mktemp("rtsp") / "frames", 200)


class Recorder:
    """Consumes a source in a thread; keeps every frame's time and every state change, with its clock time."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.times: list[float] = []
        self.walls: list[float] = []
        self.states: list[tuple[float, SourceState]] = []
        self.error: BaseException | None = None
        self.shape: tuple[int, ...] = ()

    def consume(self, src: object) -> None:
        self.src = src
        threading.Thread(target=self._run, daemon=True).start()

    def on_state(self, s: SourceState) -> None:
        self.states.append((time.monotonic() - self.t0, s))

    def _run(self) -> None:
        try:
            for f in self.src:  # type: ignore[attr-defined]
                self.times.append(f.t)
                self.walls.append(f.wall_time)
                self.shape = f.image.shape
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def wait_for(self, status: str, after: float, timeout: float) -> float:
        """Seconds from `after` (clock of this recorder) until the source reported `status`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, s in self.states:
                if at >= after and s.status == status:
                    return at - after
            time.sleep(0.05)
        raise AssertionError(
            f"no '{status}' within {timeout} s: {[(round(a, 1), s.status) for a, s in self.states]}"
        )

    def now(self) -> float:
        return time.monotonic() - self.t0


def started(url: str, backoff: Backoff | None = None, timeout_s: float = 5) -> tuple[Recorder, object]:
    rec = Recorder()
    src = open_source(url, 5, on_state=rec.on_state, backoff=backoff, timeout_s=timeout_s)
    rec.consume(src)
    return rec, src


@pytest.fixture
def recorders() -> Iterator[list[object]]:
    opened: list[object] = []
    yield opened
    for src in opened:
        src.close()  # type: ignore[attr-defined]


@pytest.mark.slow
def test_rtsp_server_killed_and_restarted(frames: Path, recorders: list[object]) -> None:
    cam = RtspCamera(frames).start()
    try:
        rec, src = started(cam.url, Backoff(initial_s=0.5, factor=2, cap_s=4))
        recorders.append(src)
        assert rec.wait_for("online", 0, 20) < 20
        time.sleep(4)
        before = len(rec.times)
        assert before >= 12 and rec.shape == (576, 768, 3)  # ~5 fps of the 10 fps stream
        cam.kill()
        killed = rec.now()
        lost = rec.wait_for("reconnecting", killed, 15)
        time.sleep(5)
        cam.start()
        restarted = rec.now()
        back = rec.wait_for("online", restarted, 20)
        time.sleep(2)
        reconnects, fps = src.state.reconnects, src.state.fps  # type: ignore[attr-defined]
    finally:
        cam.kill()
    gap = [b - a for a, b in zip(rec.walls, rec.walls[1:], strict=False) if b - a > 1]
    cut = [b - a for a, b in zip(rec.times, rec.times[1:], strict=False) if b - a > 0.5]
    print(f"\nRTSP kill: reconnecting after {lost:.2f} s; server down {restarted - killed:.1f} s; online "
          f"{back:.2f} s after the restart; frames {gap} s apart by the clock, {cut} by the timeline")
    assert lost < 2                    # the TCP connection closes at once
    assert back < 4 + 6                # the backoff is capped at 4 s, then the stream opens (~3 s of probing)
    assert len(gap) == 1 and gap[0] < restarted - killed + back + 1
    # the outage is cut out of the timeline; the backlog a new connection buffers (~2.6 s, read in a burst) is
    # skipped, or, should it be read at its own pace on a busy machine, timed by its own timestamps
    assert all(c < 3.5 for c in cut), cut
    steps = [b - a for a, b in zip(rec.times, rec.times[1:], strict=False)]
    assert min(steps) > 0.05  # never two frames at once
    assert rec.times == sorted(rec.times) and len(rec.times) > before + 5  # one timeline across the gap
    assert reconnects == 1 and rec.error is None
    # the detect fps, counted over a window: the burst that follows a reconnect is no spike
    assert 3 < fps < 6


@pytest.mark.slow
def test_rtsp_server_frozen_is_reported_then_recovers(frames: Path, recorders: list[object]) -> None:
    with RtspCamera(frames) as cam:
        rec, src = started(cam.url, timeout_s=10)  # the freeze (~5 s) ends before the read times out
        recorders.append(src)
        rec.wait_for("online", 0, 20)
        time.sleep(2)
        cam.pause()
        paused = rec.now()
        stalled = rec.wait_for("reconnecting", paused, 10)
        msg = [s.error for at, s in rec.states if s.status == "reconnecting"][0] or ""
        time.sleep(2)
        cam.resume()
        resumed = rec.now()
        back = rec.wait_for("online", resumed, 15)
    print(f"\nRTSP freeze: reported after {stalled:.2f} s, online {back:.2f} s after the thaw")
    assert 2.5 <= stalled <= 5 and cam.url in msg and "no frames" in msg
    assert back < 3


@pytest.mark.slow
def test_rtsp_wrong_path_says_the_server_gives_no_video(frames: Path) -> None:
    with RtspCamera(frames) as cam:
        url = cam.url.replace("/cam", "/nothing-here")
        src = open_source(url, 5, timeout_s=5, backoff=Backoff(initial_s=0.1, max_attempts=1))
        with pytest.raises(SourceError) as err:
            next(iter(src))
        src.close()
    msg = str(err.value)
    assert url in msg and "answers but gives no video" in msg and "check that the camera is on" in msg


def test_rtsp_nothing_listening_names_url_and_what_to_do() -> None:
    port = free_port()
    url = f"rtsp://admin:s3cret@127.0.0.1:{port}/stream1"
    states: list[SourceState] = []
    src = open_source(url, 5, timeout_s=2, on_state=states.append, backoff=Backoff(initial_s=0.05,
                                                                                   max_attempts=2))
    with pytest.raises(SourceError) as err:
        next(iter(src))
    src.close()
    msg = str(err.value)
    shown = f"rtsp://admin:***@127.0.0.1:{port}/stream1"
    assert shown in msg and "s3cret" not in msg
    assert f"nothing listens on 127.0.0.1:{port}" in msg and "URL in the camera config" in msg
    assert "after 2 attempts" in msg
    assert [s.status for s in states] == ["reconnecting", "reconnecting", "offline"]
    assert all("s3cret" not in (s.error or "") for s in states)


def test_stream_down_for_long_is_offline_while_it_keeps_retrying(monkeypatch: pytest.MonkeyPatch) -> None:
    import vision.sources_stream

    monkeypatch.setattr(vision.sources_stream, "OFFLINE_AFTER_S", 0.5)
    url = f"rtsp://127.0.0.1:{free_port()}/cam"
    states: list[SourceState] = []
    src = open_source(url, 5, timeout_s=1, on_state=states.append, backoff=Backoff(initial_s=0.2, factor=2,
                                                                                   cap_s=0.4))
    got: list[object] = []
    consumer = threading.Thread(target=lambda: got.extend(src), daemon=True)  # waits; must not raise
    consumer.start()
    time.sleep(2.0)
    src.close()
    consumer.join(3)
    seen = [s.status for s in states]
    assert seen[0] == "reconnecting" and "offline" in seen and seen.index("offline") >= 2
    offline = [s for s in states if s.status == "offline"]
    assert all(s.retry_in_s for s in offline) and len(offline) >= 2  # still retrying
    state, detail = offline[-1].live()
    assert state == "offline" and detail.startswith("down ") and "retry in 0." in detail and url in detail
    assert not consumer.is_alive() and got == []
    assert SourceState(uri=url, status="connecting").live() == ("reconnecting", "")
    assert SourceState(uri=url, status="online").live() == ("online", "")


@pytest.mark.slow
def test_rtsp_frame_times_follow_the_stream_timestamps(tmp_path: Path) -> None:
    """Frames numbered by a bar's length, served at 10 fps: two frames k apart in the stream are k / 10 s
    apart in time, whenever they arrived; and the first frame is live, not the backlog buffered while
    connecting."""
    import cv2
    import numpy as np

    folder = tmp_path / "bars"
    folder.mkdir()
    for i in range(150):
        img = np.full((240, 640, 3), 40, np.uint8)
        img[100:140, : 4 * i + 4] = 255
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), img)

    def number(image: np.ndarray) -> int:
        return int(round(((image[120] > 150).all(axis=1).sum() - 4) / 4))

    with RtspCamera(folder) as cam:
        src = open_source(cam.url, 5, timeout_s=10)
        frames = []
        opened = time.time()
        for f in src:
            frames.append((f.t, number(f.image), f.wall_time))
            if len(frames) == 25:
                break
            if len(frames) == 12:
                cam.pause()  # a hiccup shorter than an outage: what was sent late arrives in a burst
                time.sleep(0.8)
                cam.resume()
        src.close()
    nums = [n for _, n, _ in frames]
    pairs = [(b[0] - a[0], (b[1] - a[1]) / 10)
             for a, b in zip(frames, frames[1:], strict=False) if b[1] > a[1]]
    assert len(pairs) >= 20, nums  # (the loop restarts at frame 149)
    assert all(abs(dt - dn) < 0.03 for dt, dn in pairs), pairs
    # not two frames of one burst: a backlog arrives within ~20 ms, live frames of a 10 fps stream
    # ~100 ms apart, give or take the scheduler (0.0998 s was seen)
    assert frames[1][2] - frames[0][2] > 0.05, (frames[0], frames[1], opened)


def test_analyze_gives_up_on_a_stream_that_never_answers(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`sharpeyes analyze rtsp://...` at the console: a stream that never connects ends in an error that says
    what is wrong, after a few attempts, instead of waiting forever like a worker's camera does."""
    import vision.analyze as analyze_mod

    monkeypatch.setattr(analyze_mod, "STREAM_ATTEMPTS", 1)
    url = f"rtsp://127.0.0.1:{free_port()}/cam"
    with pytest.raises(SourceError) as err:
        analyze_mod.analyze_clip(ROOT / "sample_videos" / "cases" / "vtest_line" / "camera.yaml", url,
                                 events_path=tmp_path / "ev.jsonl")
    assert "gave up after 1 attempts" in str(err.value) and "nothing listens" in str(err.value)


@pytest.mark.slow
def test_analyze_of_a_stream_that_dies_writes_what_it_saw(frames: Path, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """A stream that gave frames and then went away for good: the open events end and are written, and the
    analysis returns like a clip that ends (exit 0), with a warning."""
    from vision.analyze import analyze_clip

    events = tmp_path / "ev.jsonl"
    with RtspCamera(frames) as cam:
        threading.Timer(8.0, cam.kill).start()
        with caplog.at_level("WARNING", logger="vision.analyze"):
            res = analyze_clip(ROOT / "sample_videos" / "cases" / "vtest_line" / "camera.yaml", cam.url,
                               events_path=events)
    assert res.clip_seconds > 3.0, res.clip_seconds
    assert len(events.read_text(encoding="utf-8").splitlines()) == len(res.records)
    assert any("analysis ends at" in r.getMessage() for r in caplog.records), caplog.text
