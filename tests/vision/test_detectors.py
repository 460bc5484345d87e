"""Detector decoding, config and backend selection, on small graphs built here with onnx.helper."""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from vision.detectors import (
    LabelFilter,
    OnnxDetectorConfig,
    OpenVinoDetectorConfig,
    UltralyticsDetectorConfig,
    create_detector,
    parse_detector_config,
)
from vision.detectors.decoding import ModelFormat, decode, decode_nanodet, nms, parse_names, preprocess
from vision.errors import ConfigError, ModelError

# ------------------------------------------------------------------------------------------- graph helpers


def constant_output_model(path: Path, output: np.ndarray, input_shape: list[int | str],
                          metadata: dict[str, str] | None = None) -> Path:
    """An ONNX model whose output is `output` whatever the image (it still reads the image)."""
    image = helper.make_tensor_value_info("images", TensorProto.FLOAT, input_shape)
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["const", "nothing"], ["output0"]),
    ]
    inits = [numpy_helper.from_array(output.astype(np.float32), "const"),
             numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    graph = helper.make_graph(nodes, "test", [image], [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for k, v in (metadata or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def yolo_output(rows: Sequence[tuple[float, float, float, float, int, float]], classes: int,
                n: int = 20) -> np.ndarray:
    """[1, 4 + C, N] as Ultralytics exports it: cx, cy, w, h then class scores; other anchors score 0."""
    out = np.zeros((1, 4 + classes, n), np.float32)
    out[0, :4, :] = 10.0
    for i, (cx, cy, w, h, cls, score) in enumerate(rows):
        out[0, :4, i] = (cx, cy, w, h)
        out[0, 4 + cls, i] = score
    return out


YOLO_NAMES = "{0: 'person', 1: 'bicycle', 2: 'car'}"


@pytest.fixture
def yolo_model(tmp_path: Path) -> Path:
    rows = [
        (32, 32, 20, 40, 0, 0.9),    # person in the middle of the 64x64 input
        (33, 32, 20, 40, 0, 0.6),    # same person, weaker: NMS drops it
        (33, 32, 20, 40, 2, 0.7),    # a car at the same place: another class, kept
        (10, 10, 4, 4, 1, 0.5),      # small bicycle, top left of the letterbox (inside the padding band)
        (50, 50, 8, 8, 1, 0.2),      # below the threshold
    ]
    return constant_output_model(tmp_path / "yolo.onnx", yolo_output(rows, 3), [1, 3, 64, 64],
                                 {"names": YOLO_NAMES, "imgsz": "[64, 64]"})


# ------------------------------------------------------------------------------------------- YOLO decoding


def test_yolo_export_decoded_in_source_pixels(yolo_model: Path) -> None:
    det = create_detector({"model": str(yolo_model), "score_threshold": 0.3})
    assert det.class_names == ["person", "bicycle", "car"]
    assert det.input_size == (64, 64)
    image = np.zeros((64, 128, 3), np.uint8)       # letterbox: scale 0.5, 16 px padding above and below
    dets = det.detect(image)
    names = list(dets.data["class_name"])
    # best first; the weaker person is suppressed; the bicycle lies wholly in the padding band: dropped
    assert names == ["person", "car"]
    np.testing.assert_allclose(dets.confidence, [0.9, 0.7], atol=1e-6)
    # person: input (22, 12, 42, 52) -> source ((x - 0) / 0.5, (y - 16) / 0.5), clipped to 128x64
    np.testing.assert_allclose(dets.xyxy[0], [44, 0, 84, 64], atol=1e-4)
    np.testing.assert_allclose(dets.xyxy[1], [46, 0, 86, 64], atol=1e-4)
    square = det.detect(np.zeros((32, 32, 3), np.uint8))   # no padding: scale 0.5 both ways
    np.testing.assert_allclose(square.xyxy[list(square.data["class_name"]).index("bicycle")], [4, 4, 6, 6])


def test_per_label_filters_and_labels(yolo_model: Path) -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    det = create_detector({"model": str(yolo_model), "score_threshold": 0.3,
                           "filters": {"person": {"max_area": 500}, "bicycle": {"min_score": 0.6}}})
    assert list(det.detect(image).data["class_name"]) == ["car"]   # person 800 px² > 500; bicycle 0.5 < 0.6
    det = create_detector({"model": str(yolo_model), "score_threshold": 0.1, "labels": ["bicycle"]})
    dets = det.detect(image)
    assert list(dets.data["class_name"]) == ["bicycle", "bicycle"]
    det = create_detector({"model": str(yolo_model), "filters": {"car": {"min_area": 801}}})
    assert "car" not in list(det.detect(image).data["class_name"])


def test_detect_batch_each_crop_in_its_own_pixels(yolo_model: Path) -> None:
    det = create_detector({"model": str(yolo_model), "score_threshold": 0.3})
    crops = [np.zeros((64, 64, 3), np.uint8), np.zeros((128, 128, 3), np.uint8)]
    small, large = det.detect_batch(crops)
    np.testing.assert_allclose(large.xyxy[0], small.xyxy[0] * 2, atol=1e-4)
    assert det.detect_batch([]) == []


def test_dynamic_batch_runs_crops_in_one_call(tmp_path: Path) -> None:
    out = yolo_output([(32, 32, 20, 40, 0, 0.9)], 3)
    path = constant_output_model(tmp_path / "dyn.onnx", out, ["batch", 3, 64, 64], {"names": YOLO_NAMES})
    det = create_detector({"model": str(path)})
    assert det.format.batch  # type: ignore[attr-defined]
    calls: list[int] = []
    infer = det.infer  # type: ignore[attr-defined]

    def counting(batch: np.ndarray) -> list[np.ndarray]:
        calls.append(len(batch))
        return [np.repeat(o, len(batch), axis=0) for o in infer(batch[:1])]

    det.infer = counting  # type: ignore[attr-defined]
    results = det.detect_batch([np.zeros((64, 64, 3), np.uint8)] * 3)
    assert calls == [3] and [len(r) for r in results] == [1, 1, 1]


def test_end_to_end_rows(tmp_path: Path) -> None:
    rows = np.zeros((1, 5, 6), np.float32)
    rows[0, 0] = (100, 50, 300, 250, 0.8, 2)
    rows[0, 1] = (0, 0, 10, 10, 0.1, 0)
    path = constant_output_model(tmp_path / "rows.onnx", rows, [1, 512, 512, 3],
                                 {"names": repr({i: n for i, n in enumerate(["person", "bicycle", "car"])})})
    det = create_detector({"model": str(path)})
    assert det.format.layout == "NHWC"  # type: ignore[attr-defined]
    dets = det.detect(np.zeros((512, 1024, 3), np.uint8))   # letterbox: scale 0.5, 128 px padding
    assert list(dets.data["class_name"]) == ["car"]
    np.testing.assert_allclose(dets.xyxy[0], [200, 0, 600, 244], atol=1e-4)


def test_openvino_backend_matches_onnx_runtime(yolo_model: Path) -> None:
    pytest.importorskip("openvino")
    image = np.zeros((64, 128, 3), np.uint8)
    a = create_detector({"type": "onnx", "model": str(yolo_model)}).detect(image)
    b = create_detector({"type": "openvino", "model": str(yolo_model)}).detect(image)
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)
    assert list(a.data["class_name"]) == list(b.data["class_name"])


def test_openvino_ir_with_ultralytics_metadata(yolo_model: Path, tmp_path: Path) -> None:
    ov = pytest.importorskip("openvino")
    folder = tmp_path / "yolo_openvino_model"
    folder.mkdir()
    ov.save_model(ov.Core().read_model(str(yolo_model)), str(folder / "yolo.xml"))
    (folder / "metadata.yaml").write_text("imgsz: [64, 64]\nnames: {0: walker, 1: bike, 2: auto}\n")
    det = create_detector({"type": "openvino", "model": str(folder / "yolo.xml")})
    assert det.class_names == ["walker", "bike", "auto"]
    assert list(det.detect(np.zeros((64, 128, 3), np.uint8)).data["class_name"]) == ["walker", "auto"]


# ------------------------------------------------------------------------------------------- NanoDet decoding


def test_nanodet_decode_on_synthetic_maps() -> None:
    fmt = ModelFormat(decoder="nanodet", class_names=list("abc"), size=(64, 64), strides=(8, 16, 32),
                      reg_max=7)
    maps = []
    for stride in (8, 16, 32):
        n = (64 // stride) ** 2
        maps.append(np.zeros((n, 3), np.float32))
        maps.append(np.full((n, 32), -20.0, np.float32))
        maps[-1][:, 0::8] = 20.0   # every distance 0 bins unless set
    cls16, box16 = maps[2], maps[3]
    cell = 1 * 4 + 2                       # row 1, col 2 of the 4x4 grid of stride 16: centre (40, 24)
    cls16[cell, 1] = 0.8
    box16[cell] = -20.0
    for side, dist in enumerate((1, 1, 2, 0.5)):   # left, top, right, bottom, in strides
        lo = int(dist)
        frac = dist - lo
        # two bins whose softmax weights give the fractional expectation
        if frac:
            box16[cell, side * 8 + lo] = 0.0
            box16[cell, side * 8 + lo + 1] = 0.0
        else:
            box16[cell, side * 8 + lo] = 20.0
    xyxy, score, cls = decode_nanodet(maps, fmt, 0.5)
    assert cls.tolist() == [1]
    np.testing.assert_allclose(score, [0.8])
    np.testing.assert_allclose(xyxy[0], [40 - 16, 24 - 16, 40 + 32, 24 + 8], atol=1e-3)


def test_nanodet_decode_needs_all_strides() -> None:
    fmt = ModelFormat(decoder="nanodet", class_names=["a"], size=(64, 64), strides=(8, 16), reg_max=7)
    maps = [np.zeros((64, 1), np.float32), np.zeros((64, 32), np.float32)]
    maps[0][0, 0] = 0.9
    with pytest.raises(ModelError, match="stride 16"):
        decode(maps, fmt, 0.5, 0.5)


def test_nanodet_outputs_recognised_by_shape(tmp_path: Path) -> None:
    # Three strides of a 32x32 input, 2 classes, reg_max 7: class maps [1, N, 2], box maps [1, N, 32].
    image = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])
    nodes, outs, inits = [helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0)], [], []
    for i, (n, w) in enumerate([(16, 2), (4, 2), (1, 2), (16, 32), (4, 32), (1, 32)]):
        value = np.zeros((1, n, w), np.float32)
        if i == 0:
            value[0, 5, 1] = 0.9                       # stride 8, row 1, col 1 -> centre (12, 12)
        if i == 3:
            value[0, :, 0::8] = 20.0                   # all distances 0 ...
            value[0, 5, [0, 8]] = -20.0
            value[0, 5, [1, 9]] = 20.0                 # ... but left and top are 1 stride
        inits.append(numpy_helper.from_array(value, f"c{i}"))
        nodes.append(helper.make_node("Add", [f"c{i}", "m"], [f"o{i}"]))
        outs.append(helper.make_tensor_value_info(f"o{i}", TensorProto.FLOAT, [1, n, w]))
    model = helper.make_model(helper.make_graph(nodes, "nd", [image], outs, initializer=inits),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    # the mean of a zero image is 0 after normalisation only if mean/std are declared so: declare plain input
    model.metadata_props.add(key="sharpeyes.input", value='{"mean": [0, 0, 0], "std": [1, 1, 1]}')
    onnx.save(model, str(tmp_path / "nd.onnx"))
    det = create_detector({"model": str(tmp_path / "nd.onnx")})
    assert det.format.decoder == "nanodet" and det.format.reg_max == 7  # type: ignore[attr-defined]
    assert det.class_names == ["class0", "class1"]
    dets = det.detect(np.zeros((64, 64, 3), np.uint8))   # stretched 2x: source = input * 2
    np.testing.assert_allclose(dets.xyxy, [[8, 8, 24, 24]], atol=1e-3)   # input (4, 4, 12, 12)


# ------------------------------------------------------------------------------------------- helpers


def test_nms_is_per_class() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    keep = nms(boxes, np.array([0.9, 0.8, 0.7, 0.6]), np.array([0, 0, 1, 0]), 0.5)
    assert keep.tolist() == [0, 2, 3]


@pytest.mark.parametrize(("value", "count", "expected"), [
    ("{0: 'person', 1: 'car'}", 2, ["person", "car"]),
    ('["a", "b"]', 2, ["a", "b"]),
    (None, 2, ["class0", "class1"]),
    ("{0: 'a'}", 2, ["a", "class1"]),
    ("not names", 80, None),
])
def test_parse_names(value: str | None, count: int, expected: list[str] | None) -> None:
    names = parse_names(value, count)
    if expected is None:
        assert names[:3] == ["person", "bicycle", "car"] and len(names) == 80
    else:
        assert names == expected


def test_preprocess_stretch_bgr_normalised() -> None:
    fmt = ModelFormat(decoder="nanodet", class_names=["a"], size=(4, 2), layout="NCHW", color="BGR",
                      resize="stretch", mean=(10, 20, 30), std=(2, 4, 5))
    image = np.zeros((4, 8, 3), np.uint8)
    image[..., 2] = 130
    tensor, box = preprocess(image, fmt)
    assert tensor.shape == (1, 3, 2, 4)
    np.testing.assert_allclose(tensor[0, :, 0, 0], [-5, -5, 20])
    assert (box.sx, box.sy) == (0.5, 0.5)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_preprocess_letterbox_rgb(layout: str) -> None:
    fmt = ModelFormat(decoder="yolo", class_names=["a"], size=(8, 8), layout=layout, color="RGB",
                      mean=(1, 2, 3), std=(255, 255, 255))
    image = np.zeros((2, 8, 3), np.uint8)
    image[..., 0] = 10    # blue
    image[..., 2] = 200   # red
    tensor, box = preprocess(image, fmt)
    chw = tensor[0] if layout == "NCHW" else tensor[0].transpose(2, 0, 1)
    assert chw.shape == (3, 8, 8) and (box.px, box.py, box.sx) == (0, 3, 1.0)
    np.testing.assert_allclose(chw[:, 4, 4], [(200 - 1) / 255, -2 / 255, (10 - 3) / 255], atol=1e-6)
    np.testing.assert_allclose(chw[:, 0, 0], [113 / 255, 112 / 255, 111 / 255], atol=1e-6)   # grey padding


# ------------------------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(("data", "error"), [
    ({"modle": "x.onnx"}, "unknown key 'modle'"),
    ({"type": "tensorrt"}, "unknown detector type 'tensorrt'"),
    ({"score_threshold": 1.5}, "key 'score_threshold'"),
    ({"threads": 0}, "key 'threads'"),
    ({"filters": {"car": {"min_aera": 3}}}, "unknown key 'filters.car.min_aera'"),
    ({"type": "openvino", "imgsz": 320}, "unknown key 'imgsz'"),
])
def test_config_errors(data: dict[str, object], error: str) -> None:
    with pytest.raises(ConfigError, match=error) as exc:
        parse_detector_config(data, where="cams.yaml: detector")
    assert str(exc.value).startswith("cams.yaml: detector: ")
    assert "\n" not in str(exc.value)


