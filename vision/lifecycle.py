"""The event lifecycle: rule episodes -> `new` / `update` / `end` messages (vision.events), with a stable
id, a snapshot JPEG (the best-scoring frame, its box drawn) and an H.264 clip around the event."""

from __future__ import annotations

import logging
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.annotate import draw_box
from vision.events import EventMessage

log = logging.getLogger(__name__)


class ClipWriter:
    """Streams frames into a browser-playable H.264 MP4 (libx264, yuv420p, +faststart) via imageio-ffmpeg."""

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        import imageio_ffmpeg

        self.path = path
        self.size = (width - width % 2, height - height % 2)
        self.frames = 0
        self._gen: Any = imageio_ffmpeg.write_frames(
            str(path), self.size, fps=fps, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=2,
            quality=None, output_params=["-preset", "veryfast", "-crf", "26", "-movflags", "+faststart"],
            ffmpeg_log_level="error",
        )
        self._gen.send(None)

    def write(self, bgr: np.ndarray) -> None:
        w, h = self.size
        rgb = cv2.cvtColor(bgr[:h, :w], cv2.COLOR_BGR2RGB)
        self._gen.send(np.ascontiguousarray(rgb))
        self.frames += 1

    def close(self) -> None:
        self._gen.close()


@dataclass
class _Active:
    msg: EventMessage
    best_image: np.ndarray | None = None
    best_box: list[float] = field(default_factory=list)
    best_score: float = -1.0
    best_dirty: bool = False
    last_sent_t: float = 0.0
    clip: ClipWriter | None = None
    clip_until: float | None = None   # once ended: keep recording until this time
    ended: bool = False
    last_t: float = 0.0
    clip_path: str | None = None


