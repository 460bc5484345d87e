"""Vision commands: `analyze`, `eval`, `bench vision` (contract: ARCHITECTURE.md, "CLI")."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vision.perturb import Perturb


def register(sub: Any, bench_sub: Any) -> None:
    p = sub.add_parser("analyze", help="run one camera's zone rules on a recorded clip; events as JSON Lines")
    p.add_argument("clip", help="video file (replaces the camera's source)")
    p.add_argument("--config", required=True, help="camera config YAML")
    p.add_argument("--events", required=True, help="output events file (JSON Lines); snapshots go beside it")
    p.add_argument("--annotated", help="also write an annotated H.264 MP4 (zones, boxes, track ids, events)")
    p.add_argument("--camera", help="camera name, when the config has several")
    p.add_argument("--perturb", metavar="SPEC",
                   help="the clip as another camera would deliver it, as `eval --perturb` (light, every, "
                   "scale, jpeg, noise, mono; a time in %% is of the clip's duration by its header); the "
                   "annotated video shows the changed frames")
    p.set_defaults(func=cmd_analyze)

    e = sub.add_parser("eval", help="event precision / recall / F1 of the rules on labelled cases")
    e.add_argument("cases", help="folder of cases (each: camera.yaml + truth.json), or one case")
    e.add_argument("--naive", action="store_true", help="detector on every frame, full frame (the baseline)")
    e.add_argument("--json", help="write the report as JSON here")
    e.add_argument("--split", choices=["dev", "heldout"],
                   help="only the cases of this split (truth.json 'split')")
    e.add_argument("--kind", choices=["real", "composed"],
                   help="only the cases of this kind (truth.json 'kind')")
    e.add_argument("--model", help="run every case with this detector model file instead of its config's "
                   "(e.g. models/yolox_nano_416.onnx); the rest of its detector section stays")
    e.add_argument("--confirm", help="a second model confirms each new object before its event fires, in "
                   "every case (as detector.confirm.model would; vision/confirm.py)")
    e.add_argument("--phases", type=int, metavar="K",
                   help="run each case K times, the k-th with the clip's first k frames left out (times "
                   "kept), so it is sampled at K phases; reports sums over the phases and each case's worst "
                   "phase (vision/eval_phases.py)")
    e.add_argument("--perturb", metavar="SPEC",
                   help="run the cases as another camera would see the same scene, the truth unchanged: "
                   "light=G[@AT|@FROM..TO] (a light switched on or off, or a ramp; times in s or %% of the "
                   "case), every=N (every N-th frame), scale=S, jpeg=Q, noise=S, mono (infrared night), "
                   "comma-separated "
                   "(vision/perturb.py)")
    e.add_argument("--show-heldout", action="store_true",
                   help="also list which events of the held-out cases were missed or false (they are "
                   "measured, never tuned on, so the table gives only their counts; --json always has them)")
    e.set_defaults(func=cmd_eval)

    b = bench_sub.add_parser("vision", help="decode / pipeline / naive fps, realtime streams, event F1")
    b.add_argument("--config", required=True, help="camera config of the clip (its detect fps is used)")
    b.add_argument("--json", required=True, help="write the figures here")
    b.add_argument("--clip", help="clip to measure (default: the camera's source)")
    b.add_argument("--camera", help="camera name, when the config has several")
    b.add_argument("--cases", default="sample_videos/cases", help="cases for event F1 ('' to skip)")
    b.add_argument("--split", choices=["dev", "heldout", "all"], default="dev",
                   help="which cases' event F1 (default dev: the held-out ones are measured on purpose, "
                   "with `sharpeyes eval --split heldout`)")
    b.add_argument("--stream-seconds", type=float, default=20.0,
                   help="how long each realtime-streams trial runs")
    b.add_argument("--max-streams", type=int, default=32, help="most cameras tried at once")
    b.add_argument("--perturb", metavar="SPEC",
                   help="measure the clip as another camera would deliver it, as `eval --perturb` (light, "
                   "every, scale, jpeg, noise, mono; comma-separated), encoded to H.264 first; the event F1 "
                   "cases too")
    b.set_defaults(func=cmd_bench_vision)


def _print_events(records: list[dict[str, Any]]) -> None:
    for r in records:
        print(
            f"{r['first_seen_s']:7.1f}s-{r['end_s']:7.1f}s  {r['zone']:<14} {r['event']:<20} "
            f"{r['label']:<10} "
            f"track={r['track_id']} score={r['max_score']:.2f}"
        )


def cmd_analyze(args: argparse.Namespace) -> int:
    from vision.analyze import analyze_clip
    from vision.perturb import clip_duration, parse

    perturb = None
    if args.perturb:
        perturb = parse(args.perturb)
        perturb = perturb.resolved(clip_duration(args.clip) if perturb.needs_duration else None)
    res = analyze_clip(args.config, args.clip, camera=args.camera, events_path=args.events,
                       annotated=args.annotated, progress=True, perturb=perturb)
    _print_events(res.records)
    speed = res.source_frames / res.seconds if res.seconds else 0.0
    print(
        f"{len(res.records)} events -> {args.events}; {res.clip_seconds:.1f} s of video in "
        f"{res.seconds:.1f} s "
        f"({speed:.0f} frames/s); detector: {res.stats.full} full, {res.stats.regions} motion-region, "
        f"{res.stats.skipped} skipped of {res.stats.frames} frames"
        + (f"; annotated -> {args.annotated}" if args.annotated else "")
    )
    return 0


def _report(results: list[Any], total: Any) -> dict[str, Any]:
    return {"cases": [r.as_dict() for r in results], "overall": total.as_dict()}


def cmd_eval(args: argparse.Namespace) -> int:
    from vision.errors import ConfigError
    from vision.eval import evaluate, report_lines
    from vision.perturb import parse as parse_perturb

    for flag, value in (("--model", args.model), ("--confirm", args.confirm)):
        if value and not Path(value).is_file():
            raise ConfigError(f"{flag} {value}: no such model file (the shipped ones are in models/)")
    perturb = parse_perturb(args.perturb) if args.perturb else None
    if perturb is not None:
        print(f"perturbed: {perturb.spec} (every case's frames changed, its truth not)")
    if args.phases is not None:
        return _eval_phases(args, perturb)
    results, totals = evaluate(args.cases, naive=args.naive, progress=True, split=args.split, kind=args.kind,
                               model=args.model, confirm=args.confirm, perturb=perturb)
    print("\n".join(report_lines(results, totals, show_heldout=args.show_heldout)))
    if args.json:
        report = {"cases": [r.as_dict() for r in results], "groups": [g.as_dict() for g in totals],
                  "overall": totals[-1].as_dict(), "perturb": perturb.as_dict() if perturb else None}
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


def _eval_phases(args: argparse.Namespace, perturb: Perturb | None) -> int:
    from vision import eval_phases

    results, totals = eval_phases.evaluate_phases(args.cases, args.phases, naive=args.naive, progress=True,
                                                  split=args.split, kind=args.kind, model=args.model,
                                                  confirm=args.confirm, perturb=perturb)
    print("\n".join(eval_phases.report_lines(results, totals, show_heldout=args.show_heldout)))
    if args.json:
        report = eval_phases.report_json(results, totals)
        report["perturb"] = perturb.as_dict() if perturb else None
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


def cmd_bench_vision(args: argparse.Namespace) -> int:
    from api.bench.vision import cmd_bench_vision

    return cmd_bench_vision(args)
