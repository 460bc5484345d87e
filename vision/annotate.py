"""All drawing on frames, in one place: boxes with a caption, detections, and the pipeline's live view
(zones, line rules, tracked objects, active events, a status line)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vision.detections import Detections

if TYPE_CHECKING:
    from vision.events import EventMessage
    from vision.track import Track
    from vision.zones import PolygonZone

RED = (0, 0, 255)
GREEN = (0, 220, 0)
AMBER = (0, 200, 255)
MAGENTA = (255, 0, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_box(image: np.ndarray, box: Sequence[float] | np.ndarray, text: str, color: tuple[int, int,
                                                                                           int]) -> None:
    """A box with its caption on a filled band above it (in place)."""
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    cv2.rectangle(image, (x1, y1), (x2, y2), color, 2)
    (tw, th), _ = cv2.getTextSize(text, FONT, 0.5, 1)
    y = max(th + 4, y1)
    cv2.rectangle(image, (x1, y - th - 4), (x1 + tw + 4, y), color, -1)
    cv2.putText(image, text, (x1 + 2, y - 3), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)


def class_color(class_id: int) -> tuple[int, int, int]:
    """A stable, light colour per class id."""
    rng = np.random.default_rng(class_id * 7919 + 17)
    c = rng.integers(80, 256, size=3)
    return int(c[0]), int(c[1]), int(c[2])


def draw_detections(image: np.ndarray, dets: Detections) -> np.ndarray:
    """A copy of the image with each detection's box, class name and score."""
    out = image.copy()
    names = dets.data.get("class_name", np.asarray([str(c) for c in dets.class_id], dtype=object))
    for box, score, cid, name in zip(dets.xyxy, dets.confidence, dets.class_id, names, strict=True):
        draw_box(out, box, f"{name} {score:.2f}", class_color(int(cid)))
    return out


def draw_view(image: np.ndarray, zones: dict[str, PolygonZone], lines: list[np.ndarray], tracks: list[Track],
              class_names: Sequence[str], active: list[EventMessage], status: str) -> np.ndarray:
    """The pipeline's live view: zones (red while an event is active in them), line rules, tracked boxes with
    ids and labels (red with the event's name while they carry one), region events, and a status line."""
    img = image.copy()
    active_tracks = {m.track_id: m for m in active if m.track_id is not None}
    active_zones = {m.zone for m in active}
    for zname, zone in zones.items():
        color = RED if zname in active_zones else AMBER
        pts = np.round(zone.polygon).astype(np.int32)
        overlay = img.copy()
        cv2.fillPoly(overlay, [pts], color)
        cv2.addWeighted(overlay, 0.15, img, 0.85, 0, img)
        cv2.polylines(img, [pts], True, color, 2)
        org = (int(pts[0][0]) + 4, int(pts[0][1]) + 16)
        cv2.putText(img, zname, org, FONT, 0.5, color, 1, cv2.LINE_AA)
    for line in lines:
        cv2.polylines(img, [np.round(line).astype(np.int32)], False, MAGENTA, 2)
    for tr in tracks:
        cid = tr.class_id
        label = class_names[cid] if 0 <= cid < len(class_names) else "?"
        ev = active_tracks.get(tr.id)
        if ev is not None:
            draw_box(img, tr.box, f"#{tr.id} {label} {ev.event}", RED)
        else:
            draw_box(img, tr.box, f"#{tr.id} {label} {tr.score:.2f}", GREEN)
    for m in active:
        if m.track_id is None:
            draw_box(img, m.bbox, f"{m.event} ({m.label})", RED)
    org = (8, img.shape[0] - 10)
    cv2.putText(img, status, org, FONT, 0.5, (255, 255, 255), 2, cv2.LINE_AA)
    cv2.putText(img, status, org, FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return img
