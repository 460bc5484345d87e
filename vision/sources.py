"""Frame sources: video files, RTSP/HTTP(S) streams and image folders, decoded at the camera's detect fps.

Usage::

    from vision.sources import open_source

    with open_source("sample_videos/vtest.avi", fps=5) as frames:      # a recorded clip
        for frame in frames:                                           # vision.base.Frame
            print(frame.index, frame.t, frame.image.shape)

    # a live camera; the reader thread keeps only the newest frame, so a slow consumer never falls behind
    cam = open_source("rtsp://10.0.0.7/stream1", fps=5, on_state=lambda s: print(s.status, s.fps))

    # a sample clip played as if it were a live camera (the demo): real frame rate, looping forever
    demo = open_source("sample_videos/vtest.avi", fps=5, realtime=True, loop=True)

Files skip the frames between detect times with ``grab()`` (no pixel conversion); a live stream drops
frames rather than queueing them. A stream that fails reconnects with capped exponential backoff and
reports ``online`` / ``reconnecting`` / ``offline`` through :class:`SourceState`.
Errors a user can fix are :class:`vision.errors.SourceError` naming the file or URL, the frame and what to do.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from vision.base import Frame
from vision.errors import SourceError

Status = Literal["connecting", "online", "reconnecting", "offline", "ended"]
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_HINT = "mp4, avi, mkv, mov or any container FFmpeg decodes"
REPORT_S = 5.0  # while frames flow, the state callback also fires this often (fps, last frame time)


@dataclass
class SourceState:
    """What a source reports about itself (for `cameras/<id>/state` on the dashboard)."""

    uri: str
    status: Status = "connecting"
    fps: float = 0.0                    # frames delivered per second (moving average)
    last_frame_time: float | None = None  # unix time of the last delivered frame
    frames: int = 0                     # frames delivered
    dropped: int = 0                    # live: frames decoded but replaced by a newer one before use
    reconnects: int = 0
    retry_in_s: float | None = None     # while reconnecting: the wait before the next attempt
    error: str | None = None


StateCallback = Callable[[SourceState], None]


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff between reconnect attempts of a live stream.

    ``max_attempts=None`` retries forever (a camera that is down comes back when it is up again);
    otherwise the source goes ``offline`` and iteration raises SourceError after that many failures in a row.
    """

    initial_s: float = 0.5
    factor: float = 2.0
    cap_s: float = 30.0
    max_attempts: int | None = None

    def delay(self, attempt: int) -> float:
        """Wait before attempt number `attempt` (1 = the first retry)."""
        return float(min(self.cap_s, self.initial_s * self.factor ** max(0, attempt - 1)))


def is_stream(uri: str | os.PathLike[str]) -> bool:
    return str(uri).lower().startswith(STREAM_SCHEMES)


class FrameSource:
    """An iterator of :class:`Frame` with a :class:`SourceState`; close it (or use ``with``) when done."""

    def __init__(self, uri: str, on_state: StateCallback | None = None) -> None:
        self.uri = uri
        self.state = SourceState(uri=uri)
        self._on_state = on_state
        self._closed = threading.Event()
        self._state_lock = threading.Lock()
        self._fps_t: float | None = None
        self._reported = time.monotonic()

    def __iter__(self) -> Iterator[Frame]:
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        self._closed.set()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _set(self, **changes: object) -> None:
        with self._state_lock:
            for k, v in changes.items():
                setattr(self.state, k, v)
            snapshot = replace(self.state)
        if self._on_state is not None:
            self._on_state(snapshot)

    def _delivered(self, now: float) -> None:
        """Update the delivered-fps moving average; report the state every REPORT_S while frames flow."""
        s = self.state
        if self._fps_t is not None and now > self._fps_t:
            inst = 1.0 / (now - self._fps_t)
            s.fps = inst if s.fps == 0 else 0.8 * s.fps + 0.2 * inst
        self._fps_t = now
        s.frames += 1
        s.last_frame_time = time.time()
        if now - self._reported >= REPORT_S:
            self._reported = now
            self._set()


