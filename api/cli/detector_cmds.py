"""`sharpeyes detect IMAGE_OR_CLIP` and `sharpeyes bench detector`: the detector on its own."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.annotate import draw_detections
from vision.detections import Detections
from vision.detectors import DEFAULT_MODEL, MODELS_DIR, create_detector, parse_detector_config
from vision.errors import SourceError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
REPO = Path(__file__).resolve().parents[2]


def register(sub: Any, bench_sub: Any) -> None:
    p = sub.add_parser("detect", help="run the detector on an image or a clip, print and draw the detections")
    p.add_argument("source", metavar="IMAGE_OR_CLIP", help="an image (jpg, png, ...) or a clip (mp4, avi, mkv)")
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
    b.add_argument("--backends", nargs="+", default=["onnx", "openvino"], choices=["onnx", "onnx-nospin", "openvino"],
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
    print(f"{path}: {image.shape[1]}x{image.shape[0]}, {len(dets)} detections in {ms:.0f} ms ({detector.path.name})")
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


# -------------------------------------------------------------------------------------------- bench detector

def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _bench_frame(clips: list[Path]) -> tuple[np.ndarray, str]:
    for clip in clips:
        cap = cv2.VideoCapture(str(clip))
        cap.set(cv2.CAP_PROP_POS_FRAMES, 100)
        ok, image = cap.read()
        cap.release()
        if ok:
            return image, f"{clip.name} frame 100"
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (576, 768, 3), dtype=np.uint8), "random 768x576 image"


def bench_model(backend: str, model: Path, image: np.ndarray, runs: int, threads: int) -> dict[str, Any]:
    cfg: dict[str, Any] = {"type": backend.removesuffix("-nospin"), "model": str(model), "threads": threads}
    if backend.endswith("-nospin"):
        cfg["spin"] = False
    det: Any = create_detector(cfg)
    for _ in range(5):
        det.detect(image)
    total, infer = [], []
    from vision.detectors.decoding import preprocess

    tensor, _ = preprocess(image, det.format)
    for _ in range(runs):
        t0 = time.perf_counter()
        det.detect(image)
        t1 = time.perf_counter()
        det.infer(tensor)
        t2 = time.perf_counter()
        total.append((t1 - t0) * 1000)
        infer.append((t2 - t1) * 1000)
    return {
        "backend": backend, "model": model.name, "input": list(det.input_size), "threads": threads, "runs": runs,
        "median_ms": round(statistics.median(total), 2), "p95_ms": round(_percentile(total, 95), 2),
        "inference_median_ms": round(statistics.median(infer), 2),
        "inference_p95_ms": round(_percentile(infer, 95), 2),
    }


SCENE_LABELS = ("person", "bicycle", "motorcycle", "car", "truck", "bus")


def clip_label_counts(model: Path, clip: Path, every: int, threads: int) -> dict[str, Any]:
    """What a model finds on every Nth frame of a clip: detections per frame by label (no ground truth)."""
    det: Any = create_detector({"model": str(model), "threads": threads})
    cap = cv2.VideoCapture(str(clip))
    counts: Counter[str] = Counter()
    frames, index = 0, 0
    while True:
        ok = cap.grab()
        if not ok:
            break
        if index % every == 0:
            ok, image = cap.retrieve()
            if not ok:
                break
            frames += 1
            for name in det.detect(image).data.get("class_name", []):
                counts[name if name in SCENE_LABELS else "other"] += 1
        index += 1
    cap.release()
    per_frame = {label: round(counts[label] / max(frames, 1), 2) for label in (*SCENE_LABELS, "other")}
    return {"model": model.name, "clip": clip.name, "frames": frames, "score_threshold": det.cfg.score_threshold,
            "per_frame": per_frame}


def cmd_bench_detector(args: argparse.Namespace) -> int:
    from vision.sources import decode_stats

    models = [Path(m) for m in args.models] if args.models else sorted(MODELS_DIR.glob("*.onnx"))
    clips = ([Path(c) for c in args.clips] if args.clips else
             sorted(p for p in (REPO / "sample_videos").glob("*") if p.suffix.lower() in (".mp4", ".avi", ".mkv")))
    image, image_name = _bench_frame(clips)
    result: dict[str, Any] = {
        "bench": "detector", "machine": f"{platform.node()} {platform.machine()}, {_cpus()} CPUs",
        "image": image_name, "latency": [], "decode": [], "skipped": [],
        "note": "median_ms/p95_ms: one detect() call (resize, inference, decoding, NMS) at `threads` threads",
    }
    for backend in args.backends:
        for model in models:
            try:
                row = bench_model(backend, model, image, args.runs, args.threads)
            except Exception as exc:  # an optional backend missing is a figure we cannot give, not a crash
                result["skipped"].append(f"{backend} {model.name}: {exc}")
                print(f"skipped {backend} {model.name}: {exc}", file=sys.stderr)
                continue
            result["latency"].append(row)
            print(f"{backend:9s} {model.name:16s} median {row['median_ms']:6.1f} ms  p95 {row['p95_ms']:6.1f} ms  "
                  f"(inference only {row['inference_median_ms']:.1f} ms)", flush=True)
    import importlib.util

    if importlib.util.find_spec("ultralytics") is None:
        result["skipped"].append("ultralytics: not installed (optional extra, needs torch and your own .pt)")
    for clip in clips:
        stats = decode_stats(clip)
        row = {"clip": clip.name, "frames": stats.frames, "seconds": round(stats.seconds, 3),
               "decode_fps": round(stats.frames_per_s, 1), "realtime_factor": round(stats.realtime_factor, 1)}
        result["decode"].append(row)
        print(f"decode    {clip.name:16s} {row['decode_fps']:7.1f} frames/s ({row['frames']} frames)", flush=True)
    result["labels"] = []
    for clip in clips if args.sample_every > 0 else []:
        for model in models:
            row = clip_label_counts(model, clip, args.sample_every, args.threads)
            result["labels"].append(row)
            found = ", ".join(f"{k} {v}" for k, v in row["per_frame"].items() if v)
            print(f"labels    {model.name:16s} {clip.name:12s} per frame: {found}", flush=True)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0
