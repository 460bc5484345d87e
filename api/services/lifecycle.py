"""The incident lifecycle: the one state machine. Every change of an incident's state, wherever it comes from
(a route, a periodic job, ingest, auto-dispatch), is checked here, and every incident the api sends says,
from here, what its receiver may do now (`allowed_actions`) and which of those need a reason (`needs_reason`).

Deadlines and escalation flag an incident and call people (吹哨); they never take a task away from a team
that is on it: escalating a dispatched, accepted or on-site incident keeps its state and its team.
Pure logic: no database, no web framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from api.errors import Conflict, DomainError, Forbidden, Invalid

State = Literal["open", "dispatched", "accepted", "on_site", "declined", "escalated", "reopened", "resolved",
                "closed", "false_alarm"]
Action = Literal["dispatch", "override", "accept", "decline", "arrive", "resolve", "close", "escalate",
                 "false_alarm", "reopen", "dissatisfied"]
Role = Literal["admin", "operator", "leader", "system", "resident"]

STATES: tuple[str, ...] = get_args(State)
ACTIONS: tuple[str, ...] = get_args(Action)
# not yet finished: resolved, closed and false alarms are not
ACTIVE: tuple[str, ...] = ("open", "dispatched", "accepted", "on_site", "declined", "escalated", "reopened")
UNASSIGNED = ("open", "declined", "escalated", "reopened")     # nobody is on it: waiting for a dispatch
WORKING = ("dispatched", "accepted", "on_site")                # a team has it

# (state, action) -> the state it leads to
TRANSITIONS: dict[tuple[str, str], str] = {
    **{(s, "dispatch"): "dispatched" for s in UNASSIGNED},
    **{(s, "override"): "dispatched" for s in ("dispatched", "accepted")},
    ("dispatched", "accept"): "accepted",
    ("dispatched", "decline"): "declined",
    ("accepted", "arrive"): "on_site",
    ("on_site", "resolve"): "resolved",
    **{(s, "close"): "closed" for s in ("resolved", "false_alarm")},
    **{(s, "escalate"): "escalated" for s in UNASSIGNED},
    **{(s, "escalate"): s for s in WORKING},                   # flag and call people; the team keeps it
    **{(s, "false_alarm"): "false_alarm" for s in (*UNASSIGNED, "dispatched")},
    **{(s, "reopen"): "reopened" for s in ("resolved", "closed", "false_alarm")},
    # the resident who reported it rates the answer 不满意: the matter is reviewed again (件件有回音)
    **{(s, "dissatisfied"): "reopened" for s in ("resolved", "closed")},
}
NEEDS_REASON = frozenset({"decline", "override", "false_alarm", "reopen"})
# only the reporting resident's rating takes it (api/services/residents.py)
RESIDENT_ONLY = frozenset({"dissatisfied"})
NEEDS_TEAM = frozenset({"dispatch", "override"})
RELEASES_TEAM = frozenset({"decline", "reopen", "dissatisfied"})   # the incident waits for a new dispatch
# a leader acts on his own team's tasks; the control room (and the system) may record any step
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "leader": frozenset({"accept", "decline", "arrive", "resolve"}),
    "operator": frozenset(ACTIONS) - RESIDENT_ONLY, "admin": frozenset(ACTIONS) - RESIDENT_ONLY,
    "system": frozenset(ACTIONS) - RESIDENT_ONLY,
    "resident": RESIDENT_ONLY,
}


class LifecycleError(DomainError):
    """An action refused by the state machine; nothing was changed (api.errors maps it to HTTP)."""


class NotAllowed(LifecycleError, Conflict):
    """The action is not possible from the incident's current state."""

    code = "not_allowed"


class RoleRefused(LifecycleError, Forbidden):
    """The caller's role may not take this action."""

    code = "role_refused"


class MissingInput(LifecycleError, Invalid):
    """The action needs a reason or a team that was not given."""

    code = "missing_input"


def next_state(state: str, action: str) -> str | None:
    return TRANSITIONS.get((state, action))


def allowed_actions(state: str, role: str) -> list[str]:
    """What a user of `role` may do now to an incident in `state` (a leader: to his own team's task)."""
    mine = ROLE_ACTIONS.get(role, frozenset())
    return [a for a in ACTIONS if a in mine and (state, a) in TRANSITIONS]


@dataclass(frozen=True)
class Step:
    """What a user may do to an incident in one state."""

    allowed_actions: list[str]
    needs_reason: list[str]
    next_state: dict[str, str]


@dataclass(frozen=True)
class View(Step):
    """The fields every incident the api sends carries, for its receiver."""

    active: bool = False
    ahead: dict[str, Step] = field(default_factory=dict)


def step(state: str, role: str) -> Step:
    acts = allowed_actions(state, role)
    return Step(acts, [a for a in acts if a in NEEDS_REASON], {a: TRANSITIONS[(state, a)] for a in acts})


def view(state: str, role: str) -> View:
    """The allowed actions now; for a leader also the steps ahead, so the phone can show a step it queued
    offline as the server will see it (the control room is online: it asks again)."""
    now = step(state, role)
    ahead: dict[str, Step] = {}
    if role == "leader":
        todo = list(now.next_state.values())
        while todo:
            s = todo.pop()
            if s in ahead or s == state:
                continue
            ahead[s] = step(s, role)
            todo.extend(ahead[s].next_state.values())
    return View(now.allowed_actions, now.needs_reason, now.next_state, state in ACTIVE, ahead)


def check(state: str, action: str, role: str, reason: str = "", team_id: int | None = None,
          incident_id: int | None = None) -> str:
    """The state `action` leads to, or a LifecycleError saying what is wrong and what to do."""
    name = f"incident {incident_id}" if incident_id is not None else "the incident"
    if action not in ROLE_ACTIONS.get(role, frozenset()):
        mine = ", ".join(sorted(ROLE_ACTIONS.get(role, frozenset()))) or "nothing"
        who = "the reporting resident" if action in RESIDENT_ONLY else "operators"
        raise RoleRefused(f"a {role} may only {mine}; '{action}' is for {who}")
    target = TRANSITIONS.get((state, action))
    if target is None:
        possible = ", ".join(allowed_actions(state, role)) or "nothing"
        raise NotAllowed(f"{name} is '{state}': cannot {action} it (possible now: {possible})")
    if action in NEEDS_REASON and not reason.strip():
        raise MissingInput(f"{action} needs a reason: say why in 'reason'")
    if action in NEEDS_TEAM and team_id is None:
        raise MissingInput(f"{action} needs a team: give 'team_id'")
    return target