def test_config_types_and_defaults() -> None:
    assert isinstance(parse_detector_config({}), OnnxDetectorConfig)
    assert isinstance(parse_detector_config(None), OnnxDetectorConfig)
    cfg = parse_detector_config({"type": "openvino", "filters": {"car": {"min_area": 100}}})
    assert isinstance(cfg, OpenVinoDetectorConfig) and cfg.filters["car"] == LabelFilter(min_area=100)
    assert cfg.threads == 2
    assert isinstance(parse_detector_config({"type": "ultralytics", "model": "best.pt"}),
                      UltralyticsDetectorConfig)
    assert Path(parse_detector_config({}).model).name == "yolox_nano_416.onnx"
    for name, field in OnnxDetectorConfig.model_fields.items():
        assert field.description, name


def test_missing_model_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"nothere\.onnx: model file not found"):
        create_detector({"model": "nothere.onnx"}, base_dir=tmp_path)


def test_relative_model_path_from_base_dir(tmp_path: Path, yolo_model: Path) -> None:
    det = create_detector({"model": "yolo.onnx"}, base_dir=yolo_model.parent)
    assert det.class_names[0] == "person"


def test_unknown_filter_label_names_the_model(yolo_model: Path) -> None:
    with pytest.raises(ConfigError, match=r"label 'truck' is not a class of .*yolo\.onnx"):
        create_detector({"model": str(yolo_model), "filters": {"truck": {"min_area": 1}}})


