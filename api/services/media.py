"""Media store: snapshots, clips and photos under one folder, checked for type and size.

Stored names are made here (never from the client's file name), and every read is resolved and checked
to stay inside the folder, so no request can reach a file outside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db.models import Camera, Event, Incident, Media
from api.errors import NotFound, StorageUnavailable, TooLarge, UnsupportedMedia

IMAGE_TYPES = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}



class MediaStore:
    def __init__(self, root: Path, max_pixels: int = 50_000_000) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_pixels = max_pixels

    def check_image(self, data: bytes, limit: int) -> tuple[str, str]:
        """(content type, extension) of a JPEG/PNG/WebP image within `limit` bytes, else TooLarge /
        UnsupportedMedia."""
        if len(data) > limit:
            raise TooLarge(f"file is {len(data)} bytes; the limit is {limit} bytes ({limit // 2**20} MB)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as img:   # reads the header only: the size, no pixels
                    fmt = img.format or ""
                    width, height = img.size
                    if width * height > self.max_pixels:
                        raise TooLarge(f"image is {width} x {height} pixels; the limit is {self.max_pixels} "
                                       "pixels: send a smaller image")
                    img.verify()
                if fmt in ("JPEG", "PNG", "WEBP"):
                    with Image.open(io.BytesIO(data)) as img:
                        img.load()   # decodes: a truncated or forged file is refused here, not by a viewer
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooLarge(f"image too large to decode (over {self.max_pixels} pixels): send a smaller "
                           "image") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise UnsupportedMedia("not an image: upload a JPEG, PNG or WebP photo") from exc
        if fmt not in IMAGE_TYPES:
            raise UnsupportedMedia(
                f"image type {fmt or 'unknown'} not accepted: upload a JPEG, PNG or WebP photo"
            )
        return IMAGE_TYPES[fmt]

    def is_jpeg(self, data: bytes) -> bool:
        """A JPEG by its header, within max_pixels (cheap: no decoding; for the live frames)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as img:
                    w, h = img.size
                    return img.format == "JPEG" and w * h <= self.max_pixels
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
                Image.DecompressionBombWarning):
            return False

    def check_clip(self, data: bytes, limit: int) -> tuple[str, str]:
        if len(data) > limit:
            raise TooLarge(f"clip is {len(data)} bytes; the limit is {limit} bytes")
        if data[4:8] != b"ftyp":
            raise UnsupportedMedia("not an MP4 clip: upload an H.264 MP4 file")
        why = self.probe_clip(data)
        if why:
            raise UnsupportedMedia(f"not a playable MP4 clip ({why}): upload an H.264 MP4 file whose frames "
                                   "decode; nothing was stored")
        return "video/mp4", ".mp4"

    def probe_clip(self, data: bytes) -> str:
        """Why the clip does not decode ('' when its first frame decodes within max_pixels): the bytes are
        opened by OpenCV's decoder (FFmpeg) from a temporary file, which is removed at once."""
        import cv2  # not at import: the api app loads no OpenCV until a clip arrives

        fd, path = tempfile.mkstemp(suffix=".mp4", prefix="sharpeyes-clip-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            cap = cv2.VideoCapture(path)
            try:
                if not cap.isOpened():
                    return "the container could not be opened"
                ok, frame = cap.read()
            finally:
                cap.release()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        if not ok or frame is None:
            return "no frame could be decoded"
        height, width = frame.shape[:2]
        if width * height > self.max_pixels:
            return f"frames of {width} x {height} pixels; the limit is {self.max_pixels} pixels"
        return ""

    def save(self, kind: str, data: bytes, ext: str) -> tuple[str, str]:
        """Write the bytes; returns (path relative to the root, sha256)."""
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        rel = f"{kind}/{day}/{uuid.uuid4().hex}{ext}"
        path = self.root / rel
        tmp = path.with_suffix(path.suffix + ".part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError as exc:   # full or read-only: nothing half-written stays, the caller stores no row
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            why = exc.strerror or str(exc)
            raise StorageUnavailable(f"the media folder cannot take the file ({why}): nothing was stored; "
                                     "retry later (an admin frees space or fixes the folder)") from exc
        return rel, hashlib.sha256(data).hexdigest()

    def resolve(self, rel: str) -> Path | None:
        """The file for a stored relative path, or None if it is missing or points outside the folder."""
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    def delete(self, rel: str) -> None:
        path = self.resolve(rel)
        if path is not None:
            path.unlink(missing_ok=True)


def attach_event_media(session: Session, store: MediaStore, event_id: str, kind: str, data: bytes,
                       limit: int, uploader: str, check: Callable[[str, str | None], None] | None = None,
                       checked: tuple[str, str] | None = None) -> tuple[Media, Incident | None]:
    """Store an event's snapshot or clip (checked, idempotent on content) and the incident it shows; a
    new file changes what the incident's pages show. NotFound when the event was never posted. `checked`:
    the (content type, extension) the caller already got from check_clip/check_image (decoded outside
    its locks)."""
    if checked is None:
        checked = store.check_clip(data, limit) if kind == "clip" else store.check_image(data, limit)
    ctype, ext = checked
    ev = session.get(Event, event_id)
    if ev is None:
        raise NotFound(f"no event {event_id!r}: post the event before its media")
    if check is not None:   # only the camera's worker may add to its events
        cam = session.get(Camera, ev.camera_id)
        check(ev.camera_id, cam.worker if cam is not None else None)
    sha = hashlib.sha256(data).hexdigest()
    same = select(Media).where(Media.event_id == event_id, Media.kind == kind, Media.sha256 == sha)
    dup = session.scalars(same).first()
    if dup is not None:
        return dup, None
    rel, sha = store.save(kind, data, ext)
    row = Media(kind=kind, incident_id=ev.incident_id, event_id=event_id, path=rel, content_type=ctype,
                size=len(data), sha256=sha, uploaded_by=uploader, camera_id=ev.camera_id)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:   # the same file posted twice at once: the other one stored it
        session.rollback()
        store.delete(rel)
        return session.scalars(same).one(), None
    return row, session.get(Incident, ev.incident_id) if ev.incident_id else None
