"""`sharpeyes bench vision`: decode / pipeline / naive fps, realtime streams, event F1."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

STAGGER_S = 2.0  # the streams of a trial start spread over this long: cameras are not in phase


def _stream_worker(config: str, camera: str, clip: str, seconds: float, ready: Any, queue: Any,
                   delay: float = 0.0) -> None:
    """One camera at real frame rate (the source drops frames when the pipeline falls behind). It starts when
    every stream of the trial has loaded (`ready`, a barrier): 16 processes importing and loading a model take
    about 2.5 s of CPU each, which is start-up, not the running cost the trial measures; then `delay` seconds
    later, so that N copies of one clip are not N cameras in lockstep (every warm-up and keep-alive run of
    every camera in the same instant, which no site has). Reports its CPU seconds in the trial too."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)  # N cameras share the cores: no OpenCV thread pool per process
    from vision.config import load_config
    from vision.detectors import create_detector
    from vision.pipeline import CameraPipeline
    from vision.sources import open_source

    cam = load_config(config).cameras[camera]
    det = create_detector({**(cam.detector_section() or {}), "threads": 1, "spin": False},
                          base_dir=Path(config).resolve().parent)
    pipe = CameraPipeline(camera, cam, det)
    cap = cv2.VideoCapture(clip)
    ok, first = cap.read()
    cap.release()
    if ok:  # ONNX Runtime's first runs (memory planning) are the process's start-up, not the camera's
        for _ in range(2):
            det.detect_batch([first])
    ready.wait()
    if delay > 0:
        time.sleep(delay)
    started = time.time()
    src = open_source(clip, cam.analysis_fps(), realtime=True, loop=True)
    t0, cpu0 = time.monotonic(), time.process_time()
    n, lags = 0, []
    with src:
        for frame in src:
            pipe.process(frame)
            n += 1
            elapsed = time.monotonic() - t0
            lags.append(elapsed - frame.t)
            if elapsed >= seconds:
                break
    # the rate frames come at: the analysis rate, or the clip's own when it has fewer (line_fps 15, 10 fps)
    rate = min(cam.analysis_fps(), float(getattr(src, "native_fps", 0.0) or cam.analysis_fps()))
    queue.put({"frames": n, "expected": seconds * rate, "max_lag_s": max(lags) if lags else 0.0,
               "cpu_s": time.process_time() - cpu0, "started": started})


def _run_streams(config: str, camera: str, clip: str, n: int, seconds: float,
                 stagger_s: float = STAGGER_S) -> tuple[bool, list[dict[str, Any]]]:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    ready = ctx.Barrier(n + 1)  # all load their model first, then start together
    procs = [ctx.Process(target=_stream_worker, args=(config, camera, clip, seconds, ready, queue,
                                                      k * stagger_s / n))
             for k in range(n)]
    for p in procs:
        p.start()
    ready.wait(timeout=120 + 2 * n)
    results = [queue.get(timeout=seconds + stagger_s + 120 + n) for _ in procs]
    for p in procs:
        p.join()
    # keeping up: (almost) every frame at the detect rate analysed, and never more than a second behind
    ok = all(r["frames"] >= 0.95 * r["expected"] and r["max_lag_s"] < 1.0 for r in results)
    return ok, results


def realtime_streams(config: str, camera: str, clip: str, seconds: float, max_streams: int,
                     log: Any = print) -> tuple[int, list[dict[str, Any]]]:
    """Most copies of this camera that keep up at its real frame rate, found by running them at once."""
    trials: list[dict[str, Any]] = []
    best, n = 0, min(12, max_streams)
    lo_fail: int | None = None
    while 1 <= n <= max_streams:
        ok, res = _run_streams(config, camera, clip, n, seconds)
        worst = min(r["frames"] / r["expected"] for r in res)
        trials.append({"streams": n, "kept_up": ok, "worst_frame_ratio": round(worst, 3),
                       "max_lag_s": round(max(r["max_lag_s"] for r in res), 2)})
        log(f"  {n} streams: {'kept up' if ok else 'fell behind'} (worst {worst:.0%} of frames)")
        if ok:
            best = max(best, n)
            nxt = n + 4 if lo_fail is None else (n + lo_fail) // 2
            if lo_fail is not None and nxt <= n:
                break
            n = nxt
        else:
            lo_fail = n
            if best and n - best <= 1:
                break
            n = (best + n) // 2 if best else n // 2
            if n <= best:
                break
    return best, trials


