"""What every frame source shares: its reported state, the reconnect backoff, and the base class.

The sources themselves are in vision/sources_file.py (clips, image folders) and vision/sources_stream.py
(live streams); vision/sources.py opens the right one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Literal

from vision.base import Frame

Status = Literal["connecting", "online", "reconnecting", "offline", "ended"]
Live = Literal["online", "reconnecting", "offline"]
LIVE: dict[str, Live] = {"online": "online", "connecting": "reconnecting", "reconnecting": "reconnecting"}
REPORT_S = 5.0  # while frames flow, the state callback also fires this often (fps, last frame time)
FPS_WINDOW_S = 5.0  # delivered fps is counted over this window (a burst after a reconnect does not spike it)


@dataclass
class SourceState:
    """What a source reports about itself (for `cameras/<id>/state` on the dashboard)."""

    uri: str
    status: Status = "connecting"
    fps: float = 0.0                    # frames delivered per second over the last FPS_WINDOW_S
    last_frame_time: float | None = None  # unix time of the last delivered frame
    frames: int = 0                     # frames delivered
    dropped: int = 0                    # live: frames decoded but replaced by a newer one before use
    reconnects: int = 0
    # while reconnecting (or offline, still retrying): the wait before the next attempt
    retry_in_s: float | None = None
    down_since: float | None = None     # unix time the stream was lost, while it is
    error: str | None = None

    def live(self) -> tuple[Live, str]:
        """The camera's live state as the api takes it (online / reconnecting / offline) and a detail line
        for the operator: how long it is down, when it retries, and what is wrong."""
        state = LIVE.get(self.status, "offline")
        down = f"down {time.time() - self.down_since:.0f} s" if self.down_since else ""
        retry = f"retry in {self.retry_in_s:.1f} s" if self.retry_in_s else ""
        return state, "; ".join(x for x in (down, retry, self.error or "") if x)


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
        self._recent: deque[float] = deque()  # delivery times within FPS_WINDOW_S
        self._reported = time.monotonic()

    def __iter__(self) -> Iterator[Frame]:
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def stop(self) -> None:
        """Ask the source to end from any thread: an iteration waiting for a frame returns at once.
        Does not wait; close() (or leaving ``with``) releases the source."""
        self._closed.set()

    def close(self) -> None:
        self.stop()

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
        """Count the delivered fps over the last FPS_WINDOW_S; report the state every REPORT_S while frames
        flow."""
        s, recent = self.state, self._recent
        recent.append(now)
        while recent[0] < now - FPS_WINDOW_S:
            recent.popleft()
        span = now - recent[0]
        if len(recent) > 1 and span > 0:
            s.fps = (len(recent) - 1) / span
        s.frames += 1
        s.last_frame_time = time.time()
        if now - self._reported >= REPORT_S:
            self._reported = now
            self._set()
