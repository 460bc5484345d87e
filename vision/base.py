"""Small shared interfaces of the vision package, so its parts can be built and tested apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vision.detections import Detections


@dataclass
class Frame:
    """One decoded frame. `t` is seconds from the source start (file: pts; live: since connect)."""

    index: int          # frame number in the source (not the number of frames yielded)
    t: float
    image: np.ndarray   # BGR, HxWx3 uint8
    wall_time: float | None = None  # unix time for live sources


class Detector(Protocol):
    """What every detector backend provides (see vision/detectors/)."""

    class_names: list[str]
    input_size: tuple[int, int]  # (width, height) the model takes

    def detect(self, image: np.ndarray) -> Detections:
        """Detect on a BGR image; boxes in that image's pixels, after score threshold and filters."""
        ...

    def detect_batch(self, images: list[np.ndarray], own_size: bool = False) -> list[Detections]:
        """Detect on several crops (motion regions); one Detections per image, in its own pixels.
        `own_size`: the images are packed motion regions cut to what they cover, for a model with a free
        input size (vision/detectors/decoding.py `preprocess`)."""
        ...
