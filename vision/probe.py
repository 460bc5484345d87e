"""Try a camera source before it is saved: its first frame, or the decoder's own error."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from vision.errors import SourceError
from vision.sources import is_stream


def first_frame(source: str, timeout_s: float = 10.0, base_dir: Path | None = None) -> Any:
    """The first decoded frame (BGR numpy array) of a file or stream; SourceError saying why it failed."""
    import cv2

    text = source[len("file://"):] if source.startswith("file://") else source
    if not text.strip():
        raise SourceError("no source given: enter a file path or an rtsp:// / http(s):// URL")
    if not is_stream(text):
        try:
            path = Path(text).expanduser()
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            if not path.exists():
                raise SourceError(f"file {path} does not exist; check the path (on the server)")
            if path.is_dir() or path.stat().st_size == 0:
                raise SourceError(f"{path} is not a video file; give a clip or a stream URL")
        except OSError as exc:      # a name too long, a folder not readable, ...
            raise SourceError(f"{source[:200]}: cannot be read as a file ({exc.strerror}); check the path") \
                from None
        except RuntimeError:        # ~user/... of a user that does not exist here
            raise SourceError(f"{source[:200]}: no such home folder on the server; give an absolute path") \
                from None
        text = str(path)
    result: dict[str, Any] = {}

    def read() -> None:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(timeout_s * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(timeout_s * 1000)]
        cap = cv2.VideoCapture(text, cv2.CAP_FFMPEG, params)
        try:
            if not cap.isOpened():
                result["error"] = (f"the decoder could not open {source}: not a video it can read, or the "
                                   "stream did not answer; check the path or URL, credentials and codec")
                return
            ok, img = cap.read()
            if not ok or img is None:
                result["error"] = (f"the decoder opened {source} but could not read a frame from it; "
                                   "check the codec (H.264/H.265/MJPEG) and that the stream sends video")
                return
            result["frame"] = img
        finally:
            cap.release()

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout_s + 2.0)
    if t.is_alive():
        raise SourceError(f"{source}: no frame within {timeout_s:.0f} s; check that the camera is reachable")
    if "error" in result:
        raise SourceError(result["error"])
    return result["frame"]
