from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from patrol import DEMO_TEAMS, PatrolError, load_teams, team_from_dict, teams_from_dict

from .conftest import make_team


def _team(**over):
    d = {"name": "t", "leader": "a", "members": ["a", "b"],
         "roster": [{"days": ["mon"], "start": "08:00", "end": "16:00"}]}
    d.update(over)
    return {k: v for k, v in d.items() if v is not None}


@pytest.mark.parametrize("over, message", [
    ({"leader": ""}, r"teams\.t9: team has no leader"),
    ({"leader": "zz"}, r"teams\.t9: leader 'zz' is not among members"),
    ({"roster": [{"days": ["mon"], "start": "22:00", "end": "06:00"}]},
     r"teams\.t9\.roster\.0: shift 22:00-06:00 ends before it starts; set crosses_midnight"),
    ({"roster": [{"days": ["mon"], "start": "8 am", "end": "16:00"}]},
     r"teams\.t9\.roster\.0: start: '8 am'"),
    ({"roster": [{"days": ["someday"], "start": "08:00", "end": "16:00"}]}, r"teams\.t9\.roster\.0\.days\.0"),
    ({"exceptions": [{"date": "2024-06-03", "start": "09:00", "end": "08:00"}]}, r"teams\.t9\.exceptions\.0"),
    # a misspelt key is also a missing one: the error names the key to change
    ({"leadr": "a", "leader": None}, r"teams\.t9\.leadr: unknown key 'leadr'"),
])
def test_bad_team_errors_name_the_item(over, message):
    with pytest.raises(PatrolError, match=message):
        team_from_dict("t9", _team(**over), "teams.yaml")


def test_unknown_member_in_teams_file():
    with pytest.raises(PatrolError, match=r"teams\.t1\.members: 'ghost' is not under people"):
        teams_from_dict({"people": {"a": {"name": "A"}}, "teams": {"t1": _team(leader="a",
                                                                               members=["a", "ghost"])}})


def test_night_shift_crossing_midnight():
    t = make_team("n", start="22:00", end="06:00", crosses=True)
    assert t.on_shift(datetime(2024, 6, 3, 23, 30))
    assert t.on_shift(datetime(2024, 6, 4, 5, 59))      # Monday's shift, still on Tuesday morning
    assert not t.on_shift(datetime(2024, 6, 4, 6, 0))
    assert not t.on_shift(datetime(2024, 6, 3, 21, 0))
    assert t.shift_at(datetime(2024, 6, 4, 1, 0)) == (datetime(2024, 6, 3, 22, 0), datetime(2024, 6, 4, 6, 0))


def test_weekdays_and_exceptions():
    t = team_from_dict("t", _team(exceptions=[
        {"date": "2024-06-10", "off": True, "reason": "training"},
        {"date": "2024-06-11", "start": "12:00", "end": "20:00"},
    ]))
    assert t.on_shift(datetime(2024, 6, 3, 9, 0))           # Monday on the roster
    assert not t.on_shift(datetime(2024, 6, 4, 9, 0))       # Tuesday: not on the roster
    assert not t.on_shift(datetime(2024, 6, 10, 9, 0))      # Monday off by exception
    assert t.on_shift(datetime(2024, 6, 11, 19, 0))         # extra Tuesday shift
    assert t.windows_on(date(2024, 6, 11))[0][0].hour == 12


def test_aware_times_are_converted_to_the_roster_timezone():
    t = make_team("d", start="08:00", end="18:00")
    # 01:30 UTC is 09:30 in Shanghai
    assert t.on_shift(datetime(2024, 6, 3, 1, 30, tzinfo=UTC))
    assert not t.on_shift(datetime(2024, 6, 3, 11, 0, tzinfo=UTC))   # 19:00 local


def test_demo_teams_cover_every_hour():
    cfg = load_teams(DEMO_TEAMS)
    for hour in range(24):
        on = [tid for tid, t in cfg.teams.items() if t.on_shift(datetime(2024, 6, 5, hour, 30))]
        assert len(on) >= 2, hour


@pytest.mark.parametrize("action, before, after, expected", [
    ("dispatch", None, 1, {1: "dispatched"}),
    ("override", 1, 2, {1: "available", 2: "dispatched"}),
    ("override", 1, 1, {1: "dispatched"}),
    ("accept", 1, 1, {1: "dispatched"}),
    ("arrive", 1, 1, {1: "on_site"}),
    ("resolve", 1, 1, {1: "available"}),
    ("decline", 1, None, {1: "available"}),
    ("false_alarm", 1, 1, {1: "available"}),
    ("false_alarm", None, None, {}),
    ("escalate", 1, 1, {}),
    ("close", 1, 1, {}),
    ("reopen", 1, None, {}),        # freed at resolve; it may be busy elsewhere by now
])
def test_team_statuses_after_each_step(action, before, after, expected):
    from patrol import team_statuses_after

    assert team_statuses_after(action, before, after) == expected
