"""`sharpeyes serve`, `worker`, `user add|key`, `bench api`."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path

from api.errors import ApiError


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="run the api and the dashboard")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--db", default=None, help="database URL (default sqlite:///data/sharpeyes.db; or postgresql+psycopg://...)")
    p.add_argument("--dev", action="store_true", help="development mode: allows the built-in secret key")
    p.add_argument("--media", type=Path, default=None, help="media folder (default data/media)")
    p.add_argument("--site", type=Path, default=None,
                   help="patrol site YAML (places, links, grids) for dispatch")
    p.add_argument("--patrol-policy", type=Path, default=None, metavar="FILE",
                   help="patrol policy YAML: categories, deadlines, working-day calendar with local days "
                        "(the shape of the packaged patrol/policy.yaml; default: that file)")
    p.add_argument("--header-timeout", type=float, default=None, metavar="S",
                   help="a client must send its request headers within S seconds (default 10)")
    p.add_argument("--body-timeout", type=float, default=None, metavar="S",
                   help="a request body that stalls S seconds is answered 408 (default 30)")
    p.add_argument("--trusted-proxies", default=None, metavar="ADDRS",
                   help="comma-separated reverse proxy addresses whose X-Forwarded-For is believed "
                        "(default: none; SHARPEYES_TRUSTED_PROXIES)")
    p.add_argument("--max-body", type=int, default=None, metavar="BYTES",
                   help="largest request body other than an upload (default 4 MiB; uploads: "
                        "SHARPEYES_MAX_PHOTO_BYTES, SHARPEYES_MAX_CLIP_BYTES)")
    p.add_argument("--viid", type=Path, default=None, metavar="FILE",
                   help="GA/T 1400 视图库 config: receive structured records at /VIID (docs/gat1400.md)")
    p.set_defaults(func=_serve)

    w = sub.add_parser("worker", help="run the cameras of a config and send their events to the api")
    w.add_argument("--config", type=Path, default=None, help="camera config YAML (or --from-api)")
    w.add_argument("--from-api", action="store_true",
                   help="run the cameras configured in the api (the cameras page) and apply their changes "
                        "live, restarting only the changed camera")
    w.add_argument("--api", required=True, help="api base URL, e.g. http://127.0.0.1:8000")
    w.add_argument("--key", default=os.environ.get("SHARPEYES_WORKER_KEY"),
                   help="worker API key (or SHARPEYES_WORKER_KEY)")
    w.add_argument("--outbox", type=Path, default=Path("data/outbox.db"),
                   help="durable outbox file (default data/outbox.db)")
    w.add_argument("--camera", action="append", default=None, help="run only this camera (repeatable)")
    w.add_argument("--loop", action="store_true", help="loop file sources, paced in real time (demo)")
    w.add_argument("--realtime", action="store_true", help="pace file sources at their own frame rate")
    w.add_argument("--journal", type=Path, default=None,
                   help="also append every event step produced to this JSON Lines file (checks, debugging)")
    w.add_argument(
        "--pool",
        default=None,
        metavar="NAME",
        help="join camera pool NAME: run only the cameras of the config this worker holds a lease on "
        "(docs/deploy.md); the key must belong to this pool",
    )
    w.add_argument("--lease-url", default=os.environ.get("SHARPEYES_LEASE_URL") or "redis://127.0.0.1:6379/0",
                   help="where the pool's leases live: redis://... or postgresql+psycopg://... "
                        "(or SHARPEYES_LEASE_URL; default redis://127.0.0.1:6379/0)")
    w.add_argument(
        "--stream",
        default=os.environ.get("SHARPEYES_WORKER_STREAM") or None,
        metavar="REDIS_URL",
        help="send events through the signed Redis stream at this URL instead of HTTP "
        "(or SHARPEYES_WORKER_STREAM) "
        "(the api replicas need SHARPEYES_STREAM_INGEST=true); media and live state still use --api",
    )
    w.add_argument("--shards", type=int, default=int(os.environ.get("SHARPEYES_STREAM_SHARDS", "8")),
                   help="shards of the event stream, as the api's SHARPEYES_STREAM_SHARDS (default 8)")
    w.add_argument("--upper", default=os.environ.get("SHARPEYES_UPPER_URL"), metavar="URL",
                   help="also push findings to this upper GA/T 1400 视图库, as a lower platform "
                        "(docs/gat1400.md)")
    w.add_argument("--upper-id", default=os.environ.get("SHARPEYES_UPPER_ID"), metavar="DEVICE_ID",
                   help="this platform's 20-digit device id at the upper 视图库")
    w.add_argument("--upper-password", default=os.environ.get("SHARPEYES_UPPER_PASSWORD"),
                   help="its digest password (or SHARPEYES_UPPER_PASSWORD)")
    w.add_argument("--upper-keepalive", type=float, default=30.0, metavar="S", help="keepalive interval")
    w.set_defaults(func=_worker)

    u = sub.add_parser("user", help="manage users and worker keys")
    usub = u.add_subparsers(dest="user_command", metavar="ACTION")
    a = usub.add_parser("add", help="create a user: user add NAME --role operator|admin|leader [--team KEY]")
    a.add_argument("name")
    a.add_argument("--role", required=True, choices=["admin", "operator", "leader", "engineer"])
    a.add_argument("--team", default=None, help="team key (required for leaders)")
    a.add_argument("--password", default=os.environ.get("SHARPEYES_PASSWORD"),
                   help="password (or SHARPEYES_PASSWORD; asked for when neither is given)")
    a.add_argument("--db", default=None, help="database URL (default as serve)")
    a.set_defaults(func=_user_add)
    k = usub.add_parser("key", help="create a worker API key: user key NAME [--pool P]; prints the key once")
    k.add_argument("name")
    k.add_argument("--pool", default=None)
    k.add_argument("--db", default=None, help="database URL (default as serve)")
    k.set_defaults(func=_user_key)
    for action, what in (("passwd", "set a user's password"), ("disable", "deactivate a user"),
                         ("enable", "reactivate a user")):
        c = usub.add_parser(action, help=f"{what}: user {action} NAME; every token of the user stops working")
        c.add_argument("name")
        if action == "passwd":
            c.add_argument("--password", default=os.environ.get("SHARPEYES_PASSWORD"),
                           help="new password (or SHARPEYES_PASSWORD; asked for when neither is given)")
        c.add_argument("--db", default=None, help="database URL (default as serve)")
        c.set_defaults(func=_user_change, user_action=action)

    b = bench_sub.add_parser("api", help="ingest events/s and ingest-to-websocket latency")
    b.add_argument("--json", type=Path, required=True, help="write the figures here")
    b.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    b.add_argument("--clients", type=int, default=200, help="websocket clients (default 200)")
    b.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput phase")
    b.set_defaults(func=_bench)


def _settings(db: str | None, dev: bool = True, **extra: object):  # type: ignore[no-untyped-def]
    from api.settings import Settings

    kw: dict[str, object] = {k: v for k, v in extra.items() if v is not None}
    if db:
        kw["db_url"] = db
    if dev:
        kw["dev"] = True   # otherwise SHARPEYES_DEV / SHARPEYES_SECRET_KEY from the environment decide
    return Settings(**kw)  # type: ignore[arg-type]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.http_server import server_config

    settings = _settings(args.db, bool(args.dev), media_dir=args.media, site_path=args.site,
                         patrol_policy_path=args.patrol_policy, header_timeout_s=args.header_timeout,
                         body_timeout_s=args.body_timeout, max_body_bytes=args.max_body,
                         viid_config=args.viid, trusted_proxies=args.trusted_proxies)
    app = create_app(settings)
    print(
        f"SharpEyes api on http://{args.host}:{args.port}  (docs: /docs, database: "
        f"{settings.db_url.split('@')[-1]})",
        flush=True,
    )
    uvicorn.Server(server_config(app, args.host, args.port, settings.header_timeout_s,
                                 settings.trusted_proxies, log_level="warning", ws_ping_interval=20,
                                 ws_ping_timeout=20)).run()
    return 0


def _worker(args: argparse.Namespace) -> int:
    from worker.run import run_worker

    if not args.key:
        raise ApiError("no worker key: give --key KEY (create one with `sharpeyes user key NAME`)")
    if (args.config is None) == (not args.from_api):
        raise ApiError("give either --config CFG.yaml or --from-api (the cameras configured in the api)")
    return run_worker(args.config, args.api, args.key, outbox=args.outbox, cameras=args.camera,
                      loop=args.loop,
                      realtime=True if args.realtime else None, journal=args.journal, pool=args.pool,
                      lease_url=args.lease_url, stream_url=args.stream, shards=args.shards,
                      upper=_upper(args), from_api=args.from_api)


def _upper(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    if not args.upper:
        return None
    from worker.viid_upper import UpperConfig

    if not (args.upper_id and args.upper_password):
        raise ApiError("--upper needs --upper-id (20 digits) and --upper-password (or SHARPEYES_UPPER_ID, "
                       "SHARPEYES_UPPER_PASSWORD): the id and password the upper 视图库 registered for us")
    try:
        return UpperConfig(args.upper, args.upper_id, args.upper_password, args.upper_keepalive)
    except ValueError as exc:
        raise ApiError(str(exc)) from exc


def _sessions(db: str | None):  # type: ignore[no-untyped-def]
    from api.db.engine import make_engine, migrate, session_factory

    settings = _settings(db, dev=True)
    engine = make_engine(settings.db_url)
    migrate(engine)
    return session_factory(engine)


def _user_add(args: argparse.Namespace) -> int:
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from api.db.models import Team, User
    from api.services.accounts import hash_password

    password = args.password or getpass.getpass(f"password for {args.name}: ")
    if len(password) < 8:
        raise ApiError("password too short: use at least 8 characters")
    if args.role == "leader" and not args.team:
        raise ApiError("a leader needs a team: add --team TEAM_KEY")
    with _sessions(args.db)() as s:
        team_id = None
        if args.team:
            team_id = s.scalars(select(Team.id).where(Team.key == args.team)).first()
            if team_id is None:
                raise ApiError(f"no team {args.team!r}: create it first (POST /api/teams, or the demo)")
        s.add(User(name=args.name, password_hash=hash_password(password), role=args.role, team_id=team_id))
        try:
            s.commit()
        except IntegrityError as exc:
            raise ApiError(f"user {args.name!r} exists already") from exc
    print(f"user {args.name} ({args.role}) created")
    return 0


def _user_change(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from api.db.models import User
    from api.services.accounts import hash_password

    with _sessions(args.db)() as s:
        user = s.scalars(select(User).where(User.name == args.name)).first()
        if user is None:
            raise ApiError(f"no user {args.name!r}: see `sharpeyes user add`")
        if args.user_action == "passwd":
            password = args.password or getpass.getpass(f"new password for {args.name}: ")
            if len(password) < 8:
                raise ApiError("password too short: use at least 8 characters")
            user.password_hash = hash_password(password)
        else:
            user.active = args.user_action == "enable"
        user.token_version = (user.token_version or 0) + 1   # its tokens stop working
        s.commit()
    print(f"user {args.name}: {args.user_action} done; its tokens no longer work")
    return 0


def _user_key(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import IntegrityError

    from api.db.models import WorkerKey
    from api.services.accounts import key_hash, new_worker_key

    key = new_worker_key()
    with _sessions(args.db)() as s:
        s.add(WorkerKey(name=args.name, key_hash=key_hash(key), pool=args.pool))
        try:
            s.commit()
        except IntegrityError as exc:
            raise ApiError(f"worker {args.name!r} has a key already") from exc
    print(key)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from api.bench.ingest import run_bench

    return run_bench(args.json, db=args.db, clients=args.clients, seconds=args.seconds)
