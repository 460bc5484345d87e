"""Synthetic scenes for the vision tests: a detector that 'detects' bright rectangles, and frames with
them."""

from __future__ import annotations

import cv2
import numpy as np

from vision.base import Frame
from vision.config import COCO_NAMES
from vision.detections import Detections


class BlobDetector:
    """Finds bright blobs; their colour picks the class (red: car, green: person, blue: bicycle)."""

    class_names = list(COCO_NAMES)
    input_size = (320, 320)

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image: np.ndarray) -> Detections:
        self.calls += 1
        mask = (image.max(axis=2) > 128).astype(np.uint8)
        n, _, stats, cents = cv2.connectedComponentsWithStats(mask)
        boxes, cls = [], []
        for i in range(1, n):
            x, y, w, h, area = stats[i]
            if area < 20:
                continue
            b, g, r = image[int(cents[i][1]), int(cents[i][0])]
            cls.append(2 if r > 128 else 0 if g > 128 else 1)
            boxes.append([x, y, x + w, y + h])
        return Detections(xyxy=np.array(boxes, dtype=np.float32).reshape(-1, 4),
                          confidence=np.full(len(boxes), 0.9),
                          class_id=np.array(cls))

    def detect_batch(self, images: list[np.ndarray]) -> list[Detections]:
        return [self.detect(im) for im in images]


class ColourDetector(BlobDetector):
    """Bright rectangles each of one pure colour, found per colour (red car, green person, blue bus): an
    object in front of another, of another colour, is its own box and hides the part of the other's it
    covers (the blob detector would take the two for one object)."""

    CLASSES = ((2, COCO_NAMES.index("car")), (1, COCO_NAMES.index("person")), (0, COCO_NAMES.index("bus")))

    def detect(self, image: np.ndarray) -> Detections:
        self.calls += 1
        boxes, cls = [], []
        for ch, class_id in self.CLASSES:
            rest = [k for k in range(3) if k != ch]
            mask = ((image[:, :, ch] > 128) & (image[:, :, rest[0]] < 100)
                    & (image[:, :, rest[1]] < 100)).astype(np.uint8)
            n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
            for i in range(1, n):
                x, y, w, h, area = stats[i]
                if area >= 20:
                    boxes.append([x, y, x + w, y + h])
                    cls.append(class_id)
        return Detections(xyxy=np.array(boxes, dtype=np.float32).reshape(-1, 4),
                          confidence=np.full(len(boxes), 0.9), class_id=np.array(cls, dtype=int))


def scene(t: float, objects: list[tuple[str, tuple[float, float, float, float]]], size=(320, 240)) -> Frame:
    """A frame at time t with coloured boxes (x1, y1, x2, y2 in pixels) on a grey textured background."""
    w, h = size
    rng = np.random.default_rng(0)
    img = (rng.integers(40, 60, (h, w, 1)) * np.ones((1, 1, 3))).astype(np.uint8)
    colours = {"car": (0, 0, 255), "person": (0, 255, 0), "bicycle": (255, 0, 0), "bus": (255, 0, 0)}
    for label, (x1, y1, x2, y2) in objects:
        cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), colours[label], -1)
    return Frame(index=int(round(t * 10)), t=t, image=img)