def _eval_job(case: str, naive: bool, perturb: str | None = None) -> Any:
    """One case in a worker process (one detector thread, no spinning: two workers share two cores); as
    another camera would see it with `perturb` (`eval --perturb`)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)
    from vision.config import load_config
    from vision.detectors import create_detector
    from vision.eval import run_case
    from vision.perturb import parse

    cam = next(iter(load_config(Path(case) / "camera.yaml").cameras.values()))
    det = create_detector({**(cam.detector_section() or {}), "threads": 1, "spin": False}, base_dir=case)
    return run_case(Path(case), det, naive, perturb=parse(perturb) if perturb else None)[0]


def eval_parallel(root: str, workers: int = 2, split: str | None = "dev",
                  perturb: str | None = None) -> dict[bool, tuple[list[Any], Any]]:
    """Pipeline and naive event F1 on the cases of `split` (None: every case; held-out cases are for
    measuring once, not for every bench run), the 2 x cases runs spread over `workers` processes (longest
    first). Returns {naive: (per-case results in case order, overall)}."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from vision.eval import find_cases, load_truth, overall

    cases = find_cases(root, split=split)
    jobs = [(str(c), naive) for naive in (True, False) for c in cases]
    jobs.sort(key=lambda j: -float(load_truth(Path(j[0])).get("duration_s", 0)) * (2.5 if j[1] else 1.0))
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {job: pool.submit(_eval_job, *job, perturb) for job in jobs}
        done = {job: f.result() for job, f in futures.items()}
    out: dict[bool, tuple[list[Any], Any]] = {}
    for naive in (False, True):
        results = [done[(str(c), naive)] for c in cases]
        out[naive] = (results, overall(results))
    return out


def interleaved_fps(config: str, clip: str, camera: str, detector: Any,
                    chunk_s: float = 5.0) -> dict[str, Any]:
    """Pipeline and naive loop on the same clip, alternating every `chunk_s` of clip time, each timed with
    its own decoding (both read the clip the same way, decoding ahead in a thread): both see the same load
    when the machine is shared, so their ratio is fair."""
    from vision.config import load_config
    from vision.pipeline import CameraPipeline
    from vision.sources import open_source

    cam = load_config(config).cameras[camera]
    _warm(detector, clip)
    runs: dict[str, Any] = {}
    for name, naive in (("pipeline", False), ("naive", True)):
        src = open_source(clip, None if naive else cam.analysis_fps())
        pipe = CameraPipeline(camera, cam, detector, naive=naive, config_path=config)
        src.work_ahead(pipe.ahead)  # as `sharpeyes analyze` runs (naive: no motion work, only decoding)
        runs[name] = {"pipe": pipe, "src": src, "it": iter(src), "next": None, "seconds": 0.0, "frames": 0,
                      "done": False, "events": 0}
    until = chunk_s
    while not all(r["done"] for r in runs.values()):
        for r in runs.values():
            t0 = time.perf_counter()
            while not r["done"]:
                frame = r["next"]
                if frame is None:
                    frame = next(r["it"], None)
                    if frame is None:
                        r["done"] = True
                        r["events"] += sum(1 for m in r["pipe"].finish() if m.lifecycle == "end")
                        break
                if frame.t >= until:
                    r["next"] = frame
                    break
                r["next"] = None
                r["events"] += sum(1 for m in r["pipe"].process(frame) if m.lifecycle == "end")
                r["frames"] = frame.index + 1
            # a clip decoding ahead in its own thread: the frames it decodes now are paid for in this run's
            # time (wait until it rests), not decoded for free while the other run is timed
            while not r["src"].idle():
                time.sleep(0.0005)
            r["seconds"] += time.perf_counter() - t0
        until += chunk_s
    for r in runs.values():
        r["src"].close()
    return {
        name: {
            "fps": r["frames"] / r["seconds"],
            "seconds": round(r["seconds"], 2),
            "source_frames": r["frames"],
            "events": r["events"],
            "detector_runs": r["pipe"].stats.as_dict(),
        }
        for name, r in runs.items()
    }


