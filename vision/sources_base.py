"""What every frame source shares: its reported state, the reconnect backoff, and the base class.

The sources themselves are in vision/sources_file.py (clips, image folders) and vision/sources_stream.py
(live streams); vision/sources.py opens the right one.
"""

from __future__ import annotations

import queue
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

    def idle(self) -> bool:
        """Whether the source does no work in a thread of its own now (see FileSource's read-ahead)."""
        return True

    def work_ahead(self, work: Callable[[Frame], None]) -> bool:
        """Have `work(frame)` done on each frame, in order, before it is delivered, by the thread that reads
        ahead (set it before iterating). False when there is no such thread (a live stream, a clip played
        in real time): the caller does that work itself."""
        return False

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


class ReadAhead:
    """Runs a frame generator in its own thread, at most `depth` frames ahead of the consumer.

    Decoding (FFmpeg, OpenCV's colour conversion) releases the GIL, so a recorded clip decodes on one core
    while the pipeline works on the frame before on another: the same frames, in the same order, with the
    same times. `work(frame)`, if given, is done here on each frame before it is queued. Errors raised by the
    generator (or `work`) are raised to the consumer; leaving the iteration early (or
    `stop`) ends the thread and closes the generator, so the file is released.
    """

    _END = object()

    def __init__(self, frames: Iterator[Frame], depth: int, closed: threading.Event,
                 work: Callable[[Frame], None] | None = None) -> None:
        self._frames = frames
        self._work = work
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._closed = closed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sharpeyes-read-ahead", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not (self._stop.is_set() or self._closed.is_set()):
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for frame in self._frames:
                if self._work is not None:
                    self._work(frame)
                if not self._put(frame):
                    return
            self._put(self._END)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)
        finally:
            close = getattr(self._frames, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[Frame]:
        try:
            while True:
                try:
                    item = self._queue.get(timeout=0.05)
                except queue.Empty:
                    if not self._thread.is_alive() and self._queue.empty():
                        return  # stopped by close()
                    continue
                if item is self._END:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, Frame)
                yield item
        finally:
            self.stop()

    def idle(self) -> bool:
        """Whether the thread is doing nothing now: `depth` frames are waiting, or it has ended (a benchmark
        waits for this before timing something else, so no decoding is done for free in another's time)."""
        return self._queue.full() or not self._thread.is_alive()

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the thread and wait for it (the generator is closed, the file released)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
