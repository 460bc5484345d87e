"""`sharpeyes demo`: the whole system on one machine, the README's first command."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo",
                       help="run everything (api, dashboard, a worker on the sample clips, demo community)")
    p.add_argument("--port", type=int, default=8000, help="port of the api and the pages (default 8000)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--data", type=Path, default=None,
                   help="data folder: database, media, worker outbox (default data/demo)")
    p.add_argument(
        "--simulate-teams",
        action="store_true",
        help="simulated leaders accept, walk, arrive and resolve (labelled as simulation on the pages)",
    )
    p.add_argument("--cameras", type=int, default=None,
                   help="run the first N demo cameras (default 4, at most 6: api/demo/cameras.yaml; "
                        "6 adds an elevator camera with the 梯控 action)")
    p.add_argument("--no-worker", action="store_true", help="do not start the camera worker")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from api.demo.run import run_demo

    return run_demo(port=args.port, host=args.host, data=args.data, simulate_teams=args.simulate_teams,
                    cameras=args.cameras, worker=not args.no_worker)
