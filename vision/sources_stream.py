"""Live RTSP/HTTP(S) streams, read by a thread that keeps only the newest frame (drop, never queue).

A stream that fails reconnects with capped exponential backoff and reports ``online`` / ``reconnecting`` /
``offline`` through :class:`vision.sources_base.SourceState`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.base import Frame
from vision.errors import SourceError
from vision.sources_base import Backoff, FrameSource, StateCallback


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
