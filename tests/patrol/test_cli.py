from __future__ import annotations

import json

from api.cli.main import main
from patrol import DEMO_SITE, DEMO_TEAMS


def test_bench_dispatch_writes_figures(tmp_path, capsys):
    out = tmp_path / "b.json"
    rc = main(["bench", "dispatch", "--json", str(out), "--places", "60", "--teams", "20", "--incidents",
               "30",
               "--route-teams", "2", "--checkpoints", "6", "--route-time-limit", "0.2"])
    assert rc == 0
    figures = json.loads(out.read_text())
    assert figures["rank_one_incident"]["full_ranking_with_reasons"]["runs"] == 200
    assert figures["joint_assignment"]["assigned"] > 0
    assert figures["routes"]["feasible"] is True
    assert "sharpeyes bench dispatch" in figures["command"]


def test_site_check(capsys, tmp_path):
    assert main(["site", "check", str(DEMO_SITE), "--teams", str(DEMO_TEAMS)]) == 0
    assert "all reachable" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO_SITE.read_text(encoding="utf-8") + "  - [gate_south, moon_base]\n", encoding="utf-8")
    assert main(["site", "check", str(bad)]) == 2
    assert "moon_base" in capsys.readouterr().err
