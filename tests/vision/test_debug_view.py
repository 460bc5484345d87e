"""The debug view of a real pipeline on a real clip: what each rule counts, drawn over the live view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vision.config import parse_config
from vision.debug_view import debug_view, rule_counts
from vision.detectors import create_detector
from vision.pipeline import CameraPipeline
from vision.sources import open_source

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_debug_view_counts_the_people_in_the_zone(tmp_path: Path) -> None:
    rules = [{"kind": "presence", "labels": [label], "min_seconds": 1, "event": label[0]}
             for label in ("person", "dog")]
    cfg = parse_config({"cameras": {"c": {
        "source": str(ROOT / "sample_videos" / "vtest.avi"), "detect": {"fps": 5},
        "motion": {"mask": [[[0.0, 0.0], [0.3, 0.0], [0.3, 0.05]]]},
        "zones": {"all": {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "rules": rules}}}}},
        tmp_path / "c.yaml")
    cam = cfg.cameras["c"]
    pipe = CameraPipeline("c", cam, create_detector(None), media_dir=tmp_path,
                          config_path=tmp_path / "c.yaml")
    most = 0
    with open_source(cam.source, 5) as frames:
        for i, frame in enumerate(frames):
            pipe.process(frame)
            counts = rule_counts(pipe, frame.t)
            most = max(most, counts[0].counting)
            assert counts[1].counting == 0 and counts[1].active == 0   # no dog: the dog rule counts none
            if i == 15:
                img = debug_view(pipe, frame, 5.0)
                assert img.shape == frame.image.shape
                assert not np.array_equal(img, pipe.annotate(frame))   # masks, motion and counts drawn
                break
    assert most >= 2                                             # vtest: several people walk there
    assert counts[0].active >= 1                                 # and the person rule has fired
    assert [(c.zone, c.kind, c.event) for c in counts] == [("all", "presence", "p"), ("all", "presence", "d")]