def _warm(detector: Any, clip: str) -> None:
    """ONNX Runtime's first runs of a session (memory planning: PicoDet-S 35 and 31 ms of CPU against 22-24
    after, one thread) are the process's start-up, not the camera's, as in `_stream_worker`; untimed, the
    pipeline, which runs first, paid them alone (whole frames, and the one-thread session of small inputs)."""
    import cv2

    cap = cv2.VideoCapture(clip)
    ok, first = cap.read()
    cap.release()
    if not ok:
        return
    h, w = first.shape[:2]
    # and the detector the pipeline runs beside its read-ahead thread (OnnxDetector.beside: one thread)
    solo = getattr(detector, "beside", lambda: detector)()
    for det in (detector, solo) if solo is not detector else (detector,):
        for _ in range(2):
            det.detect_batch([first])
            det.detect_batch([first[: max(1, h // 3), : max(1, w // 3)].copy()], own_size=True)


def render_perturbed(clip: str, spec: str, out_dir: Path) -> tuple[Path, Any]:
    """The clip as another camera would deliver it (`eval --perturb SPEC`: light, every N-th frame, scale,
    JPEG, noise, infrared night), encoded as a camera encodes its stream (H.264, libx264 at CRF 18, 4:2:0, so
    its sides are cut to even numbers) at the rate its frames come at. `bench vision` then measures it as any
    clip, its decoding included: a noisy night picture costs the decoder what a real camera's stream of it
    does, and the perturbation's own work (the noise drawn for each frame) is not counted as the camera's.
    Returns the file and the perturbation (its times resolved)."""
    import imageio_ffmpeg
    import numpy as np

    from vision.errors import SourceError
    from vision.perturb import clip_duration, parse
    from vision.sources import open_source

    perturb = parse(spec)
    perturb = perturb.resolved(clip_duration(clip) if perturb.needs_duration else None)
    out = out_dir / f"{Path(clip).stem}_perturbed.mp4"
    src = open_source(clip, None, perturb=perturb)
    fps = float(getattr(src, "native_fps", 0.0) or 25.0)   # a file's: the rate its frames come at
    writer: Any = None
    with src:
        for frame in src:
            h, w = frame.image.shape[:2]
            image = np.ascontiguousarray(frame.image[: h - h % 2, : w - w % 2])
            if writer is None:
                writer = imageio_ffmpeg.write_frames(
                    str(out), (image.shape[1], image.shape[0]), fps=fps, codec="libx264",
                    pix_fmt_in="bgr24", quality=None, macro_block_size=1, output_params=["-crf", "18"])
                writer.send(None)   # starts the encoder
            writer.send(image)
    if writer is None:
        raise SourceError(f"{clip}: no frame decoded to perturb; check the file plays")
    writer.close()
    return out, perturb


def cmd_bench_vision(args: argparse.Namespace) -> int:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sharpeyes-bench-") as tmp:
        return _bench_vision(args, Path(tmp))


def _bench_vision(args: argparse.Namespace, tmp: Path) -> int:
    from vision.config import load_config, resolve_source
    from vision.detectors import create_detector
    from vision.sources import decode_stats

    config = load_config(args.config)
    camera = args.camera or next(iter(config.cameras))
    cam = config.cameras[camera]
    clip = args.clip or resolve_source(args.config, cam.analysed_source())
    perturbed: dict[str, Any] | None = None
    spec = args.perturb
    if spec:
        source = clip
        path, perturb = render_perturbed(str(clip), spec, tmp)
        clip = str(path)
        perturbed = {**perturb.as_dict(), "source_clip": str(source),
                     "measured_on": "the perturbed clip encoded to H.264 (libx264, CRF 18, yuv420p) at the "
                                    "rate its frames come at, in a temporary file removed after the run"}
        print(f"bench vision: {source} as another camera would deliver it ({spec}), encoded to {clip}")
    detector = create_detector(cam.detector_section(), base_dir=Path(args.config).resolve().parent)
    print(f"bench vision: {clip} at detect fps {cam.detect.fps} on {os.cpu_count()} cores")
    load: dict[str, list[float]] = {"start": [round(v, 2) for v in os.getloadavg()]}
    dec = decode_stats(clip, cam.detect.fps)
    native = _native_fps(clip)
    decode_fps = dec.clip_seconds * native / dec.seconds
    print(f"  decode only: {decode_fps:.0f} source frames/s")
    both = interleaved_fps(args.config, clip, camera, detector)
    pipeline_fps, naive_fps = both["pipeline"]["fps"], both["naive"]["fps"]
    load["after_fps"] = [round(v, 2) for v in os.getloadavg()]
    print(f"  pipeline: {pipeline_fps:.0f} source frames/s ({both['pipeline']['detector_runs']})")
    print(
        f"  naive: {naive_fps:.0f} source frames/s; ratio {pipeline_fps / naive_fps:.1f} (load "
        f"{load['after_fps']})"
    )
    report: dict[str, Any] = {
        "clip": str(clip), "camera": camera, "detect_fps": cam.detect.fps, "native_fps": native,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor()},
        "fps_unit": "source frames (at the clip's own rate) analysed per wall-clock second",
        "fps_method": "pipeline and naive alternate every 5 s of clip time, each timed with its own decoding",
        "decode_fps": round(decode_fps, 1), "pipeline_fps": round(pipeline_fps,
                                                                  1), "naive_fps": round(naive_fps, 1),
        "pipeline_over_naive": round(pipeline_fps / naive_fps, 2),
        "pipeline_detector_runs": both["pipeline"]["detector_runs"],
        "naive_detector_runs": both["naive"]["detector_runs"],
        "load_avg": load,
    }
    if perturbed is not None:
        report["clip"], report["perturb"] = perturbed["source_clip"], perturbed
    if args.cases:
        t0 = time.perf_counter()
        split = None if args.split == "all" else args.split
        ev = eval_parallel(args.cases, workers=max(1, min(2, os.cpu_count() or 1)), split=split,
                           perturb=spec or None)
        report["eval_split"] = args.split
        (results, total), (n_results, n_total) = ev[False], ev[True]
        load["after_eval"] = [round(v, 2) for v in os.getloadavg()]
        report["event_f1_pipeline"] = round(total.f1, 3)
        report["event_f1_naive"] = round(n_total.f1, 3)
        report["eval_pipeline"] = {"cases": [r.as_dict() for r in results], "overall": total.as_dict()}
        report["eval_naive"] = {"cases": [r.as_dict() for r in n_results], "overall": n_total.as_dict()}
        report["eval_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"  event F1: pipeline {total.f1:.3f}, naive {n_total.f1:.3f} ({report['eval_seconds']:.0f} s)")
    print("  realtime streams (running N cameras at once at real frame rate):")
    streams, trials = realtime_streams(args.config, camera, clip, args.stream_seconds, args.max_streams)
    report["realtime_streams"] = streams
    report["realtime_trials"] = trials
    load["end"] = [round(v, 2) for v in os.getloadavg()]
    Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"  realtime_streams: {streams}; figures -> {args.json}")
    return 0


def _native_fps(clip: str) -> float:
    import cv2

    cap = cv2.VideoCapture(clip)
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    cap.release()
    return fps if 0.5 < fps < 1000 else 25.0
