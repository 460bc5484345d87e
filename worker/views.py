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

    def render(self, run: CameraRun, pipe: Any, frame: Any) -> None:
        now = time.monotonic()
        self.frames += 1
        if now - self.fps_at >= 2.0:
            self.fps, self.frames, self.fps_at = self.frames / (now - self.fps_at), 0, now
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
