"""The state machine on its own (api/services/lifecycle.py): the table, the roles and the views."""

from __future__ import annotations

import re

import pytest

from api.errors import Conflict, Forbidden, Invalid
from api.services import lifecycle as lc


def test_every_state_is_reachable_and_every_action_used() -> None:
    seen, todo = {"open"}, ["open"]
    while todo:
        s = todo.pop()
        for a in lc.ACTIONS:
            nxt = lc.next_state(s, a)
            if nxt and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(lc.STATES)
    assert {a for _, a in lc.TRANSITIONS} == set(lc.ACTIONS)


@pytest.mark.parametrize("state", lc.WORKING)
def test_escalation_never_takes_a_working_teams_task(state: str) -> None:
    assert lc.next_state(state, "escalate") == state


@pytest.mark.parametrize("state, role, expected", [
    ("open", "operator", ["dispatch", "escalate", "false_alarm"]),
    ("open", "leader", []),
    ("dispatched", "leader", ["accept", "decline"]),
    ("accepted", "leader", ["arrive"]),
    ("on_site", "leader", ["resolve"]),
    ("on_site", "admin", ["resolve", "escalate"]),
    ("closed", "operator", ["reopen"]),
    ("closed", "stranger", []),
])
def test_allowed_actions_by_state_and_role(state: str, role: str, expected: list[str]) -> None:
    assert lc.allowed_actions(state, role) == expected


def test_views_say_what_needs_a_reason_and_what_lies_ahead_for_a_leader() -> None:
    v = lc.view("dispatched", "operator")
    assert v.active and v.needs_reason == ["override", "decline", "false_alarm"] and v.ahead == {}
    lead = lc.view("dispatched", "leader")
    assert lead.next_state == {"accept": "accepted", "decline": "declined"}
    assert set(lead.ahead) == {"accepted", "declined", "on_site", "resolved"}
    assert (
        lead.ahead["on_site"].allowed_actions == ["resolve"] and lead.ahead["resolved"].allowed_actions == []
    )
    assert not lc.view("resolved", "operator").active


@pytest.mark.parametrize("state, action, role, reason, team, error, message", [
    ("open", "accept", "leader", "", None, Conflict, "'open': cannot accept it (possible now: nothing)"),
    ("dispatched", "close", "leader", "x", None, Forbidden,
     "a leader may only accept, arrive, decline, resolve"),
    ("dispatched", "decline", "leader", " ", None, Invalid, "decline needs a reason"),
    ("open", "dispatch", "operator", "", None, Invalid, "dispatch needs a team"),
    ("resolved", "accept", "operator", "", None, Conflict, "possible now: close, reopen"),
])
def test_refusals_say_why(state: str, action: str, role: str, reason: str, team: int | None,
                          error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        lc.check(state, action, role, reason, team)


def test_a_legal_step_gives_the_next_state() -> None:
    assert lc.check("open", "dispatch", "operator", team_id=3) == "dispatched"
    assert lc.check("accepted", "escalate", "system") == "accepted"
