"""`convert.py --picodet` and `--yolox`: rewrite a published ONNX detector into the form the runtime reads
(PicoDet-S: HardSwish fused back from its decomposed form and a free input size; YOLOX-Nano: a free input
size), with metadata.
Needs only onnx."""

from __future__ import annotations

import json
from pathlib import Path

COCO80 = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
]


def log(msg: str) -> None:
    print(f"[convert] {msg}", flush=True)


PICODET = {  # the upstream file (models/README.md) and the format the runtime reads from the metadata
    "format": {
        "decoder": "nanodet", "layout": "NCHW", "color": "RGB", "size": [416, 416], "resize": "stretch",
        "mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375], "strides": [8, 16, 32, 64],
        "reg_max": 7, "dynamic": True, "multiple": 32,
    },
    "source": "PaddlePaddle/PaddleDetection PP-PicoDet-S 416 (2021.10 release, Apache-2.0), "
              "paddle2onnx export "
              "from hpc203/picodet-onnxruntime @ 6bd166c3944bf8b3a0c41951344ecb5101af756a",
}


YOLOX = {
    "format": {"decoder": "yolox", "layout": "NCHW", "color": "BGR", "size": [416, 416],
               "resize": "letterbox_tl",
               "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "strides": [8, 16, 32], "dynamic": True},
    "source": "Megvii-BaseDetection/YOLOX YOLOX-Nano 416 (Apache-2.0), "
              "ONNX from Kazuhito00/YOLOX-ONNX-TFLite-Sample "
              "@ 0f785c070ce8da070aeaeef46c0da7904ff7012e : model/yolox_nano.onnx",
}


def _scalar(graph, name: str) -> float | None:  # graph: onnx.GraphProto
    """The value of a scalar constant (initializer or Constant node output), else None."""
    from onnx import numpy_helper

    for init in graph.initializer:
        if init.name == name:
            value = numpy_helper.to_array(init)
            return float(value.reshape(-1)[0]) if value.size == 1 else None
    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] == name and node.attribute:
            value = numpy_helper.to_array(node.attribute[0].t)
            return float(value.reshape(-1)[0]) if value.size == 1 else None
    return None


def fuse_hardswish(model):  # onnx.ModelProto -> (onnx.ModelProto, count)
    """Replace every Add(x, 3) -> Clip(0, 6) -> Mul(x, .) -> Div(., 6) with one HardSwish(x) (opset 14).

    The graph is first moved to opset 14 with ONNX's version converter (Split's `split` becomes an input).
    """
    import onnx
    from onnx import helper, version_converter

    model = version_converter.convert_version(model, 14)
    graph = model.graph
    # paddle2onnx lists every weight as a graph input too, which stops ONNX Runtime folding constants
    weights = {init.name for init in graph.initializer}
    inputs = [vi for vi in graph.input if vi.name not in weights]
    del graph.input[:]
    graph.input.extend(inputs)
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def only(name: str, op: str):
        users = consumers.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == op else None

    drop, replace = set(), {}
    for add in graph.node:
        if add.op_type != "Add" or len(add.input) != 2:
            continue
        x = next((i for i in add.input if _scalar(graph, i) is None), None)
        three = [_scalar(graph, i) for i in add.input if i != x]
        if x is None or three != [3.0]:
            continue
        clip = only(add.output[0], "Clip")
        if clip is None or [_scalar(graph, i) for i in clip.input[1:3]] != [0.0, 6.0]:
            continue
        mul = only(clip.output[0], "Mul")
        if mul is None or sorted(mul.input) != sorted([x, clip.output[0]]):
            continue
        div = only(mul.output[0], "Div")
        if div is None or div.input[0] != mul.output[0] or _scalar(graph, div.input[1]) != 6.0:
            continue
        drop.update(id(n) for n in (add, clip, mul, div))
        replace[id(div)] = helper.make_node("HardSwish", [x], [div.output[0]], name=f"{div.output[0]}_hswish")
    nodes = [replace.get(id(n), n) for n in graph.node if id(n) not in drop or id(n) in replace]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in graph.node for i in n.input}
    keep = [n for n in graph.node if n.op_type != "Constant" or n.output[0] in used
            or n.output[0] in {o.name for o in graph.output}]
    del graph.node[:]
    graph.node.extend(keep)
    onnx.checker.check_model(model)
    return model, len(replace)


