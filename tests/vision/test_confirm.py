"""A second model confirms a new object before its event fires (vision/confirm.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vision.config import parse_config
from vision.confirm import Confirmer, crop_of, family
from vision.detections import Detections
from vision.detectors import ConfirmSettings
from vision.errors import ConfigError
from vision.pipeline import CameraPipeline
from vision.rules.base import Episode

from .conftest import COCO_NAMES, BlobDetector
from .test_pipeline import CFG, run

CAR, PERSON = COCO_NAMES.index("car"), COCO_NAMES.index("person")


class Second:
    """A confirming model that sees, in every crop, one box given in frame pixels (mapped into the crop)."""

    class_names = list(COCO_NAMES)
    input_size = (320, 320)

    def __init__(self, box: tuple[float, float, float, float] | None, class_id: int, score: float = 0.8):
        self.box, self.class_id, self.score = box, class_id, score
        self.crops: list[tuple[int, int]] = []

    def detect(self, image: np.ndarray) -> Detections:
        self.crops.append(image.shape[:2])
        if self.box is None:
            return Detections()
        return Detections(xyxy=np.array([self.box], np.float32) - self.offset, confidence=[self.score],
                          class_id=[self.class_id])


def _episode(key: str, track: int | None, label: str = "car") -> Episode:
    return Episode(key=key, label=label, first_seen=0.0, start=0.0, last_t=0.0,
                   box=np.array([100, 100, 140, 130], np.float32), score=0.9, track_id=track)


def test_the_second_model_must_see_the_object_where_it_is() -> None:
    image = np.zeros((240, 320, 3), np.uint8)
    x1, y1, _, _ = crop_of(np.array([100, 100, 140, 130]), 320, 240)
    for box, cid, score, ok in [((101, 99, 141, 131), CAR, 0.8, True),       # the same car
                                ((101, 99, 141, 131), COCO_NAMES.index("truck"), 0.8, True),   # kindred
                                ((101, 99, 141, 131), PERSON, 0.8, False),    # another kind of object
                                ((101, 99, 141, 131), CAR, 0.1, False),       # too unsure
                                ((150, 99, 190, 131), CAR, 0.8, False),       # beside it, not on it
                                (None, CAR, 0.8, False)]:                     # nothing there
        second = Second(box, cid, score)
        second.offset = np.array([x1, y1, x1, y1], np.float32)
        assert Confirmer(second, ConfirmSettings(model="m")).sees(image, np.array([100, 100, 140, 130]),
                                                                  "car") is ok
    assert family("motorcycle") == {"bicycle", "motorcycle"} and family("person") == {"person"}


def test_one_look_per_object_again_after_retry_and_none_for_an_open_event() -> None:
    image = np.zeros((240, 320, 3), np.uint8)
    second = Second(None, CAR)
    x1, y1, _, _ = crop_of(np.array([100, 100, 140, 130]), 320, 240)
    second.offset = np.array([x1, y1, x1, y1], np.float32)
    conf = Confirmer(second, ConfirmSettings(model="m", retry_s=1.0))
    open_keys = {"open"}
    eps = [_episode("new", 1), _episode("open", 2), _episode("crowd", None)]
    kept = conf.keep(eps, image, 0.0, lambda k: k in open_keys)
    assert [e.key for e in kept] == ["open", "crowd"] and conf.runs == 1   # refused; the others pass
    conf.keep(eps, image, 0.5, lambda k: k in open_keys)
    assert conf.runs == 1                                                  # not looked at again yet
    second.box = (100, 100, 140, 130)
    kept = conf.keep(eps, image, 1.2, lambda k: k in open_keys)
    assert [e.key for e in kept] == ["new", "open", "crowd"] and conf.runs == 2
    conf.keep(eps, image, 5.0, lambda k: k in open_keys)
    assert conf.runs == 2 and conf.state_size() == 1                      # confirmed once for good
    conf.forget({1})
    assert conf.state_size() == 0


class SecondBlobs(BlobDetector):
    """The same blob detector as a confirming model, blind to `blind` (a class it never reports)."""

    def __init__(self, blind: int | None) -> None:
        super().__init__()
        self.blind = blind

    def detect(self, image: np.ndarray) -> Detections:
        dets = super().detect(image)
        return dets[dets.class_id != self.blind] if self.blind is not None and len(dets) else dets


# seen by both: one look per object; the second model blind to cars: the parked car (36 s) is looked at again
# every retry_s (1 s) and never fires, the person on the lawn still does
@pytest.mark.parametrize("blind, blocked, lawn, looks", [(None, 1, 1, 4), (CAR, 0, 1, 40)])
def test_an_event_fires_only_for_what_the_second_model_confirms(blind: int | None, blocked: int,
                                                                lawn: int, looks: int) -> None:
    cam = parse_config(CFG).cameras["lot"]
    second = SecondBlobs(blind)
    pipe = CameraPipeline("lot", cam, BlobDetector(), confirm=Confirmer(second, ConfirmSettings(model="m")))
    ends = [m for m in run(pipe) if m.lifecycle == "end"]
    assert sum(m.event == "blocked" for m in ends) == blocked
    assert sum(m.event == "on_lawn" for m in ends) == lawn
    assert 1 <= second.calls <= looks < pipe.stats.frames / 5   # per object (and retry), never per frame


def test_confirm_section_in_the_camera_config() -> None:
    cfg: dict[str, Any] = {"cameras": {"c": {"source": "x.mp4", "detector": {"confirm": {
        "model": "models/picodet_s_416.onnx", "min_score": 0.4}}, "zones": CFG["cameras"]["lot"]["zones"]}}}
    parse_config(cfg)
    cfg["cameras"]["c"]["detector"]["confirm"]["colour"] = 1
    with pytest.raises(ConfigError, match="colour"):
        parse_config(cfg)
