"""The `sharpeyes` command. Each group of subcommands lives in its own module with `register(sub)`.

User errors (bad config, missing model, unreadable clip) print one line and exit 2, with no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# Modules that add subcommands; each has register(subparsers) and sets `func` on its parsers.
COMMAND_MODULES = (
    "api.cli.vision_cmds",   # analyze, eval, bench vision
    "api.cli.detector_cmds",  # detect, bench detector
    "api.cli.patrol_cmds",   # bench dispatch
    "api.cli.server_cmds",   # serve, worker, user, bench api
    "api.cli.demo_cmds",     # demo
)


def user_error_types() -> tuple[type[BaseException], ...]:
    from api.errors import ApiError
    from coordination.leases import LeaseStoreError
    from patrol.errors import PatrolError
    from vision.errors import VisionError
    from worker.errors import WorkerError

    return (VisionError, PatrolError, ApiError, WorkerError, LeaseStoreError, FileNotFoundError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sharpeyes",
                                     description="SharpEyes (雪亮): cameras, incidents, patrols")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench = sub.add_parser("bench",
                           help="measured figures: bench vision|detector|api|dispatch --json OUT.json")
    bench_sub = bench.add_subparsers(dest="bench_target", metavar="TARGET")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, bench_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:   # one line per HTTP request or migration plugin drowns what matters
        for noisy in ("httpx", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # FFmpeg's own lines ("partial file", "no frame!", "Connection refused") and OpenCV's ("can't be used
        # to capture by name") at each failed open: vision.sources says once, in words, what is wrong with a
        # file or a stream. FFmpeg's level is read when the first capture opens, so it must be set here.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except user_error_types() as exc:
        print(f"sharpeyes: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