def free_picodet_size(model):  # onnx.ModelProto -> (onnx.ModelProto, count)
    """Give PicoDet-S a free input height and width.

    The graph is convolutional but for its ShuffleNet channel shuffles, each Reshape([1, 2, C, H, W]) ->
    Transpose(0, 2, 1, 3, 4) -> Reshape([1, 2C, H, W]) with H and W written as constants. Each becomes
    Reshape([0, 2, C, -1]) -> Transpose(0, 2, 1, 3) -> Reshape(Shape(its input)): the same values in the same
    order, for any H and W. The head's own reshapes ([1, C, -1]) and the neck's upsampling (scales) are free
    already. Any height and width that are multiples of 32 then work (stride 64's maps have ceil(n / 64)
    cells, as 416's 7x7)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    new_nodes, count = [], 0
    for first in graph.node:
        if first.op_type != "Reshape":
            continue
        shape = _const_array(graph, first.input[1])
        if shape is None or len(shape) != 5 or int(shape[1]) != 2:
            continue
        users = consumers.get(first.output[0], [])
        if len(users) != 1 or users[0].op_type != "Transpose":
            continue
        transpose = users[0]
        perm = next(helper.get_attribute_value(a) for a in transpose.attribute if a.name == "perm")
        after = consumers.get(transpose.output[0], [])
        if list(perm) != [0, 2, 1, 3, 4] or len(after) != 1 or after[0].op_type != "Reshape":
            continue
        second = after[0]
        name = first.output[0]
        split = numpy_helper.from_array(np.asarray([0, 2, int(shape[2]), -1], np.int64), f"{name}_free_shape")
        graph.initializer.append(split)
        first.input[1] = split.name
        for a in transpose.attribute:
            if a.name == "perm":
                a.ints[:] = [0, 2, 1, 3]
        new_nodes.append(helper.make_node("Shape", [first.input[0]], [f"{name}_in_shape"],
                                          name=f"{name}_in_shape"))
        second.input[1] = f"{name}_in_shape"
        count += 1
    graph.node.extend(new_nodes)
    # topological order: each Shape node right after what makes its input
    order = _topological(graph)
    del graph.node[:]
    graph.node.extend(order)
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for out in graph.output:
        out.type.tensor_type.shape.dim[1].dim_param = "cells"
    del graph.value_info[:]   # shapes inferred at 416 x 416 no longer hold
    used = {i for n in graph.node for i in n.input}
    keep = [n for n in graph.node if n.op_type != "Constant" or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(keep)
    weights = [w for w in graph.initializer if w.name in used]
    del graph.initializer[:]
    graph.initializer.extend(weights)
    onnx.checker.check_model(model)
    return model, count


def _const_array(graph, name: str):  # -> np.ndarray | None
    from onnx import numpy_helper

    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] == name and node.attribute:
            return numpy_helper.to_array(node.attribute[0].t)
    return None


def _topological(graph) -> list:
    """The graph's nodes in an order where every input is made before it is used."""
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, order = list(graph.node), []
    while pending:
        rest = []
        for node in pending:
            if all(i in ready for i in node.input):
                order.append(node)
                ready.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            raise ValueError(f"graph has a cycle or a missing input at {rest[0].name}")
        pending = rest
    return order


def set_metadata(model, spec: dict, converted_by: str) -> None:  # model: onnx.ModelProto
    meta = {"names": repr(dict(enumerate(COCO80))), "sharpeyes.input": json.dumps(spec["format"]),
            "source_model": spec["source"], "converted_by": converted_by}
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)


def convert_picodet(picodet: Path, out_dir: Path) -> None:
    """PicoDet-S as published -> picodet_s_416.onnx (HardSwish, opset 14, a free input size, class names and
    format in metadata)."""
    import onnx

    model, count = fuse_hardswish(onnx.load(str(picodet)))
    model, shuffles = free_picodet_size(model)
    set_metadata(model, PICODET, f"models/convert.py --picodet: {count} hard-swish patterns fused into "
                 f"HardSwish (opset 14), {shuffles} channel shuffles made free of the input size, "
                 f"onnx {onnx.__version__}")
    out = out_dir / "picodet_s_416.onnx"
    onnx.save(model, str(out))
    log(f"picodet: {count} Add/Clip/Mul/Div -> HardSwish, {shuffles} shuffles freed; wrote {out} "
        f"({out.stat().st_size / 1e6:.1f} MB)")


def convert_yolox(yolox: Path, out_dir: Path) -> None:
    """YOLOX-Nano as published -> yolox_nano_416.onnx: the same graph with a free input height and width.

    The graph is fully convolutional (its head reshapes to [1, 85, -1], its upsampling uses scales), so any
    height and width that are multiples of 32 work: motion regions then run on an input their own size.
    """
    import onnx

    model = onnx.load(str(yolox))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_param = "cells"
    set_metadata(model, YOLOX,
                 f"models/convert.py --yolox: input height and width made free (graph unchanged), "
                 f"onnx {onnx.__version__}")
    onnx.checker.check_model(model)
    out = out_dir / "yolox_nano_416.onnx"
    onnx.save(model, str(out))
    log(f"yolox: wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
