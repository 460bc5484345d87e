"""Camera configs in the database, with their history, and the YAML contract in and out.

A config is one camera's mapping of the YAML contract (ARCHITECTURE.md, "Camera config"), checked field by
field (api.services.camera_checks) before anything is stored. Every change raises the camera's revision
and adds a history row (who, when, which keys); a change that changes nothing is not one. Workers that
take their cameras from the api (`sharpeyes worker --from-api`) poll `worker_feed` and restart only the
cameras whose revision moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import Camera, CameraConfig, CameraConfigChange
from api.errors import Exists, NotFound
from api.services.camera_checks import ConfigInvalid, FieldError, absolute_source, check_camera, fold_globals
from api.services.ingest import CameraCache
from api.services.stream_secrets import hide, known_urls, restore, reveal


@dataclass(frozen=True)
class Saved:
    camera: str
    revision: int
    changed: list[str]


def changed_keys(old: object, new: object, prefix: str = "", depth: int = 3) -> list[str]:
    """Key paths that differ, down to `depth` levels (zones.corridor.polygon)."""
    if old == new:
        return []
    if depth == 0 or not isinstance(old, dict) or not isinstance(new, dict):
        return [prefix or "(all)"]
    out: list[str] = []
    for key in sorted(set(old) | set(new), key=str):
        path = f"{prefix}.{key}" if prefix else str(key)
        out += changed_keys(old.get(key), new.get(key), path, depth - 1)
    return out


def _mirror(session: Session, name: str, config: dict[str, object]) -> None:
    """The cameras table (the wall, incidents) knows a camera as soon as it is configured."""
    row = session.get(Camera, name)
    if row is None:
        row = Camera(id=name, name=name)
        session.add(row)
    location, zones = config.get("location"), config.get("zones")
    node = location.get("node") if isinstance(location, dict) else None
    row.place = node if isinstance(node, str) else None
    row.zones = dict(zones) if isinstance(zones, dict) else {}


def _write(session: Session, name: str, config: dict[str, object], actor: str, *, enabled: bool | None = None,
           create: bool | None = None, action: str | None = None) -> Saved:
    row = session.get(CameraConfig, name)
    if create is True and row is not None:
        raise Exists(f"camera {name!r}")
    if create is False and row is None:
        raise NotFound(f"no camera config {name!r}: add the camera first")
    now = datetime.now(UTC)
    if row is None:
        row = CameraConfig(camera=name, config=config, enabled=True if enabled is None else enabled,
                           retention={}, revision=1, updated_by=actor, updated_at=now)
        session.add(row)
        changed = ["(all)"]
        action = action or "created"
    else:
        changed = changed_keys(row.config, config)
        if enabled is not None and enabled != row.enabled:
            changed.append("enabled")
        if not changed:
            return Saved(name, row.revision, [])
        row.config = config
        row.enabled = row.enabled if enabled is None else enabled
        row.revision += 1
        row.updated_by, row.updated_at = actor, now
        action = action or "updated"
    session.add(CameraConfigChange(camera=name, revision=row.revision, action=action, config=config,
                                   enabled=row.enabled, changed=changed, actor=actor, at=now))
    _mirror(session, name, config)
    return Saved(name, row.revision, changed)


class _Flow(dict[str, object]):
    """A mapping written on one line (a rule, a small section), as the contract's examples do."""


class _ContractDumper(yaml.SafeDumper):
    pass


