"""`sharpeyes demo`: everything on the embedded default (SQLite, in-process bus) in one command.

The demo community is patrol's demo site and teams; its cameras are the sample clips played in a loop as live
streams by a worker subprocess (`sharpeyes worker`), which posts events to the api like any other worker.
With `simulate_teams`, the leaders of the teams are played by a simulator that accepts, walks, arrives and
resolves through the same HTTP api as the phone page; the pages say that it is a simulation.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import DEMO_MARK, AuditEntry, Team, User, WorkerKey
from api.errors import ApiError
from api.services.accounts import hash_password, key_hash

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]   # the repository (api/demo/run.py)
SAMPLE_DIR = ROOT / "sample_videos"
CAMERAS_TEMPLATE = Path(__file__).resolve().parent / "cameras.yaml"
WORKER_NAME = "demo-worker"
# Demo accounts: printed on start. Only for the demo's own database, which runs in --dev mode.
ADMIN = ("admin", "admin-demo-1")
OPERATOR = ("operator", "operator-demo-1")
LEADER_PASSWORD = "leader-demo-1"


@dataclass
class Account:
    name: str
    password: str
    role: str
    team: str = ""


@dataclass
class DemoSeed:
    accounts: list[Account] = field(default_factory=list)
    worker_key: str = ""
    team_ids: dict[str, int] = field(default_factory=dict)


def demo_site_paths() -> tuple[Path, Path]:
    import patrol

    return Path(patrol.DEMO_SITE), Path(patrol.DEMO_TEAMS)


def leader_account(team_key: str) -> str:
    return f"leader_{team_key}"


def seed_demo(sessions: sessionmaker[Session], teams_path: Path | None = None,
              key_file: Path | None = None) -> DemoSeed:
    """Teams from the patrol teams file, an admin, an operator, one leader per team and a worker key.

    Idempotent: what exists is kept (a restarted demo keeps its incidents); the worker key is kept in
    `key_file` so a restart reuses it.
    """
    import patrol

    teams_path = teams_path or demo_site_paths()[1]
    cfg = patrol.load_teams(teams_path)
    seed = DemoSeed()
    with sessions() as s:
        if s.scalars(select(AuditEntry).where(AuditEntry.action == DEMO_MARK)).first() is None:
            s.add(AuditEntry(actor="sharpeyes demo", action=DEMO_MARK,
                             detail="demo accounts with published passwords and a demo worker key"))
        for key, team in cfg.teams.items():
            row = s.scalars(select(Team).where(Team.key == key)).first()
            if row is None:
                people = {pid: cfg.people[pid].model_dump() for pid in team.members if pid in cfg.people}
                row = Team(key=key, name=team.name, leader=team.leader, members=list(team.members),
                           people=people,
                           skills=list(team.skills), home_grid=team.home_grid, base=team.base,
                           roster=[r.model_dump() for r in team.roster],
                           exceptions=[e.model_dump(mode="json") for e in team.exceptions],
                           timezone=team.timezone, status="available", place=team.base)
                s.add(row)
                s.flush()
            seed.team_ids[key] = row.id
        wanted = [Account(ADMIN[0], ADMIN[1], "admin"), Account(OPERATOR[0], OPERATOR[1], "operator")]
        wanted += [Account(leader_account(k), LEADER_PASSWORD, "leader", k) for k in cfg.teams]
        for acc in wanted:
            if s.scalars(select(User).where(User.name == acc.name)).first() is None:
                s.add(User(name=acc.name, password_hash=hash_password(acc.password), role=acc.role,
                           team_id=seed.team_ids.get(acc.team)))
            seed.accounts.append(acc)
        key = key_file.read_text().strip() if key_file and key_file.is_file() else ""
        if not key or s.scalars(select(WorkerKey).where(WorkerKey.key_hash == key_hash(key))).first() is None:
            key = "swk_" + secrets.token_urlsafe(32)
            # the earlier demo key is lost: revoke it, so its cameras pass to the new key
            for old in s.scalars(select(WorkerKey).where(WorkerKey.name.startswith(f"{WORKER_NAME}-"),
                                                         WorkerKey.revoked.is_(False))):
                old.revoked, old.name = True, f"{old.name}#revoked{old.id}"
            s.add(WorkerKey(name=f"{WORKER_NAME}-{secrets.token_hex(3)}", key_hash=key_hash(key)))
            if key_file:
                key_file.write_text(key + "\n")
        seed.worker_key = key
        s.commit()
    return seed


DEFAULT_CAMERAS = 4   # light enough for a busy 2-core machine; --cameras 5 adds the south gate


def _camera_entry(name: str, cam: dict[str, Any], template: Path, clips: Path) -> dict[str, Any]:
    """A camera of the template; `from: CLIP.yaml` takes source and zones from that clip's camera config."""
    cam = dict(cam)
    ref = cam.pop("from", None)
    if ref is None:
        return cam
    path = clips / str(ref)
    if not path.is_file():
        raise ApiError(f"{template}: cameras.{name}.from: camera config {path} is missing; "
                       "see sample_videos/README.md for the composed clips and their configs")
    other: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    cams = other.get("cameras") or {}
    if len(cams) != 1:
        raise ApiError(f"{path}: cameras: expected exactly one camera to take for the demo's {name!r}, "
                       f"found {len(cams)}")
    base: dict[str, Any] = dict(next(iter(cams.values())))
    base.update(cam)
    return base


