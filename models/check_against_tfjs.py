"""Check the converted ONNX models against the original TF.js models on a real photo.

    npm install --prefix models/build/node @tensorflow/tfjs@4.22.0      # pure JS, no native download
    python models/convert.py --tarball ... --keep-tfjs models/build/tfjs  # the originals, beside the ONNX
    .venv/bin/python models/check_against_tfjs.py IMAGE_OR_CLIP [--frame N]

The same input tensor goes to both (TF.js CPU backend in node, ONNX Runtime here); the raw outputs are
compared, then both are decoded the same way (vision/detectors/decoding.py) and every box of one is matched
with the other's: the script prints the largest difference in source pixels and exits 1 above --tolerance.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from convert import MODELS, PACKAGE, VERSION  # noqa: E402

from vision.detectors import create_detector  # noqa: E402
from vision.detectors.decoding import decode, preprocess  # noqa: E402

PACKAGE_NAME = f"{PACKAGE}@{VERSION}"


def read_image(path: Path, frame: int) -> np.ndarray:
    image = cv2.imread(str(path)) if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp") else None
    if image is None:
        cap = cv2.VideoCapture(str(path))
        cap.set(cv2.CAP_PROP_POS_FRAMES, frame)
        ok, image = cap.read()
        if not ok:
            sys.exit(f"{path}: cannot read frame {frame}")
    return image


def run_tfjs(name: str, tensor: np.ndarray, tfjs_dir: Path, node_modules: Path,
             work: Path) -> list[np.ndarray]:
    (work / "input.bin").write_bytes(np.ascontiguousarray(tensor, np.float32).tobytes())
    outputs = ",".join(MODELS[name]["outputs"])
    env = {**os.environ, "NODE_PATH": str(node_modules)}
    subprocess.run(["node", str(HERE / "check_against_tfjs.cjs"), str(tfjs_dir / f"{name}.json"),
                    str(work / "input.bin"), "x".join(map(str, tensor.shape)), str(work), outputs],
                   check=True, env=env)
    result = []
    for i in range(len(MODELS[name]["outputs"])):
        shape = [int(x) for x in (work / f"out{i}.shape").read_text().split("x")]
        result.append(np.fromfile(work / f"out{i}.bin", np.float32).reshape(shape))
    return result


def match(a: np.ndarray, b: np.ndarray) -> float:
    """Largest coordinate difference between each box of `a` and its nearest box of `b` (pixels)."""
    if len(a) == 0 and len(b) == 0:
        return 0.0
    if len(a) != len(b):
        return float("inf")
    return float(max(np.abs(b - box).max(axis=1).min() for box in a))


def check(name: str, image: np.ndarray, args: argparse.Namespace) -> dict[str, object]:
    det = create_detector({"model": str(HERE / f"{name}.onnx"), "score_threshold": args.score,
                           "same_object_iou": 1})
    fmt = det.format  # type: ignore[attr-defined]
    tensor, box = preprocess(image, fmt)
    onnx_out = det.infer(tensor)  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        tfjs_out = run_tfjs(name, tensor, args.tfjs, args.node_modules, Path(tmp))
    raw = max(float(np.abs(o - t).max()) for o, t in zip(onnx_out, tfjs_out, strict=True))
    h, w = image.shape[:2]
    decoded = []
    for outs in (onnx_out, tfjs_out):
        xyxy, score, cls = decode([o[0] for o in outs], fmt, args.score, 0.5)
        decoded.append((box.to_source(xyxy, w, h), score, cls))
    (a, sa, ca), (b, sb, cb) = decoded
    reference = {"boxes": [[round(float(v), 2) for v in box] for box in b], "scores": [round(float(x),
                                                                                             4) for x in sb],
                 "labels": [det.class_names[i] for i in cb]}
    same_classes = sorted(ca.tolist()) == sorted(cb.tolist())
    diff = match(a, b) if same_classes else float("inf")
    labels = [det.class_names[i] for i in ca]
    return {
        "model": name,
        "onnx_boxes": len(a),
        "tfjs_boxes": len(b),
        "labels": labels,
        "max_raw_output_diff": round(raw, 6),
        "max_box_diff_px": float(f"{diff:.3g}"),
        "max_score_diff": round(
            float(np.abs(np.sort(sa) - np.sort(sb)).max()) if len(sa) == len(sb) and len(sa) else 0.0, 6
        ),
        "tfjs": reference,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", type=Path, help="a real photo (jpg/png) or a clip")
    parser.add_argument("--frame", type=int, default=100, help="frame number when IMAGE is a clip")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--tfjs", type=Path, default=HERE / "build/tfjs", help="folder of the TF.js json/bin")
    parser.add_argument("--node-modules", type=Path, default=HERE / "build/node/node_modules")
    parser.add_argument("--score", type=float, default=0.3)
    parser.add_argument("--tolerance", type=float, default=2.0,
                        help="largest box difference allowed (pixels)")
    parser.add_argument("--write-reference", type=Path,
                        help="save the TF.js boxes as JSON (what the tests compare "
                        "the ONNX models with: models/tfjs_reference.json)")
    args = parser.parse_args()
    image = read_image(args.image, args.frame)
    ok = True
    references: dict[str, object] = {}
    for name in args.models:
        result = check(name, image, args)
        references[name] = result.pop("tfjs")
        print(json.dumps({"image": args.image.name, **result}))
        ok &= float(result["max_box_diff_px"]) <= args.tolerance  # type: ignore[arg-type]
    if args.write_reference:
        entry = {"image": args.image.name, "frame": args.frame, "score_threshold": args.score,
                 "tfjs": f"@tensorflow/tfjs CPU backend on {PACKAGE_NAME}", "models": references}
        old = json.loads(args.write_reference.read_text()) if args.write_reference.exists() else []
        old = [e for e in old if (e["image"], e["frame"]) != (entry["image"], entry["frame"])]
        args.write_reference.write_text(json.dumps([*old, entry], indent=1) + "\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