@pytest.mark.parametrize("shape", [[1, 10], [1, 3, 4], [2, 5, 6, 7]])
def test_unsupported_output_is_a_model_error(tmp_path: Path, shape: list[int]) -> None:
    path = constant_output_model(tmp_path / "odd.onnx", np.zeros(shape, np.float32), [1, 3, 32, 32])
    with pytest.raises(ModelError, match=r"odd\.onnx: unsupported model outputs"):
        create_detector({"model": str(path)})


def test_not_an_onnx_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model")
    with pytest.raises(ModelError, match=r"bad\.onnx: not a model ONNX Runtime can load"):
        create_detector({"model": str(bad)})


# ------------------------------------------------------------------------------------------- ultralytics


def test_ultralytics_missing_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"\0")
    monkeypatch.setitem(sys.modules, "ultralytics", None)   # import fails as if not installed
    with pytest.raises(ModelError, match=r"pip install 'sharpeyes\[ultralytics\]'"):
        create_detector({"type": "ultralytics", "model": str(weights)})


def test_ultralytics_results_become_detections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"\0")

    class Boxes:
        xyxy = np.array([[0, 0, 10, 10], [5, 5, 100, 100], [1, 1, 2, 2]], np.float32)
        conf = np.array([0.9, 0.8, 0.3], np.float32)
        cls = np.array([0, 1, 1], np.float32)

    class YOLO:
        names = {0: "person", 1: "car"}

        def __init__(self, path: str) -> None:
            assert path == str(weights)

        def predict(self, images: list[np.ndarray], **kwargs: object) -> list[object]:
            assert kwargs["conf"] == 0.25 and kwargs["classes"] is None
            return [types.SimpleNamespace(boxes=Boxes()) for _ in images]

    monkeypatch.setitem(sys.modules, "ultralytics", types.SimpleNamespace(YOLO=YOLO))
    det = create_detector({"type": "ultralytics", "model": str(weights), "score_threshold": 0.25,
                           "filters": {"car": {"max_area": 1000}}})
    assert det.class_names == ["person", "car"]
    dets = det.detect(np.zeros((100, 100, 3), np.uint8))
    assert list(dets.data["class_name"]) == ["person", "car"]      # the big car is filtered out
    np.testing.assert_allclose(dets.xyxy[1], [1, 1, 2, 2])


def test_ultralytics_kindred_boxes_and_declared_classes(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"\0")

    class Boxes:
        xyxy = np.array([[0, 0, 50, 40], [1, 0, 51, 41], [60, 0, 70, 30]], np.float32)
        conf = np.array([0.6, 0.8, 0.9], np.float32)
        cls = np.array([0, 1, 2], np.float32)

    class YOLO:
        names = {0: "car", 1: "truck", 2: "ebike"}

        def __init__(self, path: str) -> None:
            pass

        def predict(self, images: list[np.ndarray], **kwargs: object) -> list[object]:
            return [types.SimpleNamespace(boxes=Boxes()) for _ in images]

    monkeypatch.setitem(sys.modules, "ultralytics", types.SimpleNamespace(YOLO=YOLO))
    cfg = {"type": "ultralytics", "model": str(weights)}
    det = create_detector({**cfg, "classes": ["car", "truck", "ebike"]})
    assert sorted(det.detect(np.zeros((100, 100, 3), np.uint8)).data["class_name"]) == ["ebike", "truck"]
    with pytest.raises(ConfigError, match=r"key 'classes' \(car, lorry, ebike\) disagrees with the classes"):
        create_detector({**cfg, "classes": ["car", "lorry", "ebike"]})
