"""PicoDet-S (HardSwish form) and YOLOX-Nano, the stronger COCO detectors in models/, and their decoders."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.vision.test_detectors import constant_output_model
from tests.vision.test_detectors_real import vtest_frame
from vision.detectors import MODELS_DIR, create_detector
from vision.detectors.decoding import preprocess

PICODET = MODELS_DIR / "picodet_s_416.onnx"
PICODET_ORIGINAL = MODELS_DIR / "reference" / "picodet_s_416_coco_2021.onnx"
YOLOX = MODELS_DIR / "yolox_nano_416.onnx"


# models/ is no package: load models/convert_onnx.py (the ONNX rewrites of convert.py) by path
def _convert_module():
    spec = importlib.util.spec_from_file_location("models_convert_onnx", MODELS_DIR / "convert_onnx.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("model", [PICODET, YOLOX])
def test_model_finds_the_people_and_the_parked_vehicles_on_vtest(model: Path) -> None:
    det = create_detector({"model": str(model)})
    assert det.class_names[0] == "person" and det.class_names[7] == "truck"
    dets = det.detect(vtest_frame(100))
    names = list(dets.data["class_name"])
    assert names.count("person") >= 6, names
    people = dets.xyxy[np.asarray(names) == "person"]
    sure = dets.xyxy[(np.asarray(names) == "person") & (dets.confidence > 0.6)]
    assert len(sure) >= 5 and np.all(sure[:, 3] - sure[:, 1] > sure[:, 2] - sure[:, 0])  # upright boxes
    # the van (x 651-725) and the car (x 731-768) parked at the top right, each boxed where it is
    parked = dets.xyxy[np.isin(names, ["car", "truck"])]
    for x1, x2 in ((651, 725), (731, 768)):
        assert any(abs(b[0] - x1) < 8 and abs(b[2] - x2) < 8 and b[3] < 110 for b in parked), (names,
                                                                                               dets.xyxy)
    # a walker at (346, 197)-(380, 274) in this frame (seen by eye and by the other models)
    assert any(np.abs(b - [346, 197, 380, 274]).max() < 8 for b in people), people


def test_hardswish_picodet_gives_the_original_outputs() -> None:
    graph = onnx.load(str(PICODET), load_external_data=False).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("HardSwish") == 87 and "Div" not in ops
    image = vtest_frame(300)
    x, _ = preprocess(image, create_detector({"model": str(PICODET)}).format)  # type: ignore[attr-defined]
    fused, original = _session(PICODET), _session(PICODET_ORIGINAL)
    out_a = fused.run(None, {fused.get_inputs()[0].name: x})
    out_b = original.run(None, {original.get_inputs()[0].name: x})
    assert [o.shape for o in out_a] == [o.shape for o in out_b]
    assert max(float(np.abs(a - b).max()) for a, b in zip(out_a, out_b, strict=True)) < 1e-4


def test_fuse_hardswish_replaces_the_pattern_and_keeps_the_values(tmp_path: Path) -> None:
    """A tiny opset-11 graph: x * clip(x + 3, 0, 6) / 6 twice, one of them feeding the other."""
    consts = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("three", 3.0), ("zero", 0.0),
                                                                                ("six", 6.0))]
    nodes = []
    for k, (src, dst) in enumerate((("x", "h1"), ("h1", "y"))):
        nodes += [helper.make_node("Add", [src, "three"], [f"a{k}"]),
                  helper.make_node("Clip", [f"a{k}", "zero", "six"], [f"c{k}"]),
                  helper.make_node("Mul", [src, f"c{k}"], [f"m{k}"]),
                  helper.make_node("Div", [f"m{k}", "six"], [dst])]
    graph = helper.make_graph(nodes, "hs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                             [1, 8])], initializer=consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    fused, count = _convert_module().fuse_hardswish(model)
    assert count == 2 and [n.op_type for n in fused.graph.node] == ["HardSwish", "HardSwish"]
    assert fused.opset_import[0].version == 14
    onnx.save(model, str(tmp_path / "a.onnx"))
    onnx.save(fused, str(tmp_path / "b.onnx"))
    x = np.linspace(-5, 5, 8, dtype=np.float32)[None]
    ya = _session(tmp_path / "a.onnx").run(None, {"x": x})[0]
    yb = _session(tmp_path / "b.onnx").run(None, {"x": x})[0]
    assert np.abs(ya - yb).max() < 1e-6


def test_yolox_decoder_reads_grid_cells_and_maps_back_through_the_top_left_letterbox(tmp_path: Path) -> None:
    # cells: 52x52 (stride 8), 26x26 (16), 13x13 (32) of a 416x416 input = 3549 rows of 5 + 80
    out = np.zeros((1, 3549, 85), np.float32)
    out[0, :, 2:4] = -5.0
    row = 2704 + 10 * 26 + 4                      # stride 16, row 10, col 4
    out[0, row, :4] = (0.5, 0.25, np.log(4.0), np.log(4.0))   # centre (72, 164), 64 x 64 input pixels
    out[0, row, 4] = 0.9                          # objectness
    out[0, row, 5 + 2] = 0.8                      # car: score 0.72
    weak = 2704 + 676 + 3
    out[0, weak, 4], out[0, weak, 5] = 0.5, 0.5   # 0.25: under the threshold
    path = constant_output_model(tmp_path / "yolox.onnx", out, [1, 3, 416, 416])
    det = create_detector({"model": str(path)})
    assert det.format.decoder == "yolox" and det.format.color == "BGR"  # type: ignore[attr-defined]
    image = np.zeros((416, 832, 3), np.uint8)     # scale 0.5; letterboxed at the top left: no offset
    dets = det.detect(image)
    assert list(dets.data["class_name"]) == ["car"]
    assert dets.confidence[0] == pytest.approx(0.72, abs=1e-5)
    np.testing.assert_allclose(dets.xyxy[0], [(72 - 32) * 2, (164 - 32) * 2, (72 + 32) * 2, (164 + 32) * 2],
                               atol=1e-3)


def test_eval_model_option_refuses_a_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli.main import main

    case = MODELS_DIR.parent / "sample_videos" / "cases" / "vtest_fire_lane"
    assert main(["eval", str(case), "--model", "nope.onnx"]) == 2
    assert "--model nope.onnx: no such model file" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_runs_a_case_with_another_model(tmp_path: Path) -> None:
    import json

    from api.cli.main import main

    case = MODELS_DIR.parent / "sample_videos" / "cases" / "vtest_fire_lane"
    out = tmp_path / "report.json"
    assert main(["eval", str(case), "--model", str(PICODET), "--json", str(out)]) == 0
    overall = json.loads(out.read_text())["overall"]
    assert overall["tp"] == 2 and overall["fp"] == 0    # the van and the car, with PicoDet-S


def test_picodet_takes_a_free_input_size_with_the_original_outputs_at_416() -> None:
    """The channel shuffles rewritten (models/convert.py --picodet): at 416 x 416 the published model's
    outputs; packed regions (`own_size`) run at their own size, padded to 32, and find the walkers the whole
    frame does; anything else is stretched to 416 x 416 as before."""
    det = create_detector({"model": str(PICODET)})
    assert det.dynamic_input and det.input_size == (416, 416)  # type: ignore[attr-defined]
    frame = vtest_frame(100)
    x, _ = preprocess(frame, det.format)            # type: ignore[attr-defined]
    assert x.shape == (1, 3, 416, 416)              # a whole frame is stretched as before
    free, original = _session(PICODET), _session(PICODET_ORIGINAL)
    out_a = free.run(None, {free.get_inputs()[0].name: x})
    out_b = original.run(None, {original.get_inputs()[0].name: x})
    assert max(float(np.abs(a - b).max()) for a, b in zip(out_a, out_b, strict=True)) < 1e-4
    crop = frame[140:290, 330:430]                  # two walkers, 100 x 150 pixels
    x, box = preprocess(crop, det.format, own_size=True)   # type: ignore[attr-defined]
    assert x.shape == (1, 3, 160, 128) and box.size == (128, 160) and (box.sx, box.px) == (1.0, 0.0)
    assert preprocess(crop, det.format)[0].shape == (1, 3, 416, 416)  # type: ignore[attr-defined]
    walkers = det.detect_batch([crop], own_size=True)[0]
    walkers = walkers.xyxy[np.asarray(walkers.data["class_name"]) == "person"]
    whole = det.detect(frame)
    people = whole.xyxy[np.asarray(whole.data["class_name"]) == "person"]
    assert len(walkers) == 2
    for b in walkers + [330, 140, 330, 140]:   # each found in the frame too, within a few pixels
        assert np.abs(people - b).max(axis=1).min() < 8, (b, people)
    # 32 x 32: strides 32 and 64 have one cell each, told apart by the outputs' order
    assert len(det.detect_batch([frame[0:20, 0:20]], own_size=True)) == 1


def test_free_picodet_size_rewrites_a_channel_shuffle_for_any_height_and_width(tmp_path: Path) -> None:
    """Reshape [1, 2, 3, 4, 4] -> Transpose (0, 2, 1, 3, 4) -> Reshape [1, 6, 4, 4], written for 4 x 4,
    gives ShuffleNet's channel order for a 6 x 10 input once rewritten."""
    shape5 = numpy_helper.from_array(np.array([1, 2, 3, 4, 4], np.int64), "s5")
    shape4 = numpy_helper.from_array(np.array([1, 6, 4, 4], np.int64), "s4")
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Reshape", ["r", "s5"], ["a"]),
             helper.make_node("Transpose", ["a"], ["b"], perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["b", "s4"], ["y"])]
    graph = helper.make_graph(nodes, "shuffle", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                              [1, 6, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 4, 4])],
                              initializer=[shape5, shape4])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    free, count = _convert_module().free_picodet_size(model)
    assert count == 1
    onnx.save(free, str(tmp_path / "free.onnx"))
    x = np.random.default_rng(0).standard_normal((1, 6, 6, 10)).astype(np.float32)
    y = _session(tmp_path / "free.onnx").run(None, {"x": x})[0]
    expected = np.maximum(x, 0).reshape(1, 2, 3, 6, 10).transpose(0, 2, 1, 3, 4).reshape(1, 6, 6, 10)
    assert y.shape == (1, 6, 6, 10) and np.array_equal(y, expected)
