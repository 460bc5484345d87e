"""Live RTSP/HTTP(S) streams, read by a thread that keeps only the newest frame (drop, never queue).

A stream that fails reconnects with capped exponential backoff and reports ``online`` / ``reconnecting`` /
``offline`` (down for OFFLINE_AFTER_S, still retrying; or given up after ``Backoff.max_attempts``) through
:class:`vision.sources_base.SourceState`; one that stalls (connected, no frames for
STALL_S) is reported ``reconnecting`` until frames flow again or the read timeout drops the connection.
A stream that cannot be opened is diagnosed in words (unknown host, nothing listening, no answer, or an
answer without video) by a plain TCP connect, and every message names the URL with its password masked.
Frame times are seconds of stream seen: an outage of up to BRIDGE_S is cut out of the timeline, so the tracks
and visits of what stood still through it continue (`wall_time` stays the clock).
RTSP is read over TCP (as Frigate does): no smeared frames from lost UDP packets; set
OPENCV_FFMPEG_CAPTURE_OPTIONS yourself to choose otherwise.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import cv2
import numpy as np

from vision.base import Frame
from vision.errors import SourceError
from vision.sources_base import Backoff, FrameSource, StateCallback
from vision.sources_file import Timeline
from vision.stream_urls import masked

log = logging.getLogger("vision.sources")
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")  # read by each open
OFFLINE_AFTER_S = 10.0  # down (not connected) this long: reported offline, while the retries go on
BRIDGE_S = 60.0  # an outage up to this long is cut out of the stream's timeline (see StreamSource._timeline)
OUTAGE_S = 1.0  # frames further apart than this are an outage, not jitter
MAX_STALE = 300  # at most this many frames of a new connection's backlog are skipped (see _reader)
PTS_BEHIND_S = 1.0  # a stream's timestamps may fall this far behind arrival (jitter), no more
PTS_AHEAD_S = 10.0  # nor run further ahead than this (frames late by a hiccup arrive together, a few seconds)
STALL_S = 3.0  # connected but no frame for this long (or three detect intervals): reported as reconnecting
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "http": 80, "https": 443}

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
        self.name = masked(url)  # the URL as messages show it: no password
        self._latest = _Latest()
        self._gave_up = False
        self._consumed = 0  # seq of the last frame handed to the consumer
        self._t0 = time.monotonic()
        self._cut = 0.0  # seconds of outages cut out of the timeline (BRIDGE_S)
        self._arrived: float | None = None  # monotonic time of the last frame
        self._last_t: float | None = None  # time of the last frame
        self._clock: Timeline | None = None  # this connection's timestamps (None: arrival times)
        self._base = 0.0  # time of this connection's first frame
        self._lead = 0.0  # how far this connection's times run ahead of arrival times
        self._thread = threading.Thread(target=self._reader, name=f"source:{self.name}", daemon=True)
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
        down_since: float | None = None
        said = ""  # the last failure logged, so a camera that stays down is logged once, not at every attempt
        while not self._closed.is_set():
            cap = self._connect()
            got_frame = False
            if cap is not None:
                fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
                interval = 1.0 / fps if 1.0 <= fps <= 120.0 else 0.1
                stale, prev = 0, (0.0, 0.0)  # backlog frames skipped; (arrival, timestamp) of the last read
                try:
                    while not self._closed.is_set():
                        ok, image = cap.read()
                        if not ok or image is None:
                            break
                        if not got_frame and stale < MAX_STALE:
                            # the backlog FFmpeg buffered while it opened the stream (seconds old) is read
                            # faster than it was filmed: skip it until frames come at the stream's own pace
                            now, stamp = time.monotonic(), cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                            filmed = stamp - prev[1] if stamp > prev[1] else interval
                            backlog = stale == 0 or now - prev[0] < 0.75 * filmed
                            prev = (now, stamp)
                            if backlog:
                                stale += 1
                                continue
                        t = self._timeline(cap, first=not got_frame)
                        if not got_frame:
                            got_frame, failures = True, 0
                            if down_since is not None:
                                log.info("stream %s is back after %.1f s", self.name,
                                         time.monotonic() - down_since)
                            down_since, said = None, ""
                            self._set(status="online", error=None, retry_in_s=None, down_since=None)
                        elif self.state.status != "online":  # frames flow again after a stall
                            self._set(status="online", error=None, retry_in_s=None)
                        lt = self._latest
                        with lt.cond:
                            if lt.image is not None and lt.seq > self._consumed:
                                self.state.dropped += 1
                            lt.image, lt.seq = image, lt.seq + 1
                            lt.t, lt.wall = t, time.time()
                            lt.cond.notify_all()
                finally:
                    cap.release()
            if self._closed.is_set():
                break
            failures += 1
            if down_since is None:
                down_since = time.monotonic()
            if got_frame:
                error = f"stream {self.name} ended or stopped sending; reconnecting"
            elif cap is None:
                error = f"cannot connect to {self.name}: {diagnose(self.uri, self.timeout_s)}; {FIX}"
            else:
                error = f"stream {self.name} opened but gave no frame; {FIX}"
            if error != said:
                log.warning("%s", error)
                said = error
            mx = self.backoff.max_attempts
            if mx is not None and failures > mx:
                self._gave_up = True
                self._set(status="offline", retry_in_s=None, error=f"gave up after {mx} attempts: {error}")
                with self._latest.cond:
                    self._latest.cond.notify_all()
                return
            delay = self.backoff.delay(failures)
            now = time.monotonic()
            offline_at = down_since + OFFLINE_AFTER_S  # down this long: offline, still retrying
            self._set(status="offline" if now >= offline_at else "reconnecting", retry_in_s=delay,
                      error=error,
                      reconnects=self.state.reconnects + (1 if got_frame else 0),
                      down_since=time.time() - (now - down_since))
            if now < offline_at < now + delay:
                if self._closed.wait(offline_at - now):
                    break
                self._set(status="offline", retry_in_s=now + delay - offline_at)
                delay = now + delay - offline_at
            if self._closed.wait(delay):
                break

    def _timeline(self, cap: cv2.VideoCapture, first: bool) -> float:
        """The frame's time: seconds since the source started, less the outages cut out of it, from the
        stream's own timestamps where they are sound.

        Within a connection, times follow the frames' timestamps (should frames arrive in a burst, their own
        times keep them apart as they were filmed; the backlog of a new connection is skipped). A stream whose
        timestamps fall behind the clock (MJPEG over HTTP: made up at 25 fps) or run far ahead of it is timed
        by arrival instead, for the rest of that connection.
        A gap of more than OUTAGE_S and at most BRIDGE_S between two frames (the camera restarted, the network
        dropped, the stream stalled) is cut down to one frame interval: to the tracker and the rules the
        frames
        before and after are consecutive, so a car parked all through a camera restart stays one event instead
        of ending and alerting again. A longer outage stays in the timeline (what is there after it may not be
        what was there before). `wall_time` is always the clock.
        """
        now = time.monotonic()
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        interval = 1.0 / fps if 1.0 <= fps <= 120.0 else 0.1
        if self._arrived is not None and OUTAGE_S < now - self._arrived <= BRIDGE_S:
            self._cut += now - self._arrived - interval
        self._arrived = now
        arrival = now - self._t0 - self._cut
        stamp = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        last = self._last_t
        if first:
            self._lead = 0.0 if last is None else max(0.0, last + interval - arrival)
            self._clock, self._base = Timeline(1.0 / interval), arrival + self._lead
            self._clock.time(stamp)
            t = self._base
        elif self._clock is not None:
            t = self._base + self._clock.time(stamp)
            if not arrival + self._lead - PTS_BEHIND_S <= t <= arrival + self._lead + PTS_AHEAD_S:
                self._clock = None  # not the camera's clock: arrival times from here, without a jump back
                self._lead = max(0.0, (last or 0.0) - arrival)
                t = arrival + self._lead
        else:
            t = arrival + self._lead
        t = t if last is None else max(t, last + 1e-3)
        self._last_t = t
        return t

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
                    if self.state.status == "offline" and self._gave_up:
                        raise SourceError(f"stream {self.name} is offline: {self.state.error}")
                    lt.cond.wait(0.5)
                    quiet = time.time() - (lt.wall or time.time())
                    if self.state.status == "online" and lt.seq and quiet > max(STALL_S, 3 * step):
                        self._set(status="reconnecting",
                                  error=f"no frames from {self.name} for {quiet:.0f} s; "
                                  "stalled; waiting, then reconnecting")
                if self._closed.is_set():
                    return
                assert lt.image is not None
                image, seq, t, wall = lt.image, lt.seq, lt.t, lt.wall
                self._consumed = seq
            now = time.monotonic()
            # keep the detect-fps grid; behind it (a slow consumer, or frames back after a gap) restart it
            # from now,
            # so the frame after a gap is not handed over at once with nearly the same time
            next_due = next_due + step if next_due + step > now else now + step
            self._delivered(now)
            yield Frame(index=seq - 1, t=t, image=image, wall_time=wall)

    def stop(self) -> None:
        super().stop()
        with self._latest.cond:
            self._latest.cond.notify_all()

    def close(self) -> None:
        self.stop()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.timeout_s + 1)


FIX = ("check that the camera is on and reachable, and its URL in the camera config "
       "(scheme, host, port, path; rtsp://user:password@host:port/path when it needs a login)")


def diagnose(url: str, timeout_s: float) -> str:
    """Why a stream did not open, in words, from a plain TCP connect to its host and port."""
    u = urlsplit(url)
    host, port = u.hostname, u.port or DEFAULT_PORTS.get(u.scheme.lower())
    if not host or port is None or u.scheme.lower() in ("udp",):
        return "no answer"
    try:
        with socket.create_connection((host, port), timeout=min(timeout_s, 3.0)):
            pass
    except socket.gaierror:
        return f"unknown host '{host}'"
    except ConnectionRefusedError:
        return f"nothing listens on {host}:{port} (the camera or its server is down, or the port is wrong)"
    except TimeoutError:
        return f"{host}:{port} does not answer (the camera is off or unplugged, or a firewall drops it)"
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or exc}"
    return f"{host}:{port} answers but gives no video (a wrong path, or a login is needed)"