class EventManager:
    """Turns rule episodes into `new` / `update` / `end` messages with a stable id, snapshot and clip.

    Call `push_frame` once per processed frame, then `step` with each rule's active episodes (keyed by zone,
    rule and episode key). A key seen for the first time is `new`; a key that is gone (or marked done) is
    `end`. With clips on, the `end` message waits until the clip (`post_s` after the end) is written.
    """

    def __init__(self, camera: str, settings: Any, media_dir: str | Path | None, fps: float) -> None:
        self.camera = camera
        self.settings = settings
        self.media_dir = Path(media_dir) if media_dir is not None else None
        self.fps = fps
        self._ring: deque[np.ndarray] = deque(maxlen=max(1, int(round(settings.pre_s * fps))))
        self._active: dict[tuple[str, int, str], _Active] = {}
        self._closing: list[_Active] = []
        self._frame: np.ndarray | None = None
        if self.media_dir is not None:
            self.media_dir.mkdir(parents=True, exist_ok=True)

    def set_fps(self, fps: float) -> None:
        """The rate frames really come at (a source slower than the camera's analysis rate): clips and the
        seconds kept before an event follow it."""
        self.fps = fps
        self._ring = deque(self._ring, maxlen=max(1, int(round(self.settings.pre_s * fps))))

    @property
    def active(self) -> list[EventMessage]:
        return [a.msg for a in self._active.values()]

    def push_frame(self, image: np.ndarray, t: float) -> list[EventMessage]:
        """Feed the clip ring buffer and open clips; returns `end` messages of clips finished now."""
        self._frame = image
        out: list[EventMessage] = []
        for a in list(self._active.values()) + self._closing:
            if a.clip is not None:
                a.clip.write(image)
                if a.clip.frames >= self.settings.max_clip_s * self.fps and not a.ended:
                    a.clip.close()  # long event: its clip stops, the event goes on
                    a.clip = None
        still: list[_Active] = []
        for a in self._closing:
            if a.clip_until is not None and t >= a.clip_until:
                out.append(self._finish(a))
            else:
                still.append(a)
        self._closing = still
        self._ring.append(image)
        return out

    def step(self, zone: str, rule_index: int, rule_kind: str, event: str, episodes: list[Any], t: float,
             wall_time: float | None = None) -> list[EventMessage]:
        out: list[EventMessage] = []
        seen: set[str] = set()
        for ep in episodes:
            key = (zone, rule_index, ep.key)
            seen.add(ep.key)
            a = self._active.get(key)
            if a is None:
                a = self._open(zone, rule_kind, event, ep, t, wall_time)
                self._active[key] = a
                out.append(a.msg.model_copy())
            else:
                self._refresh(a, ep, t, wall_time, out)
            if ep.done:
                out.extend(self._end(key, ep.last_t, t, wall_time))
        for key in [k for k in self._active if k[0] == zone and k[1] == rule_index and k[2] not in seen]:
            out.extend(self._end(key, self._active[key].last_t, t, wall_time))
        return out

    def is_open(self, zone: str, rule_index: int, key: str) -> bool:
        """Whether the episode `key` of this zone's rule has an open event."""
        return (zone, rule_index, key) in self._active

    def finish(self, t: float) -> list[EventMessage]:
        """End every open event (source ended or pipeline stopped) and close clips now."""
        out: list[EventMessage] = []
        for key, a in list(self._active.items()):
            out.extend(self._end(key, min(a.last_t, t), t, None))
        for a in self._closing:
            out.append(self._finish(a))
        self._closing = []
        return out

    # -- internals

    def _open(self, zone: str, rule_kind: str, event: str, ep: Any, t: float,
              wall_time: float | None) -> _Active:
        eid = f"{self.camera}-{uuid.uuid4().hex[:12]}"
        box = [float(v) for v in ep.box]
        msg = EventMessage(
            id=eid, lifecycle="new", seq=0, camera=self.camera, zone=zone, event=event,
            rule=rule_kind, label=ep.label, track_id=ep.track_id, first_seen_s=round(float(ep.first_seen), 3),
            start_s=round(float(ep.start), 3), end_s=None, max_score=float(min(1.0, max(0.0, ep.score))),
            bbox=box, count=ep.count, displacement=ep.displacement, wall_time=wall_time,
        )
        a = _Active(msg=msg, last_sent_t=t, last_t=float(ep.last_t))
        if self._frame is not None:
            a.best_image, a.best_box, a.best_score = self._frame, box, float(ep.score)
        if self.media_dir is not None and self.settings.snapshots and a.best_image is not None:
            msg.snapshot = str(self.media_dir / f"{eid}.jpg")
            self._write_snapshot(a)
        if self.media_dir is not None and self.settings.clips and self._frame is not None:
            h, w = self._frame.shape[:2]
            try:
                a.clip = ClipWriter(self.media_dir / f"{eid}.mp4", w, h, self.fps)
                a.clip_path = str(a.clip.path)
                for img in self._ring:
                    a.clip.write(img)
            except Exception as exc:  # noqa: BLE001 - a clip must never stop detection
                log.warning("camera %s: cannot write clip for %s: %s", self.camera, eid, exc)
                a.clip = None
        return a

    def _refresh(self, a: _Active, ep: Any, t: float, wall_time: float | None,
                 out: list[EventMessage]) -> None:
        msg = a.msg
        changed = False
        if ep.score > msg.max_score + 1e-6:
            msg.max_score = float(min(1.0, ep.score))
            changed = True
            if self._frame is not None:
                a.best_image, a.best_box, a.best_score, a.best_dirty = (
                    self._frame,
                    [float(v) for v in ep.box],
                    float(ep.score),
                    True,
                )
        if ep.count is not None and ep.count != msg.count:
            msg.count = int(ep.count)
            changed = True
        if ep.label != msg.label:
            msg.label = ep.label
            changed = True
        if ep.track_id != msg.track_id:
            msg.track_id = ep.track_id
            changed = True
        msg.displacement = ep.displacement
        a.last_t = float(ep.last_t)
        if changed and t - a.last_sent_t >= self.settings.update_s:
            msg.seq += 1
            msg.lifecycle = "update"
            msg.wall_time = wall_time
            a.last_sent_t = t
            if a.best_dirty:
                self._write_snapshot(a)
            out.append(msg.model_copy())

    def _end(self, key: tuple[str, int, str], end_s: float, t: float,
             wall_time: float | None) -> list[EventMessage]:
        a = self._active.pop(key)
        a.msg.end_s = round(float(max(a.msg.start_s, end_s)), 3)
        a.msg.wall_time = wall_time
        a.ended = True
        if a.best_dirty:
            self._write_snapshot(a)
        if a.clip is not None:
            a.clip_until = t + self.settings.post_s
            self._closing.append(a)
            return []
        return [self._finish(a)]

    def _finish(self, a: _Active) -> EventMessage:
        if a.clip is not None:
            a.clip.close()
            a.clip = None
        a.msg.clip = a.clip_path
        a.msg.seq += 1
        a.msg.lifecycle = "end"
        a.best_image = None
        return a.msg.model_copy()

    def _write_snapshot(self, a: _Active) -> None:
        if a.best_image is None or a.msg.snapshot is None:
            return
        img = a.best_image.copy()
        draw_box(img, a.best_box, f"{a.msg.event}: {a.msg.label} {a.best_score:.2f}", (0, 0, 255))
        cv2.imwrite(a.msg.snapshot, img, [cv2.IMWRITE_JPEG_QUALITY, 85])
        a.best_dirty = False

    def state_size(self) -> int:
        return len(self._active) + len(self._closing)