class FileSource(FrameSource):
    """A video file. `fps` picks frames at that rate by the file's timeline (None: every frame)."""

    def __init__(self, path: Path, fps: float | None, realtime: bool = False, loop: bool = False,
                 on_state: StateCallback | None = None) -> None:
        super().__init__(str(path), on_state)
        self.path = path
        self.fps = fps
        self.realtime = realtime
        self.loop = loop
        cap = self._open()
        self.native_fps = _native_fps(cap)
        self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        cap.release()

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise SourceError(f"cannot open clip {self.path}: not a video FFmpeg can decode ({VIDEO_HINT}), "
                              "or the file is incomplete; check the file or re-encode it")
        return cap

    def _frames(self) -> Iterator[Frame]:
        native = self.native_fps
        step = 1.0 / self.fps if self.fps else 0.0
        start = time.monotonic()
        base_index, base_t, next_t = 0, 0.0, 0.0
        self._set(status="online")
        while not self._closed.is_set():
            cap = self._open()
            i = -1
            try:
                while not self._closed.is_set():
                    if not cap.grab():
                        break
                    i += 1
                    t = base_t + i / native
                    if self.realtime:
                        # live emulation: skip frames whose time has passed, wait for the frame's time
                        behind = time.monotonic() - start
                        if t + 1.0 / native < behind:
                            continue
                    if t + 1e-6 < next_t:
                        continue
                    ok, image = cap.retrieve()
                    if not ok or image is None:
                        raise SourceError(f"clip {self.path} is corrupt at frame {i}: the frame cannot be decoded; "
                                          "the frames before it were processed; re-encode or replace the file")
                    if self.realtime:
                        wait = t - (time.monotonic() - start)
                        if wait > 0 and self._closed.wait(wait):
                            return
                    if step:
                        next_t += step
                        if next_t <= t:  # after realtime skipping: restart the grid from here
                            next_t = t + step
                    self._delivered(time.monotonic())
                    yield Frame(index=base_index + i, t=t, image=image,
                                wall_time=time.time() if self.realtime else None)
            finally:
                cap.release()
            read = i + 1
            if self.frame_count > 0 and read < self.frame_count - max(2, self.frame_count // 100):
                self._set(status="offline", error=f"ended at frame {read} of {self.frame_count}")
                raise SourceError(f"clip {self.path} is truncated or corrupt at frame {read} "
                                  f"(the header says {self.frame_count} frames): the frames before it were "
                                  "processed; re-encode or replace the file")
            if read == 0:
                raise SourceError(f"clip {self.path} has no decodable frames; check the file or re-encode it")
            if not self.loop:
                break
            base_index += read
            base_t += read / native
        self._set(status="ended")


class ImageDirSource(FrameSource):
    """A folder of images in name order, one frame each, `fps` frames per second of timeline."""

    def __init__(self, path: Path, fps: float | None, realtime: bool = False, loop: bool = False,
                 on_state: StateCallback | None = None) -> None:
        super().__init__(str(path), on_state)
        self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not self.files:
            raise SourceError(f"image folder {path} has no images ({', '.join(sorted(IMAGE_EXTS))}); "
                              "put the frames there or point the source at a video")
        self.fps = fps or 1.0
        self.realtime = realtime
        self.loop = loop

    def _frames(self) -> Iterator[Frame]:
        start = time.monotonic()
        k = 0
        self._set(status="online")
        while not self._closed.is_set():
            for f in self.files:
                t = k / self.fps
                image = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if image is None:
                    self._set(status="offline", error=f"unreadable {f.name}")
                    raise SourceError(f"image {f} (frame {k}) cannot be decoded: the frames before it were "
                                      "processed; replace or remove the file")
                if self.realtime:
                    wait = t - (time.monotonic() - start)
                    if wait > 0 and self._closed.wait(wait):
                        return
                self._delivered(time.monotonic())
                yield Frame(index=k, t=t, image=image, wall_time=time.time() if self.realtime else None)
                k += 1
                if self._closed.is_set():
                    return
            if not self.loop:
                break
        self._set(status="ended")


@dataclass
class _Latest:
    image: np.ndarray | None = None
    seq: int = 0
    t: float = 0.0
    wall: float = 0.0
    cond: threading.Condition = field(default_factory=threading.Condition)


class StreamSource(FrameSource):
    """A live RTSP/HTTP(S) stream read by a thread that keeps only the newest frame (drop, never queue)."""

    def __init__(self, url: str, fps: float | None, backoff: Backoff | None = None,
                 on_state: StateCallback | None = None, timeout_s: float = 10.0) -> None:
        super().__init__(url, on_state)
        self.fps = fps
        self.backoff = backoff or Backoff()
        self.timeout_s = timeout_s
        self._latest = _Latest()
        self._consumed = 0  # seq of the last frame handed to the consumer
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._reader, name=f"source:{url}", daemon=True)
        self._thread.start()

    def _connect(self) -> cv2.VideoCapture | None:
        ms = int(self.timeout_s * 1000)
        cap = cv2.VideoCapture(self.uri, cv2.CAP_FFMPEG,
                               [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _reader(self) -> None:
        failures = 0
        while not self._closed.is_set():
            cap = self._connect()
            got_frame = False
            if cap is not None:
                try:
                    while not self._closed.is_set():
                        ok, image = cap.read()
                        if not ok or image is None:
                            break
                        if not got_frame:
                            got_frame, failures = True, 0
                            self._set(status="online", error=None, retry_in_s=None)
                        lt = self._latest
                        with lt.cond:
                            if lt.image is not None and lt.seq > self._consumed:
                                self.state.dropped += 1
                            lt.image, lt.seq = image, lt.seq + 1
                            lt.t, lt.wall = time.monotonic() - self._t0, time.time()
                            lt.cond.notify_all()
                finally:
                    cap.release()
            if self._closed.is_set():
                break
            failures += 1
            mx = self.backoff.max_attempts
            if mx is not None and failures > mx:
                self._set(status="offline", retry_in_s=None,
                          error=f"no frames from {self.uri} after {mx} attempts")
                with self._latest.cond:
                    self._latest.cond.notify_all()
                return
            delay = self.backoff.delay(failures)
            self._set(status="reconnecting", reconnects=self.state.reconnects + (1 if got_frame else 0),
                      retry_in_s=delay, error="stream ended" if got_frame else "cannot connect")
            if self._closed.wait(delay):
                break

    def _frames(self) -> Iterator[Frame]:
        lt = self._latest
        step = 1.0 / self.fps if self.fps else 0.0
        next_due = 0.0
        while not self._closed.is_set():
            if step:
                wait = next_due - time.monotonic()
                if wait > 0 and self._closed.wait(wait):
                    return
            with lt.cond:
                while lt.seq <= self._consumed and not self._closed.is_set():
                    if self.state.status == "offline":
                        raise SourceError(f"stream {self.uri} is offline: {self.state.error}; check the URL, "
                                          "the camera and the network")
                    lt.cond.wait(0.5)
                if self._closed.is_set():
                    return
                assert lt.image is not None
                image, seq, t, wall = lt.image, lt.seq, lt.t, lt.wall
                self._consumed = seq
            now = time.monotonic()
            next_due = max(next_due + step, now) if step else now
            self._delivered(now)
            yield Frame(index=seq - 1, t=t, image=image, wall_time=wall)

    def close(self) -> None:
        super().close()
        with self._latest.cond:
            self._latest.cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.timeout_s + 1)


def _native_fps(cap: cv2.VideoCapture) -> float:
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    return fps if 0.5 < fps < 1000 else 25.0


def open_source(uri: str | os.PathLike[str], fps: float | None = None, *, realtime: bool = False,
                loop: bool = False, on_state: StateCallback | None = None, backoff: Backoff | None = None,
                base_dir: str | os.PathLike[str] | None = None, timeout_s: float = 10.0) -> FrameSource:
    """Open a video file, an image folder or a live stream, delivering frames at about `fps` per second.

    - `uri`: a path (relative paths are taken from `base_dir`, e.g. the camera config's folder),
      ``file://...``, or ``rtsp://``/``http(s)://`` for a live stream.
    - `fps`: the camera's detect fps; None delivers every frame.
    - `realtime`/`loop` (files and folders): pace frames at the clip's own rate and start again at the
      end, so a sample clip behaves like a live camera.
    - `on_state`: called with a copy of the :class:`SourceState` whenever the status changes, and every
      REPORT_S seconds while frames flow (delivered fps, last frame time).
    - `backoff`: reconnect policy of live streams.

    Raises SourceError when the file or folder does not exist or cannot be opened.
    """
    if fps is not None and fps <= 0:
        raise SourceError(f"source {uri}: detect fps must be > 0, got {fps}; set detect.fps in the camera config")
    text = str(uri)
    if is_stream(text):
        return StreamSource(text, fps, backoff=backoff, on_state=on_state, timeout_s=timeout_s)
    if text.startswith("file://"):
        text = text[len("file://"):]
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if not path.exists():
        raise SourceError(f"clip {path} does not exist; check the source path "
                          "(relative paths are from the camera config's folder)")
    if path.is_dir():
        return ImageDirSource(path, fps, realtime=realtime, loop=loop, on_state=on_state)
    if path.stat().st_size == 0:
        raise SourceError(f"clip {path} is empty (0 bytes); copy the file again")
    return FileSource(path, fps, realtime=realtime, loop=loop, on_state=on_state)


@dataclass
class DecodeStats:
    """Decode-only speed of a clip at a detect fps (what `sharpeyes bench` reports as decode_fps)."""

    path: str
    fps: float | None
    frames: int          # frames delivered at the detect fps
    seconds: float       # wall time
    clip_seconds: float  # clip time covered

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def realtime_factor(self) -> float:
        """Clip seconds decoded per wall second: how many such cameras one core could decode."""
        return self.clip_seconds / self.seconds if self.seconds > 0 else 0.0


def decode_stats(path: str | os.PathLike[str], fps: float | None = None, max_frames: int | None = None) -> DecodeStats:
    """Decode a clip at `fps` (skipping frames as the pipeline does) and time it."""
    src = open_source(path, fps)
    n, last_t = 0, 0.0
    t0 = time.perf_counter()
    with src:
        for frame in src:
            n += 1
            last_t = frame.t
            if max_frames is not None and n >= max_frames:
                break
    seconds = time.perf_counter() - t0
    step = 1.0 / fps if fps else 0.0
    return DecodeStats(str(path), fps, n, seconds, last_t + step)


def decode_fps(path: str | os.PathLike[str], fps: float | None = None) -> float:
    """Frames per second of wall time that decoding `path` at detect `fps` delivers (decode only)."""
    return decode_stats(path, fps).frames_per_s
