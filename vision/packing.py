"""Motion regions packed side by side into one detector input, and the detections mapped back
(vision/motion.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vision.boxes import box_iou
from vision.detections import Detections

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in frame pixels, x2/y2 exclusive
PAD_VALUE = 114  # grey between packed crops (as letterboxing does), so no edge looks like an object


@dataclass
class Tile:
    """Where a part of the frame sits in a detector input image."""

    src: Box            # region of the frame
    image_index: int    # which image of DetectorBatch.images
    offset: tuple[int, int]  # top-left of the region inside that image
    scale: float        # image pixels per frame pixel


@dataclass
class DetectorBatch:
    """Detector inputs built from a plan, and the way back to frame pixels."""

    images: list[np.ndarray]
    tiles: list[Tile]
    frame_size: tuple[int, int]  # (width, height)
    own_size: bool = False  # packed regions cut to what they cover: the detector runs them at this size

    def to_frame(self, per_image: Sequence[Detections], iou: float = 0.6) -> Detections:
        """Map each image's detections back to frame pixels, then merge duplicates (class-wise NMS).

        A box is assigned to the tile holding its centre and clipped to that tile, so a detection never
        straddles two crops of the packed image.
        """
        if len(per_image) != len(self.images):
            raise ValueError(f"expected detections for {len(self.images)} images, got {len(per_image)}")
        parts: list[Detections] = []
        for idx, dets in enumerate(per_image):
            if not len(dets):
                continue
            tiles = [t for t in self.tiles if t.image_index == idx]
            cx = (dets.xyxy[:, 0] + dets.xyxy[:, 2]) / 2
            cy = (dets.xyxy[:, 1] + dets.xyxy[:, 3]) / 2
            for tile in tiles:
                x1, y1, x2, y2 = tile.src
                ox, oy = tile.offset
                tw, th = (x2 - x1) * tile.scale, (y2 - y1) * tile.scale
                inside = (cx >= ox) & (cx < ox + tw) & (cy >= oy) & (cy < oy + th)
                if not inside.any():
                    continue
                sub = dets[inside]
                b = sub.xyxy.copy()
                b[:, [0, 2]] = np.clip(b[:, [0, 2]], ox, ox + tw)
                b[:, [1, 3]] = np.clip(b[:, [1, 3]], oy, oy + th)
                b[:, [0, 2]] = (b[:, [0, 2]] - ox) / tile.scale + x1
                b[:, [1, 3]] = (b[:, [1, 3]] - oy) / tile.scale + y1
                sub.xyxy = b.astype(np.float32)
                parts.append(sub)
        merged = Detections.merge(parts)
        return merged[nms(merged, iou)] if len(merged) else merged


def drop_cut(dets: Detections, regions: Sequence[Box], width: int, height: int) -> Detections:
    """The detections of a regions run less each box cut by a region's edge (inside the frame): part of an
    object, it would drag its track off the object; the object is seen whole at the next keep-alive or larger
    region."""
    if not len(dets):
        return dets
    cut = np.zeros(len(dets), dtype=bool)
    b = dets.xyxy
    for x1, y1, x2, y2 in regions:
        inside = (b[:, 0] >= x1 - 1) & (b[:, 2] <= x2 + 1) & (b[:, 1] >= y1 - 1) & (b[:, 3] <= y2 + 1)
        edge = (((b[:, 0] <= x1 + 2) & (x1 > 0)) | ((b[:, 2] >= x2 - 2) & (x2 < width))
                | ((b[:, 1] <= y1 + 2) & (y1 > 0)) | ((b[:, 3] >= y2 - 2) & (y2 < height)))
        cut |= inside & edge
    return dets[~cut]


def nms(dets: Detections, iou: float = 0.6) -> np.ndarray:
    """Indices kept by class-wise non-maximum suppression, best first."""
    keep: list[int] = []
    for cls in np.unique(dets.class_id):
        idx = np.flatnonzero(dets.class_id == cls)
        idx = idx[np.argsort(-dets.confidence[idx])]
        boxes = dets.xyxy[idx]
        while len(idx):
            keep.append(int(idx[0]))
            if len(idx) == 1:
                break
            ov = box_iou(boxes[:1], boxes[1:])[0]
            mask = ov < iou
            idx, boxes = idx[1:][mask], boxes[1:][mask]
    keep.sort(key=lambda i: -float(dets.confidence[i]))
    return np.asarray(keep, dtype=np.int64)


def _shelf_pack(sizes: list[tuple[int, int]], width: int, height: int, gap: int) -> list[tuple[int,
                                                                                               int]] | None:
    """Place rectangles in rows, tallest first; top-left of each (input order), or None if they do not fit."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i][1])
    places: list[tuple[int, int]] = [(0, 0)] * len(sizes)
    x = y = row_h = 0
    for i in order:
        w, h = sizes[i]
        if w > width or h > height:
            return None
        if x + w > width:
            x, y, row_h = 0, y + row_h + gap, 0
        if y + h > height:
            return None
        places[i] = (x, y)
        x += w + gap
        row_h = max(row_h, h)
    return places
