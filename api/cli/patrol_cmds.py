"""Patrol commands: `sharpeyes bench dispatch`, `sharpeyes site check`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    b = bench_sub.add_parser("dispatch", help="rank / joint assignment / route planning timings (patrol)")
    b.add_argument("--json", dest="json_out", type=Path, required=True, help="write the figures here")
    b.add_argument("--places", type=int, default=500, help="places on the synthetic site")
    b.add_argument("--teams", type=int, default=300, help="patrol teams")
    b.add_argument("--incidents", type=int, default=1000, help="waiting incidents for the joint assignment")
    b.add_argument("--route-teams", type=int, default=10, help="teams in the route planning run")
    b.add_argument("--checkpoints", type=int, default=40, help="checkpoints in the route planning run")
    b.add_argument("--route-time-limit", type=float, default=2.0, help="OR-Tools search time limit, seconds")
    b.set_defaults(func=_bench)

    s = sub.add_parser("site", help="check a site file (and a teams file) and print a summary")
    s.add_argument("action", choices=["check"], help="check")
    s.add_argument("site", type=Path, help="site YAML")
    s.add_argument("--teams", type=Path, help="teams YAML to check against the site")
    s.set_defaults(func=_site_check)


def _bench(args: argparse.Namespace) -> int:
    from patrol import bench

    figures = bench.run(args.places, args.teams, args.incidents, args.route_teams, args.checkpoints,
                        args.route_time_limit)
    figures["command"] = (
        f"sharpeyes bench dispatch --json {args.json_out} --places {args.places} --teams {args.teams} "
        f"--incidents {args.incidents} --route-teams {args.route_teams} "
        f"--checkpoints {args.checkpoints} --route-time-limit {args.route_time_limit}"
    )
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: figures[k] for k in ("rank_one_incident", "joint_assignment", "routes")}, indent=2))
    return 0


def _site_check(args: argparse.Namespace) -> int:
    from patrol import Dispatcher, PatrolError, default_policy, load_site, load_teams

    site = load_site(args.site)
    kinds: dict[str, int] = {}
    for p in site.config.places.values():
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    print(
        f"{args.site}: {len(site.ids)} places ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}), "
        f"{site.graph.number_of_edges()} directed links, {len(site.config.grids)} grid cells; all reachable"
    )
    if args.teams:
        cfg = load_teams(args.teams)
        for tid, team in cfg.teams.items():
            if team.home_grid and team.home_grid not in site.config.grids:
                raise PatrolError(
                    f"{args.teams}: teams.{tid}.home_grid '{team.home_grid}' is not a grid of {args.site}"
                )
        Dispatcher(site, cfg.teams, default_policy())
        print(f"{args.teams}: {len(cfg.teams)} teams, {len(cfg.people)} people; OK")
    return 0
