"""The debug view of a running pipeline (the cameras page, at a low frame rate): the live view (zones, tracked
boxes with ids, labels and scores, active events) plus the moving regions the motion detector found, the
object and motion masks, and what each rule is counting now. Read-only: it changes nothing in the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vision.annotate import FONT, draw_view
from vision.rules.crowd import present

if TYPE_CHECKING:
    from vision.base import Frame
    from vision.pipeline import CameraPipeline

CYAN = (255, 255, 0)
MASK_OBJ = (60, 60, 230)
MASK_MOTION = (0, 160, 255)


@dataclass(frozen=True)
class RuleCount:
    zone: str
    kind: str
    event: str
    counting: int          # objects in the zone the rule counts now (labels, scores, present: rules.crowd)
    active: int            # its running events


def rule_counts(pipe: CameraPipeline, t: float) -> list[RuleCount]:
    """For each rule: how many objects in its zone it counts now, and its running events."""
    tracks = pipe.tracker.current(t)
    names = pipe.class_names

    def label(cid: int) -> str:
        return names[cid] if 0 <= cid < len(names) else "?"

    out = []
    for zname, _idx, rule in pipe.rules:
        inside = pipe._inside.get(zname, {})   # noqa: SLF001 - read-only look at the zone membership
        counted = [tr for tr in tracks if inside.get(tr.id, False) and present(tr, t, pipe.explainer.misses)
                   and rule.accepts(label(tr.class_id), tr.max_score)]
        running = sum(1 for m in pipe.events.active if m.zone == zname and m.event == rule.event)
        out.append(RuleCount(zname, rule.kind, rule.event, len(counted), running))
    return out


def _polys(img: np.ndarray, polygons: list[list[tuple[float, float]]], color: tuple[int, int, int]) -> None:
    h, w = img.shape[:2]
    for poly in polygons:
        pts = np.round(np.array(poly, dtype=np.float32) * [w, h]).astype(np.int32)
        overlay = img.copy()
        cv2.fillPoly(overlay, [pts], color)
        cv2.addWeighted(overlay, 0.25, img, 0.75, 0, img)
        cv2.polylines(img, [pts], True, color, 1)


def debug_view(pipe: CameraPipeline, frame: Frame, fps: float = 0.0) -> np.ndarray:
    """The frame with everything the pipeline sees and counts drawn on it."""
    t = float(frame.t)
    lines = list(getattr(pipe, "_lines", []))
    img = draw_view(frame.image, pipe.zones, lines, pipe.tracker.current(t, max_age_s=1.0), pipe.class_names,
                    pipe.events.active, f"{pipe.name} t={t:.1f}s mode={pipe.last_mode} {fps:.1f} fps")
    cam = pipe.camera
    _polys(img, [list(p) for p in cam.objects.mask], MASK_OBJ)
    _polys(img, [list(p) for p in cam.motion.mask], MASK_MOTION)
    gate = getattr(pipe, "gate", None)
    for x1, y1, x2, y2 in (gate.motion.blobs if gate is not None else []):
        cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), CYAN, 1)
    y = 18
    for c in rule_counts(pipe, t):
        text = f"{c.zone}/{c.kind} {c.event}: counting {c.counting}, active {c.active}"
        cv2.putText(img, text, (8, y), FONT, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(img, text, (8, y), FONT, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        y += 18
    return img
