"""How often motion gating skips or crops the detector on a clip (`python -m vision.motion_stats CLIP...`)."""

from __future__ import annotations

import time

from vision.motion import MotionConfig, MotionGate
from vision.sources import open_source


def gate_stats(path: str, fps: float = 5.0, config: MotionConfig | None = None,
               input_size: tuple[int, int] = (416, 416)) -> dict[str, float]:
    """Plan every frame of a clip at `fps` (no detector): fraction of frames per mode and ms per plan."""
    gate: MotionGate | None = None
    spent = 0.0
    for frame in open_source(path, fps):
        if gate is None:
            h, w = frame.image.shape[:2]
            gate = MotionGate(config or MotionConfig(), (w, h), input_size)
        t0 = time.perf_counter()
        gate.plan(frame.image, frame.t)
        spent += time.perf_counter() - t0
    n = sum(gate.counts.values()) if gate else 0
    out = {f"{mode}_fraction": (c / n if n else 0.0) for mode, c in (gate.counts.items() if gate else [])}
    return {"frames": float(n), **out, "plan_ms": 1000 * spent / max(n, 1)}


if __name__ == "__main__":  # python -m vision.motion_stats CLIP... [--fps 5] [--keepalive 3]
    import argparse

    ap = argparse.ArgumentParser(description="How often motion gating skips or crops the detector on clips")
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--keepalive", type=float, default=3.0,
                    help="keepalive_s (the camera config default is 3)")
    args = ap.parse_args()
    for clip in args.clips:
        s = gate_stats(clip, args.fps, MotionConfig.model_validate({"keepalive_s": args.keepalive}))
        print(f"{clip}: {int(s['frames'])} frames at {args.fps:g} fps: skip {s.get('skip_fraction', 0):.0%}, "
              f"regions {s.get('regions_fraction', 0):.0%}, full {s.get('full_fraction', 0):.0%}; "
              f"{s['plan_ms']:.1f} ms per frame (background model + plan)")