def _flow_list(dumper: yaml.SafeDumper, data: list[object]) -> yaml.Node:
    flat = all(not isinstance(x, dict) and (not isinstance(x, list) or all(not isinstance(y, (dict, list))
                                                                            for y in x)) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


def _flow_map(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", dict(data), flow_style=True)


_ContractDumper.add_representer(list, _flow_list)
_ContractDumper.add_representer(_Flow, _flow_map)


def _ordered(config: dict[str, object]) -> dict[str, object]:
    """Rules and flat sections on one line, `kind` first, as ARCHITECTURE.md writes them."""
    out: dict[str, object] = {}
    for key, value in config.items():
        if key == "zones" and isinstance(value, dict):
            out[key] = {z: {**zone, "rules": [_Flow({"kind": r.get("kind"), **r})
                                              for r in zone.get("rules", [])]}
                        if isinstance(zone, dict) else zone for z, zone in value.items()}
        elif isinstance(value, dict) and all(not isinstance(v, (dict, list)) for v in value.values()):
            out[key] = _Flow(value)
        else:
            out[key] = value
    return out


class CameraConfigs:
    """The stored camera configs; `base_dir` resolves relative file sources (the server's folder)."""

    def __init__(self, sessions: sessionmaker[Session], cache: CameraCache | None = None,
                 base_dir: Path | None = None) -> None:
        self.sessions = sessions
        self.cache = cache
        self.base_dir = (base_dir or Path.cwd()).resolve()

    def check(self, name: str, raw: object, base_dir: Path | None = None) -> dict[str, object]:
        base = base_dir or self.base_dir
        if isinstance(raw, dict):
            raw = absolute_source(restore(name, raw, self.known_urls), base)
        return check_camera(name, raw, base)

    def save(self, name: str, raw: object, actor: str, *, create: bool | None = None) -> Saved:
        """Create (create=True), update (False) or either (None); ConfigInvalid with every field's error."""
        config = self.check(name, raw)
        with self.sessions() as session:
            saved = _write(session, name, config, actor, create=create)
            session.commit()
        self._forget(name)
        return saved

    def set_enabled(self, name: str, enabled: bool, actor: str) -> Saved:
        with self.sessions() as session:
            row = session.get(CameraConfig, name)
            if row is None:
                raise NotFound(f"no camera config {name!r}")
            saved = _write(session, name, row.config, actor, enabled=enabled,
                           action="enabled" if enabled else "disabled")
            session.commit()
        return saved

    def set_retention(self, name: str, retention: dict[str, object], actor: str) -> None:
        with self.sessions() as session:
            row = session.get(CameraConfig, name)
            if row is None:
                raise NotFound(f"no camera config {name!r}")
            row.retention = retention
            row.updated_by, row.updated_at = actor, datetime.now(UTC)
            session.commit()

    def get(self, name: str) -> CameraConfig:
        with self.sessions() as session:
            row = session.get(CameraConfig, name)
            if row is None:
                raise NotFound(f"no camera config {name!r}")
            return row

    def all(self) -> list[CameraConfig]:
        with self.sessions() as session:
            return list(session.scalars(select(CameraConfig).order_by(CameraConfig.camera)))

    def known_urls(self) -> dict[str, str]:
        """Every stored stream URL with a password, by its masked form (api.services.stream_secrets)."""
        return known_urls(r.config for r in self.all())

    def reveal(self, url: str, field: str = "source") -> str:
        """A URL read back with *** as the stored one it stands for (to try it again)."""
        return reveal(url, self.known_urls, field)

    def history(self, name: str, limit: int = 100) -> list[CameraConfigChange]:
        with self.sessions() as session:
            q = (select(CameraConfigChange).where(CameraConfigChange.camera == name)
                 .order_by(CameraConfigChange.id.desc()).limit(limit))
            return list(session.scalars(q))

    # --- the YAML contract ------------------------------------------------------------------------------
    def import_yaml(self, text: str, actor: str, base_dir: Path | None = None) -> list[Saved]:
        """Every camera of a YAML document, all or none: one bad camera refuses the whole file."""
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigInvalid("", [FieldError("yaml", f"not valid YAML{where}: "
                                                f"{getattr(exc, 'problem', exc)}")]) from None
        if not isinstance(doc, dict):
            raise ConfigInvalid("", [FieldError("yaml", "expected a mapping with a 'cameras' section")])
        configs = {name: self.check(name, raw, base_dir) for name, raw in fold_globals(doc).items()}
        with self.sessions() as session:
            out = [_write(session, name, cfg, actor, action="imported") for name, cfg in configs.items()]
            session.commit()
        for name in configs:
            self._forget(name)
        return out

    def add_missing(self, text: str, actor: str, base_dir: Path | None = None) -> list[str]:
        """The cameras of a YAML document that are not configured yet (the demo's, at every start): the ones
        there keep what was changed in the page."""
        doc = yaml.safe_load(text)
        have = {r.camera for r in self.all()}
        cams = fold_globals(doc if isinstance(doc, dict) else {})
        wanted = {n: c for n, c in cams.items() if n not in have}
        configs = {name: self.check(name, raw, base_dir) for name, raw in wanted.items()}
        with self.sessions() as session:
            for name, cfg in configs.items():
                _write(session, name, cfg, actor, create=True, action="imported")
            session.commit()
        return sorted(configs)

    def export_yaml(self, names: list[str] | None = None, *, include_disabled: bool = False,
                    passwords: bool = False) -> str:
        """The cameras as the YAML contract (only the cameras' own keys: nothing outside the contract); stream
        passwords as *** unless `passwords` (importing the file here again keeps them either way)."""
        rows = [r for r in self.all() if (names is None or r.camera in names)
                and (r.enabled or include_disabled or names is not None)]
        if names is not None:
            missing = sorted(set(names) - {r.camera for r in rows})
            if missing:
                raise NotFound(f"no camera config {missing[0]!r}")
        doc = {"cameras": {r.camera: _ordered(r.config if passwords else hide(r.config)) for r in rows}}
        return yaml.dump(doc, Dumper=_ContractDumper, sort_keys=False, allow_unicode=True, width=110)

    def worker_feed(self) -> dict[str, object]:
        """What a worker that takes its cameras from the api runs: enabled cameras with their revisions."""
        with self.sessions() as session:
            rows = list(session.scalars(select(CameraConfig).order_by(CameraConfig.camera)))
            top = session.scalar(select(func.max(CameraConfig.revision))) or 0
        return {"revision": int(top),
                "cameras": {r.camera: {"revision": r.revision, "config": r.config}
                            for r in rows if r.enabled}}

    def _forget(self, name: str) -> None:
        if self.cache is not None:
            self.cache.forget(name)
