"""Recorded clips and image folders as frame sources.

A real file's header (frame count, duration, frame rate) is a hint, not a promise: the clip is read until
its frames stop decoding, each frame's time is its own timestamp (variable frame rate files keep true
times), frames that do not decode are skipped, and whatever differed from the header is reported in one
warning per clip (logger ``vision.sources``). Only a clip with no decodable frame at all is an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import cv2

from vision.base import Frame
from vision.errors import SourceError
from vision.sources_base import FrameSource, ReadAhead, StateCallback

if TYPE_CHECKING:
    from vision.perturb import Perturb

log = logging.getLogger("vision.sources")

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_HINT = "mp4, avi, mkv, mov or any container FFmpeg decodes"
VFR_DRIFT_S = 0.1  # event times are good to ~0.3 s: a smaller drift from the header's rate goes unreported
MAX_GAP_S = 10.0  # a forward jump of a frame's timestamp beyond this is a broken timestamp, not a pause
# a clip played as fast as it decodes is decoded ahead in its own thread, up to READ_AHEAD_BYTES of frames but
# READ_AHEAD frames at least (1080p: 3) and MAX_READ_AHEAD at most (768x576: 12). The analysis comes in bursts
# (a detector run of 20-40 ms, then frames skipped in 0.1 ms): 3 frames of decoding and motion work ahead were
# used up within one skipped stretch, and the thread then idled while the next run held the other core (a
# replay of vtest_line's per-frame CPU on two free cores: 2.54 s at 3 frames, 2.23 s at 12, 2.22 s unbounded)
READ_AHEAD = 3
MAX_READ_AHEAD = 12
READ_AHEAD_BYTES = 16 << 20


class Timeline:
    """Seconds from the clip's start for each decoded frame, from the frames' own timestamps.

    Timestamps that go backwards, repeat, are missing or jump more than MAX_GAP_S are broken (OpenCV gives
    0 for a frame without one); such a frame gets the previous time plus one frame at the header's rate,
    and later timestamps are taken relative to it. Also measures how far the times stray from the header's
    constant rate, so a variable frame rate can be reported.
    """

    def __init__(self, native_fps: float) -> None:
        self.native = native_fps
        self.offset: float | None = None
        self.last = 0.0
        self.n = 0
        self.repaired = 0
        self.min_dt = float("inf")
        self.max_dt = 0.0
        self.max_drift = 0.0  # largest |time - index / native| seen

    def time(self, stamp_s: float) -> float:
        if self.offset is None:
            self.offset, t = stamp_s, 0.0
        else:
            t = stamp_s - self.offset
            if not self.last < t <= self.last + MAX_GAP_S:
                t = self.last + 1.0 / self.native
                self.offset = stamp_s - t
                self.repaired += 1
            dt = t - self.last
            self.min_dt, self.max_dt = min(self.min_dt, dt), max(self.max_dt, dt)
        self.max_drift = max(self.max_drift, abs(t - self.n / self.native))
        self.last = t
        self.n += 1
        return t

    @property
    def variable(self) -> bool:
        """True when the frames' times stray from the header's constant rate by more than half a frame and
        more than VFR_DRIFT_S (one dropped frame in a long clip is not worth a warning)."""
        return self.max_drift > max(0.5 / self.native, VFR_DRIFT_S)


class FileSource(FrameSource):
    """A video file. `fps` picks frames at that rate by the frames' timestamps (None: every frame).

    Played as fast as it decodes (not `realtime`), the clip is decoded `read_ahead` frames ahead in a thread
    of its own (0: in the consumer's thread; None: as many as READ_AHEAD_BYTES hold, within READ_AHEAD and
    MAX_READ_AHEAD); the frames are the same either way. `skip`: source frames left out at the clip's start
    (their times stay: the first frame delivered is at frame `skip`'s time), so the `fps` grid starts there,
    as a camera whose frames fall at another phase would sample the scene (`sharpeyes eval --phases`).
    `perturb`: the frames as another camera would deliver them (vision/perturb.py: light, every N-th frame,
    scale, JPEG); with `every`, `native_fps` is the thinned rate (the clip's own stays `source_fps`).
    """

    def __init__(self, path: Path, fps: float | None, realtime: bool = False, loop: bool = False,
                 on_state: StateCallback | None = None, read_ahead: int | None = None, skip: int = 0,
                 perturb: Perturb | None = None) -> None:
        super().__init__(str(path), on_state)
        self.path = path
        self.fps = fps
        self.realtime = realtime
        self.loop = loop
        self.skip = max(0, skip)
        self.perturb = perturb
        self._ahead: ReadAhead | None = None
        self._work: Callable[[Frame], None] | None = None
        cap = self._open()
        self.source_fps = native_fps(cap)
        self.native_fps = self.source_fps / (perturb.every if perturb else 1)   # the rate frames come at
        self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)  # the header's claim: a hint
        self.size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        cap.release()
        if read_ahead is None:
            frame_bytes = max(1, self.size[0] * self.size[1] * 3)
            read_ahead = min(MAX_READ_AHEAD, max(READ_AHEAD, READ_AHEAD_BYTES // frame_bytes))
        self.read_ahead = 0 if realtime else max(0, read_ahead)
        self.warnings: list[str] = []  # what differed from the header, as warned (at most one line)
        self._timeline = Timeline(self.source_fps)
        self._undecodable: list[int] = []
        self._decoded: int | None = None  # frames in one full pass, once known

    def __iter__(self) -> Iterator[Frame]:
        if not self.read_ahead:
            return self._frames()
        if self._ahead is not None:
            self._ahead.stop()
        self._ahead = ReadAhead(self._frames(), self.read_ahead, self._closed, self._work)
        return iter(self._ahead)

    def work_ahead(self, work: Callable[[Frame], None]) -> bool:
        self._work = work if self.read_ahead else None
        return self._work is not None

    def idle(self) -> bool:
        """Whether no decoding runs now in the read-ahead thread (always true without one)."""
        return self._ahead is None or self._ahead.idle()

    def close(self) -> None:
        super().close()
        if self._ahead is not None:
            self._ahead.stop()

    def _open(self) -> cv2.VideoCapture:
        # played in real time, a clip is one of several cameras sharing the cores: one decoding thread (as
        # OpenCV's own pool is one thread there), 10-25 % less CPU a frame than FFmpeg's two frame threads
        # (1280x720 H.264: 1.32-1.44 against 1.45-1.58 ms). As fast as it decodes, FFmpeg picks.
        params = [cv2.CAP_PROP_N_THREADS, 1] if self.realtime else []
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            raise SourceError(f"cannot open clip {self.path}: not a video FFmpeg can decode ({VIDEO_HINT}), "
                              "or the file is incomplete (an MP4 cut off before its index cannot be read); "
                              "check the file or re-encode it")
        return cap

    def _frames(self) -> Iterator[Frame]:
        step = 1.0 / self.fps if self.fps else 0.0
        every = self.perturb.every if self.perturb is not None else 1
        start = time.monotonic()
        base_index, base_t, next_t = 0, 0.0, 0.0
        self._set(status="online")
        try:
            while not self._closed.is_set():
                timeline = Timeline(self.source_fps)
                if base_index == 0:
                    self._timeline = timeline
                cap = self._open()
                i = -1
                try:
                    while not self._closed.is_set():
                        if not cap.grab():
                            break
                        i += 1
                        t = base_t + timeline.time(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
                        if base_index == 0 and i < self.skip:
                            continue
                        if base_index == 0 and i == self.skip:
                            next_t = t   # the grid starts at the first frame taken
                        if every > 1 and (i - self.skip) % every:
                            continue
                        if self.realtime:
                            # live emulation: skip frames whose time has passed, wait for the frame's time
                            if t + 1.0 / self.source_fps < time.monotonic() - start:
                                continue
                        if t + 1e-6 < next_t:
                            continue
                        ok, image = cap.retrieve()
                        if not ok or image is None:
                            if base_index == 0:
                                self._undecodable.append(i)
                            continue  # a frame that does not decode is skipped; the next may
                        if self.perturb is not None and self.perturb.changes_images:
                            image = self.perturb.apply(image, t)
                        if self.realtime:
                            wait = t - (time.monotonic() - start)
                            if wait > 0 and self._closed.wait(wait):
                                return
                        if step:
                            next_t += step
                            if next_t <= t:  # after skipping (realtime, a gap): restart the grid from here
                                next_t = t + step
                        self._delivered(time.monotonic())
                        yield Frame(index=base_index + i, t=t, image=image,
                                    wall_time=time.time() if self.realtime else None)
                finally:
                    cap.release()
                read = i + 1
                if read == 0 or (base_index == 0 and len(self._undecodable) == read):
                    self._set(status="offline", error="no decodable frames")
                    raise SourceError(
                        f"clip {self.path} has no decodable frames; check the file or re-encode it"
                    )
                if base_index == 0 and not self._closed.is_set():
                    self._decoded = read
                    self._warn()
                if not self.loop:
                    break
                base_index += read
                base_t += timeline.last + 1.0 / self.source_fps
            self._set(status="ended")
        finally:
            self._warn()  # a consumer that stopped early still hears what was seen so far

    def _warn(self) -> None:
        """Log, once per clip, everything in which the file differed from its header."""
        if self.warnings:
            return
        tl, notes = self._timeline, []
        if self._decoded is not None and self.frame_count > 0 and abs(self._decoded - self.frame_count) > 1:
            notes.append(
                f"its header says {self.frame_count} frames ({self.frame_count / self.source_fps:.1f} s) "
                f"but {self._decoded} decoded ({tl.last + 1.0 / self.source_fps:.1f} s)"
                + (": truncated, or a broken last GOP" if self._decoded < self.frame_count else "")
            )
        if tl.n > 1 and tl.variable:
            notes.append(
                f"variable frame rate (frame intervals {tl.min_dt * 1000:.0f}-{tl.max_dt * 1000:.0f} ms, "
                f"header {self.source_fps:.2f} fps; times drift up "
                f"to {tl.max_drift:.2f} s from it): "
                "event times follow the frames' own timestamps"
            )
        if self._undecodable:
            first = self._undecodable[0]
            notes.append(
                f"{len(self._undecodable)} frame(s) did not decode (first: frame {first}) and were skipped"
            )
        if notes:
            self.warnings.append(f"clip {self.path}: " + "; ".join(notes)
                                 + "; every frame that decodes was processed")
            log.warning("%s", self.warnings[0])


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
        self.warnings: list[str] = []

    def _frames(self) -> Iterator[Frame]:
        start = time.monotonic()
        k = 0
        bad: list[tuple[Path, int]] = []
        self._set(status="online")
        while not self._closed.is_set():
            for f in self.files:
                t = k / self.fps
                image = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if image is None:  # skipped; its place in the timeline stays, as a frame that did not decode
                    if k < len(self.files):
                        bad.append((f, k))
                    k += 1
                    continue
                if self.realtime:
                    wait = t - (time.monotonic() - start)
                    if wait > 0 and self._closed.wait(wait):
                        return
                self._delivered(time.monotonic())
                yield Frame(index=k, t=t, image=image, wall_time=time.time() if self.realtime else None)
                k += 1
                if self._closed.is_set():
                    return
            if k == len(self.files) and bad:
                if len(bad) == len(self.files):
                    self._set(status="offline", error="no decodable images")
                    raise SourceError(f"image folder {self.uri}: none of its {len(bad)} images decodes; "
                                      "replace the files or point the source at a video")
                self.warnings.append(f"image folder {self.uri}: {len(bad)} image(s) did not decode (first: "
                                     f"{bad[0][0].name}, frame {bad[0][1]}) and were skipped; every image "
                                     "that decodes was processed")
                log.warning("%s", self.warnings[0])
            if not self.loop:
                break
        self._set(status="ended")


def native_fps(cap: cv2.VideoCapture) -> float:
    """The header's frame rate, or 25 when it gives none (or nonsense)."""
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    return fps if 0.5 < fps < 1000 else 25.0
