import copy
from pathlib import Path

import pytest
import yaml

from vision.config import load_config, parse_config
from vision.errors import ConfigError

BASE = {
    "detect": {"fps": 4},
    "cameras": {
        "lobby": {
            "source": "x.mp4",
            "detect": {"refresh_s": 2},
            "zones": {
                "corridor": {
                    "polygon": [[0.1, 0.4], [0.9, 0.4], [0.9, 1.0]],
                    "rules": [{"kind": "presence", "labels": ["bicycle"], "min_seconds": 3,
                               "event": "ebike"}],
                }
            },
        }
    },
}


def _zone(d):
    return d["cameras"]["lobby"]["zones"]["corridor"]


def test_globals_are_camera_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(BASE))
    cam = load_config(path).cameras["lobby"]
    assert cam.detect.fps == 4 and cam.detect.refresh_s == 2
    assert cam.zones["corridor"].rules[0].kind == "presence"


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: _zone(d).update(foo=1),
     "zone 'corridor', key 'foo': unknown key 'foo' (expected one of: inertia, polygon, rules)"),
    # a misspelt key is also a missing one: the error names the key to change, and what it may have meant
    (lambda d: _zone(d)["rules"][0].update(labelz=_zone(d)["rules"][0].pop("labels")),
     "key 'rules[0].labelz': unknown key 'labelz' (did you mean 'labels'? expected one of: actions, event,"),
    (lambda d: _zone(d).update(rules=[]), "zone 'corridor', key 'rules': a zone needs at least one rule"),
    (lambda d: _zone(d).update(polygon=[[0, 0], [1, 1]]), "key 'polygon': a polygon needs at least 3 points"),
    (lambda d: _zone(d).update(polygon=[[0, 0], [1, 1], [1.5, 0]]), "point [1.5, 0.0] is outside 0..1"),
    (lambda d: _zone(d)["rules"][0].update(labels=["ebike"]), "key 'rules[0].labels': unknown label 'ebike'"),
    (lambda d: _zone(d)["rules"][0].pop("min_seconds"), "key 'rules[0].min_seconds': missing required field"),
    (lambda d: _zone(d)["rules"][0].update(kind="stay"), "key 'rules[0]': unknown rule kind"),
    (lambda d: _zone(d)["rules"][0].update(schedule="25:00-06:00"), "is not HH:MM-HH:MM"),
    (lambda d: d["detect"].update(fsp=2), "key 'detect.fsp': unknown key"),
    (lambda d: d["cameras"]["lobby"].update(detector={"type": "tpu"}), "camera 'lobby', key 'detector'"),
    (lambda d: None, None),
])
def test_errors_name_camera_zone_key(mutate, expected) -> None:
    data = copy.deepcopy(BASE)
    mutate(data)
    if expected is None:
        parse_config(data, "c.yaml")
        return
    with pytest.raises(ConfigError) as info:
        parse_config(data, "c.yaml")
    msg = str(info.value)
    assert msg.startswith("c.yaml: ")
    assert expected in msg
    if "zone 'corridor'" in expected or "rules" in expected or "polygon" in expected:
        assert "camera 'lobby'" in msg and "zone 'corridor'" in msg


def test_unreadable_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_a_camera_with_a_line_rule_is_analysed_at_line_fps() -> None:
    from vision.config import Camera

    zone = {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}
    line = {"kind": "line", "labels": ["car"], "line": [[0.5, 0], [0.5, 1]], "event": "car_crossing"}
    stay = {"kind": "presence", "labels": ["person"], "min_seconds": 3, "event": "loiter"}
    assert Camera(source="x.mp4", zones={"z": {**zone, "rules": [stay]}}).analysis_fps() == 5
    assert Camera(source="x.mp4", zones={"z": {**zone, "rules": [stay, line]}}).analysis_fps() == 15
    assert Camera(source="x.mp4", detect={"fps": 20, "line_fps": 15},
                  zones={"z": {**zone, "rules": [line]}}).analysis_fps() == 20


def test_the_default_model_is_chosen_by_the_labels_the_rules_watch() -> None:
    """PicoDet-S where a rule watches bicycles or motorcycles (small two-wheelers), YOLOX-Nano elsewhere;
    a model or backend the config names is kept."""
    from vision.detectors import TWO_WHEELER_MODEL

    cam = parse_config(copy.deepcopy(BASE)).cameras["lobby"]
    assert cam.watched_labels() == {"bicycle"}
    assert cam.detector_section() == {"model": str(TWO_WHEELER_MODEL)}
    people = copy.deepcopy(BASE)
    _zone(people)["rules"][0]["labels"] = ["person"]
    assert not parse_config(people).cameras["lobby"].detector_section()   # the global default
    named = copy.deepcopy(BASE)
    named["cameras"]["lobby"]["detector"] = {"model": "my.onnx", "score_threshold": 0.5}
    assert parse_config(named).cameras["lobby"].detector_section() == {"model": "my.onnx",
                                                                       "score_threshold": 0.5}
    other = copy.deepcopy(BASE)
    other["cameras"]["lobby"]["detector"] = {"type": "openvino"}
    assert parse_config(other).cameras["lobby"].detector_section() == {"type": "openvino"}


def test_two_wheelers_only_lines_watch_are_kept_from_a_lower_score() -> None:
    """A bicycle or motorbike ridden away from the camera often scores under 0.35 near a line: where only
    line rules watch a two-wheeler label, its boxes are kept from LINE_TWO_WHEELER_SCORE (ByteTrack continues
    a track with them; they start none). Not where another rule watches it too (a presence rule's visit
    broke on such boxes), and not over a min_score the config gives."""
    from vision.detectors import LINE_TWO_WHEELER_SCORE, TWO_WHEELER_MODEL

    line = {"kind": "line", "labels": ["motorcycle", "bicycle", "person"], "line": [[0.5, 0], [0.5, 1]],
            "event": "crossing"}
    lines = copy.deepcopy(BASE)
    _zone(lines)["rules"] = [line]
    low = {"min_score": LINE_TWO_WHEELER_SCORE}
    assert parse_config(lines).cameras["lobby"].detector_section() == {
        "model": str(TWO_WHEELER_MODEL), "filters": {"bicycle": low, "motorcycle": low}}
    both = copy.deepcopy(BASE)    # the presence rule watches bicycles too
    _zone(both)["rules"].append(line)
    assert parse_config(both).cameras["lobby"].detector_section() == {
        "model": str(TWO_WHEELER_MODEL), "filters": {"motorcycle": low}}
    own = copy.deepcopy(lines)
    own["cameras"]["lobby"]["detector"] = {"score_threshold": 0.1,
                                           "filters": {"motorcycle": {"min_score": 0.5, "min_area": 40}}}
    assert parse_config(own).cameras["lobby"].detector_section() == {
        "model": str(TWO_WHEELER_MODEL), "score_threshold": 0.1,
        "filters": {"bicycle": {"min_score": 0.1}, "motorcycle": {"min_score": 0.5, "min_area": 40}}}
    ov = copy.deepcopy(lines)
    ov["cameras"]["lobby"]["detector"] = {"type": "openvino"}
    assert parse_config(ov).cameras["lobby"].detector_section() == {"type": "openvino"}
