"""A deployment's patrol policy (`sharpeyes serve --patrol-policy FILE`) and the deadline job's period
(`Settings.deadline_check_s`)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

import patrol
from api.cli.main import build_parser
from api.errors import ApiError
from tests.api.conftest import build, event


def _policy_file(tmp_path: Path, **crowd: object) -> Path:
    data = yaml.safe_load(patrol.policy.DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    data["categories"]["crowd"].update(crowd)
    data["calendar"]["holidays"] = ["2026-10-09"]
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_serve_takes_a_patrol_policy_file(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, deadline={"minutes": 5})
    args = build_parser().parse_args(["serve", "--patrol-policy", str(path)])
    assert args.patrol_policy == path
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, site=True, patrol_policy_path=path)
    with h.client:
        assert h.ctx.policy.patrol.calendar.holidays == [datetime(2026, 10, 9).date()]
        h.register("cam1")
        inc = h.post_events(event("a", kind="crowd")).json()["incidents"][0]
        with h.ctx.sessions() as s:
            from api.db.models import Incident

            row = s.get(Incident, inc)
            assert row is not None and row.deadline_at - row.created_at == timedelta(minutes=5)
    h.ctx.engine.dispose()


def test_a_bad_patrol_policy_names_the_file_and_key(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, severity=9)
    with pytest.raises(ApiError, match=r"policy\.yaml: categories\.crowd\.severity: .*--patrol-policy"):
        build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, site=True, patrol_policy_path=path)


def test_the_deadline_job_runs_every_deadline_check_s(tmp_path: Path) -> None:
    h = build(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, site=True, deadline_check_s=0.1)
    with h.client:
        h.register("cam1")
        # a crowd (20 min deadline) first seen 25 minutes ago: overdue now
        r = h.post_events(event("a", kind="crowd", wall_time=time.time() - 25 * 60))
        inc = r.json()["incidents"][0]
        end = time.monotonic() + 10
        state = ""
        while time.monotonic() < end and state != "escalated":
            time.sleep(0.1)
            with h.ctx.sessions() as s:
                from api.db.models import Incident

                row = s.get(Incident, inc)
                state = row.state if row is not None else ""
        assert state == "escalated"
    h.ctx.engine.dispose()