def write_camera_config(out: Path, template: Path = CAMERAS_TEMPLATE, clips: Path = SAMPLE_DIR,
                        cameras: int | None = None) -> Path:
    """The demo camera config with absolute clip paths; refuses a missing clip with what to do."""
    data: dict[str, Any] = yaml.safe_load(template.read_text(encoding="utf-8"))
    names = list(data["cameras"])[: cameras or DEFAULT_CAMERAS]
    data["cameras"] = {n: _camera_entry(n, data["cameras"][n], template, clips) for n in names}
    for name, cam in data["cameras"].items():
        clip = clips / cam["source"]
        if not clip.is_file():
            raise ApiError(f"{template}: cameras.{name}.source: sample clip {clip} is missing; "
                           "see sample_videos/README.md for where it comes from")
        cam["source"] = str(clip.resolve())
    out.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def env_app() -> Any:
    """The app from SHARPEYES_* settings, for `uvicorn --factory api.demo.run:env_app` (browser tests)."""
    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings())
    app.state.ctx.simulation = os.environ.get("SHARPEYES_DEMO_SIMULATION") == "1"
    return app


def wait_healthy(base_url: str, timeout_s: float = 60.0) -> None:
    import httpx

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            if httpx.get(f"{base_url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise ApiError(
        f"the api at {base_url} did not answer /api/health within {timeout_s:.0f} s; see the log above"
    )


def start_worker(config: Path | None, base_url: str, key: str, log_path: Path) -> subprocess.Popen[bytes]:
    """`sharpeyes worker` as a subprocess: the same process a real deployment runs per camera host; without
    a config, `--from-api`: the cameras configured in the api (the cameras page), changes applied live."""
    # --loop: the clips play in real time, over and over, like live streams (frames dropped when behind).
    source = ["--config", str(config)] if config is not None else ["--from-api"]
    cmd = [sys.executable, "-m", "api.cli.main", "worker", *source, "--api", base_url,
           "--key", key,
           "--loop", "--outbox", str(log_path.parent / "outbox.db")]
    logf = open(log_path, "ab")  # noqa: SIM115 - the worker's log lives as long as the worker
    return subprocess.Popen(cmd, cwd=str(ROOT), stdout=logf, stderr=subprocess.STDOUT,
                            env={**os.environ, "YOLO_OFFLINE": "1"},
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)


