"""The frames a camera shows the api: its live view about twice a second, and while someone watches its debug
view on the cameras page (the api says so in its answer to a frame), the debug view about once a second."""

from __future__ import annotations

import time
from typing import Any

import cv2

from worker.delivery import FRAME_PUSH_S, CameraRun

DEBUG_PUSH_S = 1.0


def _jpeg(image: Any) -> bytes | None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 70])
    return buf.tobytes() if ok else None


class Views:
    """Per camera thread: when each view was last rendered."""

    def __init__(self) -> None:
        self.live_at = 0.0
        self.debug_at = 0.0
        self.frames = 0
        self.fps_at = time.monotonic()
        self.fps = 0.0
        self.busy = 0.0

    def timed(self, process: Any, frame: Any) -> Any:
        """The pipeline's answer for a frame, its time counted towards the camera's load."""
        t0 = time.monotonic()
        try:
            return process(frame)
        finally:
            self.busy += time.monotonic() - t0

    @staticmethod
    def samples(pipe: Any) -> list[Any]:
        """What the pipeline offers besides events (e.g. occupancy samples), if it offers anything."""
        return list(getattr(pipe, "take_samples", list)())

    def render(self, run: CameraRun, pipe: Any, frame: Any) -> None:
        now = time.monotonic()
        self.frames += 1
        if now - self.fps_at >= 2.0:
            run.load = self.busy / (now - self.fps_at)
            self.fps, self.frames, self.fps_at, self.busy = self.frames / (now - self.fps_at), 0, now, 0.0
        if now - self.live_at >= FRAME_PUSH_S:
            self.live_at = now
            data = _jpeg(pipe.annotate(frame))
            if data is not None:
                run.jpeg, run.jpeg_version = data, run.jpeg_version + 1
        if run.debug_until > now and now - self.debug_at >= DEBUG_PUSH_S:
            self.debug_at = now
            from vision.debug_view import debug_view

            draw = getattr(pipe, "debug_view", None)   # a stand-in pipeline may draw its own
            data = _jpeg(draw(frame, self.fps) if draw is not None else debug_view(pipe, frame, self.fps))
            if data is not None:
                run.debug_jpeg, run.debug_version = data, run.debug_version + 1
