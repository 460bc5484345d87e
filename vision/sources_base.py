"""What every frame source shares: its reported state, the reconnect backoff, and the base class.

The sources themselves are in vision/sources_file.py (clips, image folders) and vision/sources_stream.py
(live streams); vision/sources.py opens the right one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Literal

from vision.base import Frame

Status = Literal["connecting", "online", "reconnecting", "offline", "ended"]
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
