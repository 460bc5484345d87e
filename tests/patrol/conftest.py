"""Hand-made sites where the right answers are known."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from patrol import Site, Team, TeamState, site_from_dict, team_from_dict

MONDAY_10 = datetime(2024, 6, 3, 10, 0)   # a Monday


def line_site_dict(n: int = 5, step: float = 100.0, speed: float = 1.0) -> dict[str, Any]:
    """p0 .. p{n-1} on a straight road, `step` metres apart; grid W is x < 250, E is x >= 250."""
    return {
        "name": "line",
        "walking_speed_mps": speed,
        "plan": {"width_m": step * n, "height_m": 50},
        "places": {f"p{i}": {"kind": "checkpoint" if i % 2 else "junction", "xy": [i * step,
                                                                                   10]} for i in range(n)},
        "links": [[f"p{i}", f"p{i + 1}"] for i in range(n - 1)],
        "grids": {
            "W": {"worker": "gw_w", "polygon": [[-1, 0], [250, 0], [250, 50], [-1, 50]]},
            "E": {"worker": "gw_e", "polygon": [[250, 0], [step * n + 1, 0], [step * n + 1, 50], [250, 50]]},
        },
    }


@pytest.fixture
def line_site() -> Site:
    return site_from_dict(line_site_dict(), "line.yaml")


def make_team(
    tid: str,
    *,
    skills: list[str] | None = None,
    home_grid: str | None = None,
    start: str = "08:00",
    end: str = "18:00",
    crosses: bool = False,
    base: str | None = None,
) -> Team:
    return team_from_dict(tid, {
        "name": tid, "leader": f"{tid}_lead", "members": [f"{tid}_lead", f"{tid}_m"], "skills": skills or [],
        "home_grid": home_grid, "base": base,
        "roster": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": start, "end": end,
                    "crosses_midnight": crosses}],
    })


def state(tid: str, position: str, status: str = "available", **kw: Any) -> TeamState:
    return TeamState(team_id=tid, status=status, position=position, **kw)  # type: ignore[arg-type]


TEST_POLICY = {
    "categories": {
        "plain": {"severity": 2, "deadline": {"minutes": 30}, "ack_seconds": 60, "mode": "auto"},
        "fire": {"severity": 5, "deadline": {"minutes": 10}, "ack_seconds": 60, "mode": "auto",
                 "skills": ["fire_safety"], "events": ["fire_lane_blocked"]},
        "minor": {"severity": 1, "deadline": {"hours": 24}, "ack_seconds": 300, "mode": "propose"},
        "hard": {"severity": 2, "deadline": {"working_days": 3}, "mode": "propose"},
    },
    "calendar": {"official": "none"},   # Monday to Friday: the weekday tests stay independent of the year
}


@pytest.fixture
def policy():  # type: ignore[no-untyped-def]
    from patrol import policy_from_dict

    return policy_from_dict(TEST_POLICY, "test-policy")
