"""`sharpeyes bench detector`: detector latency per backend and model, decode fps per clip."""

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

from vision.detectors import MODELS_DIR, create_detector

REPO = Path(__file__).resolve().parents[2]

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
        "backend": backend,
        "model": model.name,
        "input": list(det.input_size),
        "threads": threads,
        "runs": runs,
        "median_ms": round(statistics.median(total), 2),
        "p95_ms": round(_percentile(total, 95), 2),
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
    return {"model": model.name, "clip": clip.name, "frames": frames,
            "score_threshold": det.cfg.score_threshold,
            "per_frame": per_frame}


def cmd_bench_detector(args: argparse.Namespace) -> int:
    from vision.sources import decode_stats

    models = [Path(m) for m in args.models] if args.models else sorted(MODELS_DIR.glob("*.onnx"))
    clips = ([Path(c) for c in args.clips] if args.clips else
             sorted(p for p in (REPO / "sample_videos").glob("*") if p.suffix.lower() in (".mp4", ".avi",
                                                                                          ".mkv")))
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
            print(
                f"{backend:9s} {model.name:16s} median {row['median_ms']:6.1f} ms  p95 {row['p95_ms']:6.1f} "
                "ms  "
                f"(inference only {row['inference_median_ms']:.1f} ms)",
                flush=True,
            )
    import importlib.util

    if importlib.util.find_spec("ultralytics") is None:
        result["skipped"].append("ultralytics: not installed (optional extra, needs torch and your own .pt)")
    for clip in clips:
        stats = decode_stats(clip)
        row = {"clip": clip.name, "frames": stats.frames, "seconds": round(stats.seconds, 3),
               "decode_fps": round(stats.frames_per_s, 1), "realtime_factor": round(stats.realtime_factor, 1)}
        result["decode"].append(row)
        print(f"decode    {clip.name:16s} {row['decode_fps']:7.1f} frames/s ({row['frames']} frames)",
              flush=True)
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