def _die_with_parent() -> None:
    """In the child: SIGTERM when the thread that started it ends (the demo killed by a signal, whose handler
    uvicorn re-raises after shutdown, never reaches its `finally`: the worker would be left running)."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def print_banner(base_url: str, seed: DemoSeed, simulate: bool, data: Path) -> None:
    lines = [
        "",
        "SharpEyes demo (雪亮) is running on the embedded default (SQLite, in-process bus).",
        f"  control room (指挥中心):  {base_url}/",
        f"  patrol leader (巡逻队长): {base_url}/m/   (open it at phone size)",
        f"  cameras and zones:       {base_url}/cameras.html   (admin; docs/cameras.md)",
        f"  residents (群众点单):     {base_url}/r/   (no account; departments 吹哨报到: {base_url}/d/)",
        f"  history, reports, notifications: {base_url}/history/  {base_url}/reports/  {base_url}/notify/",
        f"  api docs:                {base_url}/docs",
        f"  data folder:             {data}",
        "  accounts:",
    ]
    for acc in seed.accounts:
        team = f"  team {acc.team}" if acc.team else ""
        lines.append(f"    {acc.role:<9} {acc.name:<16} password {acc.password}{team}")
    if simulate:
        lines.append(
            "  --simulate-teams: the leaders are simulated (labelled 模拟 / simulation on the pages)"
        )
    lines.append("Incidents appear within a minute. Ctrl-C stops everything.")
    print("\n".join(lines), flush=True)


def run_demo(port: int = 8000, host: str = "127.0.0.1", data: Path | None = None,
             simulate_teams: bool = False,
             cameras: int | None = None, worker: bool = True) -> int:
    import ipaddress

    import uvicorn

    from api.errors import ApiError

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ApiError(f"the demo signs tokens with the public development secret and has demo passwords: it "
                       f"listens on 127.0.0.1 only, not {host!r}; for a network, run `sharpeyes serve` with "
                       "SHARPEYES_SECRET_KEY (docs/security.md)")

    from api.app import create_app
    from api.http_server import server_config
    from api.settings import Settings

    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    data = (data or ROOT / "data" / "demo").resolve()
    data.mkdir(parents=True, exist_ok=True)
    site_path, teams_path = demo_site_paths()
    settings = Settings(dev=True, db_url=f"sqlite:///{data / 'sharpeyes.db'}", media_dir=data / "media",
                        site_path=site_path, **_optional_settings(teams_path, simulate_teams))
    app = create_app(settings)
    app.state.ctx.simulation = simulate_teams
    seed = seed_demo(app.state.ctx.sessions, teams_path, key_file=data / "worker.key")
    app.state.ctx.patrol.teams_changed()
    config = write_camera_config(data / "cameras.yaml", cameras=cameras)
    # the demo's cameras live in the database (the cameras page edits them; a restart keeps those edits)
    app.state.ctx.camera_configs.add_missing(config.read_text(encoding="utf-8"), "demo",
                                             base_dir=config.parent)
    base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    server = uvicorn.Server(server_config(app, host, port, app.state.ctx.settings.header_timeout_s,
                                          log_level="warning", ws_ping_interval=10))
    procs: list[subprocess.Popen[bytes]] = []
    sim: Any = None
    fleets: list[Any] = []
    done = threading.Event()

    def companions() -> None:
        nonlocal sim
        try:
            wait_healthy(base_url)
        except ApiError as exc:
            print(f"sharpeyes: error: {exc}", file=sys.stderr)
            return
        if worker:
            procs.append(start_worker(None, base_url, seed.worker_key, data / "worker.log"))
        if simulate_teams:
            from api.demo.sim import TeamSimulator

            sim = TeamSimulator(base_url, [a for a in seed.accounts if a.role == "leader"])
            sim.start()
        from api.demo.fleet import SensorFleet

        fleets.append(SensorFleet(app.state.ctx).start())   # smoke, gas, 关爱 water meters, a parking zone
        if settings.mqtt_host:   # the 梯控 of the elevator camera (--cameras 6) gets a simulated controller
            from api.demo.elevator import SimulatedElevator

            s = settings
            fleets.append(SimulatedElevator(s.mqtt_host, s.mqtt_port, s.mqtt_prefix).start())
        print_banner(base_url, seed, simulate_teams, data)
        print("  sensors (simulated):     3 关爱 households' water meters, smoke and gas detectors, a "
              "parking zone (docs/sensors.md)", flush=True)
        print(f"  worker log:              {data / 'worker.log'}", flush=True)
        done.wait()   # the worker's parent-death signal fires when this thread ends: live as long as the demo

    threading.Thread(target=companions, name="demo-companions", daemon=True).start()
    try:
        server.run()
    finally:
        done.set()
        if sim is not None:
            sim.stop()
        for fleet in fleets:
            fleet.stop()
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


def _optional_settings(teams_path: Path, simulate: bool) -> dict[str, Any]:
    """Settings fields that only some versions of the api have (teams file, simulation flag)."""
    from api.settings import Settings

    out: dict[str, Any] = {}
    if "teams_path" in Settings.model_fields:
        out["teams_path"] = teams_path
    if "simulation" in Settings.model_fields:
        out["simulation"] = simulate
    return out
