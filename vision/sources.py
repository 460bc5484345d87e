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

Files skip the frames between detect times with ``grab()`` (no pixel conversion) and time each frame by
its own timestamp; played as fast as they decode, they decode a few frames ahead in a thread of their own
(decoding on one core while the pipeline works on another). Their header's frame count and duration are
hints (a mismatch is one warning, never an error). A live stream drops frames rather than queueing them.
A stream that fails reconnects with capped exponential backoff and reports ``online`` / ``reconnecting`` /
``offline`` through :class:`SourceState`. Errors a user can fix are :class:`vision.errors.SourceError`
naming the file or URL, the frame and what to do.

The parts: vision/sources_base.py (state, backoff, base class), vision/sources_file.py (clips, image
folders), vision/sources_stream.py (live streams); this module opens the right one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vision.errors import SourceError
from vision.sources_base import Backoff, FrameSource, SourceState, StateCallback, Status
from vision.sources_file import IMAGE_EXTS, FileSource, ImageDirSource, Timeline
from vision.sources_stream import StreamSource

if TYPE_CHECKING:
    from vision.perturb import Perturb

__all__ = ["Backoff", "DecodeStats", "FileSource", "FrameSource", "IMAGE_EXTS", "ImageDirSource",
           "SourceState",
           "StateCallback", "Status", "StreamSource", "Timeline", "decode_fps", "decode_stats", "is_stream",
           "open_source"]

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


def is_stream(uri: str | os.PathLike[str]) -> bool:
    return str(uri).lower().startswith(STREAM_SCHEMES)


def open_source(uri: str | os.PathLike[str], fps: float | None = None, *, realtime: bool = False,
                loop: bool = False, on_state: StateCallback | None = None, backoff: Backoff | None = None,
                base_dir: str | os.PathLike[str] | None = None, timeout_s: float = 10.0,
                read_ahead: int | None = None, skip: int = 0, perturb: Perturb | None = None) -> FrameSource:
    """Open a video file, an image folder or a live stream, delivering frames at about `fps` per second.

    - `uri`: a path (relative paths are taken from `base_dir`, e.g. the camera config's folder),
      ``file://...``, or ``rtsp://``/``http(s)://`` for a live stream.
    - `fps`: the camera's detect fps; None delivers every frame.
    - `realtime`/`loop` (files and folders): pace frames at the clip's own rate and start again at the
      end, so a sample clip behaves like a live camera.
    - `on_state`: called with a copy of the :class:`SourceState` whenever the status changes, and every
      REPORT_S seconds while frames flow (delivered fps, last frame time).
    - `backoff`: reconnect policy of live streams.
    - `read_ahead` (files played as fast as they decode): frames decoded ahead in a thread of their own,
      so decoding and analysis use two cores; 0 decodes in the caller's thread; None: by the frame's size
      (vision/sources_file.py READ_AHEAD_BYTES). The frames are the same.
    - `skip` (video files): source frames left out at the start, their times kept; the `fps` grid starts at
      the first frame taken (another sampling phase of the same clip: `sharpeyes eval --phases`).
    - `perturb` (video files): the frames as another camera would deliver them (`sharpeyes eval --perturb`,
      vision/perturb.py).

    Raises SourceError when the file or folder does not exist or cannot be opened.
    """
    if fps is not None and fps <= 0:
        raise SourceError(
            f"source {uri}: detect fps must be > 0, got {fps}; set detect.fps in the camera config"
        )
    text = str(uri)
    if perturb is not None and is_stream(text):
        raise SourceError(f"{uri}: --perturb applies to a recorded clip, not a live stream")
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
    if perturb is not None and path.is_dir():
        raise SourceError(f"{path}: --perturb applies to a video file, not an image folder")
    if path.is_dir():
        return ImageDirSource(path, fps, realtime=realtime, loop=loop, on_state=on_state)
    if path.stat().st_size == 0:
        raise SourceError(f"clip {path} is empty (0 bytes); copy the file again")
    return FileSource(path, fps, realtime=realtime, loop=loop, on_state=on_state, read_ahead=read_ahead,
                      skip=skip, perturb=perturb)


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


def decode_stats(path: str | os.PathLike[str], fps: float | None = None,
                 max_frames: int | None = None) -> DecodeStats:
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
