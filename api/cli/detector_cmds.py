"""`sharpeyes detect IMAGE_OR_CLIP` and `sharpeyes bench detector`: the detector on its own."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

import cv2

from vision.annotate import draw_detections
from vision.detections import Detections
from vision.detectors import DEFAULT_MODEL, create_detector, parse_detector_config
from vision.errors import SourceError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
REPO = Path(__file__).resolve().parents[2]


def register(sub: Any, bench_sub: Any) -> None:
    p = sub.add_parser("detect", help="run the detector on an image or a clip, print and draw the detections")
    p.add_argument("source", metavar="IMAGE_OR_CLIP",
                   help="an image (jpg, png, ...) or a clip (mp4, avi, mkv)")
    p.add_argument("--out", help="annotated output: .jpg/.png for an image, .mp4 (H.264) for a clip")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="model file (default: %(default)s)")
    p.add_argument("--type", default="onnx", choices=["onnx", "openvino", "ultralytics"], help="backend")
    p.add_argument("--score", type=float, default=0.35, help="score threshold (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default: %(default)s)")
    p.add_argument("--fps", type=float, default=5.0, help="clips: frames per second to detect on (default: "
                   "%(default)s; 0: every frame)")
    p.add_argument("--max-frames", type=int, default=None, help="clips: stop after this many frames")
    p.add_argument("--quiet", action="store_true", help="clips: print only the summary")
    p.set_defaults(func=cmd_detect)

    b = bench_sub.add_parser("detector", help="detector latency (median, p95) per backend and model, "
                             "decode-only fps per sample clip")
    b.add_argument("--json", required=True, help="write the figures here")
    b.add_argument("--models", nargs="+", default=None, help="model files (default: models/*.onnx)")
    b.add_argument("--backends", nargs="+", default=["onnx", "openvino"], choices=["onnx", "onnx-nospin",
                                                                                   "openvino"],
                   help="onnx-nospin: ONNX Runtime with spin: false (default: %(default)s)")
    b.add_argument("--clips", nargs="+", default=None, help="clips (default: sample_videos/*.mp4|avi)")
    b.add_argument("--runs", type=int, default=100, help="timed inferences per model (default: %(default)s)")
    b.add_argument("--threads", type=int, default=2, help="CPU threads per inference (default: %(default)s)")
    b.add_argument("--sample-every", type=int, default=10, help="label counts: every Nth frame of each clip, "
                   "ONNX backend (default: %(default)s; 0: skip)")
    b.set_defaults(func=cmd_bench_detector)


# ------------------------------------------------------------------------------------------------- detect

def describe(dets: Detections) -> list[str]:
    names = dets.data.get("class_name", dets.class_id)
    return [f"{name} {score:.2f} ({', '.join(str(int(round(v))) for v in box)})"
            for name, score, box in zip(names, dets.confidence, dets.xyxy, strict=True)]


def _detector(args: argparse.Namespace) -> Any:
    cfg = parse_detector_config({"type": args.type, "model": args.model, "score_threshold": args.score,
                                 "threads": args.threads}, where="sharpeyes detect")
    return create_detector(cfg, base_dir=Path.cwd())


def cmd_detect(args: argparse.Namespace) -> int:
    path = Path(args.source)
    if not path.exists():
        raise SourceError(f"{path}: no such file; give an image or a clip")
    detector = _detector(args)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _detect_image(path, detector, args)
    return _detect_clip(path, detector, args)


def _detect_image(path: Path, detector: Any, args: argparse.Namespace) -> int:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SourceError(f"{path}: cannot read it as an image (corrupt or unsupported); try a jpg or png")
    t0 = time.perf_counter()
    dets = detector.detect(image)
    ms = (time.perf_counter() - t0) * 1000
    print(
        f"{path}: {image.shape[1]}x{image.shape[0]}, {len(dets)} detections in {ms:.0f} ms "
        f"({detector.path.name})"
    )
    for line in describe(dets):
        print(f"  {line}")
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() not in IMAGE_SUFFIXES:
            raise SourceError(f"--out {out}: an image needs an image output (.jpg or .png)")
        out.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(out), draw_detections(image, dets)):
            raise SourceError(f"--out {out}: cannot write it; check the folder")
        print(f"annotated image: {out}")
    return 0


def _detect_clip(path: Path, detector: Any, args: argparse.Namespace) -> int:
    from vision.lifecycle import ClipWriter
    from vision.sources import open_source

    fps = args.fps if args.fps and args.fps > 0 else None
    if args.out and Path(args.out).suffix.lower() != ".mp4":
        raise SourceError(f"--out {args.out}: a clip needs an .mp4 output")
    writer: ClipWriter | None = None
    seen: Counter[str] = Counter()
    most: Counter[str] = Counter()
    frames, total_ms = 0, 0.0
    try:
        with open_source(path, fps) as source:
            for frame in source:
                t0 = time.perf_counter()
                dets = detector.detect(frame.image)
                total_ms += (time.perf_counter() - t0) * 1000
                frames += 1
                counts = Counter(str(n) for n in dets.data.get("class_name", []))
                seen.update(counts.keys())
                for label, n in counts.items():
                    most[label] = max(most[label], n)
                if not args.quiet:
                    print(f"frame {frame.index} t={frame.t:.1f}s: " + ("; ".join(describe(dets)) or "-"))
                if args.out:
                    if writer is None:
                        out = Path(args.out)
                        out.parent.mkdir(parents=True, exist_ok=True)
                        h, w = frame.image.shape[:2]
                        writer = ClipWriter(out, w, h, fps or 10.0)
                    writer.write(draw_detections(frame.image, dets))
                if args.max_frames and frames >= args.max_frames:
                    break
    finally:
        if writer is not None:
            writer.close()
    if frames == 0:
        raise SourceError(f"{path}: no frame could be decoded; check it is a video file (mp4, avi, mkv)")
    print(f"{path}: {frames} frames, {total_ms / frames:.0f} ms per detection ({detector.path.name})")
    for label, n in seen.most_common():
        print(f"  {label}: in {n} of {frames} frames, up to {most[label]} at once")
    if writer is not None:
        print(f"annotated clip: {writer.path} ({writer.frames} frames)")
    return 0


def cmd_bench_detector(args: argparse.Namespace) -> int:
    from api.bench.detector import cmd_bench_detector

    return cmd_bench_detector(args)
