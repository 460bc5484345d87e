"""吹哨报到: calling bodies (grid worker, community office, departments) to an incident, and their answers.

Each escalation calls the next rung of the ladder: the grid worker (网格员) of the incident's grid, then the
community office (社区), then the departments the category names (api policy `departments`). A called body
must report (报到): acknowledge, then answer in writing, within the category's limit counted from the call. A
body may transfer (转办) its call to another body with a reason; the other body gets a new call. Every step is
a timeline entry of the incident. A call never changes the incident's state (lifecycle.py stays the judge).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.civic import Body, Call
from api.db.models import Incident, TimelineEntry, User, utcnow
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.services.incidents import record
from api.services.policy import Policy

KINDS = ("grid", "office", "department")
RUNGS = ("grid", "office", "department")
OPEN = ("called", "acknowledged")
# What a called body (or an operator) may do with a call in each state; the pages draw their buttons from it
# (CallOut.allowed_actions) and the routes refuse anything else. "answer" and "transfer" need text.
ACTIONS: dict[str, tuple[str, ...]] = {"called": ("ack", "transfer"), "acknowledged": ("answer", "transfer")}
NEEDS_TEXT = ("answer", "transfer")


def allowed_actions(c: Call) -> list[str]:
    return list(ACTIONS.get(c.state, ()))


def needs_text(c: Call) -> list[str]:
    """The allowed actions that are refused without a text (the answer, the transfer's reason)."""
    return [a for a in allowed_actions(c) if a in NEEDS_TEXT]


def _allow(c: Call, action: str, hint: str) -> None:
    allowed = allowed_actions(c)
    if action not in allowed:
        now = ", ".join(allowed) or "none"
        raise Conflict(f"call {c.id} is '{c.state}': {hint} (allowed now: {now})")


def bodies_for_rung(session: Session, policy: Policy, inc: Incident, rung: str,
                    grid: str | None) -> list[Body]:
    if rung == "grid":
        if grid is None:
            return []
        return list(session.scalars(select(Body).where(Body.kind == "grid", Body.grid == grid)))
    if rung == "office":
        return list(session.scalars(select(Body).where(Body.kind == "office").order_by(Body.id)))
    keys = policy.departments_for(inc.category)
    found = {b.key: b for b in session.scalars(select(Body).where(Body.key.in_(keys)))}
    return [found[k] for k in keys if k in found]


def call(session: Session, policy: Policy, inc: Incident, body: Body, rung: str, actor: str,
         reason: str = "", now: datetime | None = None) -> Call:
    """Call `body` to the incident: due within the category's limit from now. Caller commits."""
    now = now or utcnow()
    if session.scalar(select(Call.id).where(Call.incident_id == inc.id, Call.body_id == body.id,
                                            Call.state.in_(OPEN))) is not None:
        raise Conflict(f"{body.name} is called to incident {inc.id} already and has not answered yet")
    due = policy.rule(inc.event_type or "manual", inc.category).deadline(now)
    c = Call(incident_id=inc.id, body_id=body.id, rung=rung, state="called", reason=reason, called_by=actor,
             called_at=now, due_at=due)
    session.add(c)
    session.flush()
    record(session, inc, actor, "call", reason or f"{body.name} called (吹哨)",
           data={"call_id": c.id, "body": body.key, "body_name": body.name, "rung": rung,
                 "due_at": due.isoformat()}, at=now)
    return c


def escalate(session: Session, policy: Policy, inc: Incident, actor: str, grid: str | None,
             upto: str | None = None, now: datetime | None = None) -> list[Call]:
    """Call the next rung not called yet (up to and including `upto` when given: the deadline job calls the
    rungs the clock has reached). A rung with no body configured is skipped, with a timeline line."""
    called = set(session.scalars(select(Call.rung).where(Call.incident_id == inc.id)))
    skipped = select(TimelineEntry).where(TimelineEntry.incident_id == inc.id,
                                          TimelineEntry.action == "call_skipped")
    called |= {str(t.data.get("rung")) for t in session.scalars(skipped)}
    out: list[Call] = []
    for rung in RUNGS:
        if rung in called:
            continue
        bodies = bodies_for_rung(session, policy, inc, rung, grid)
        if not bodies:
            record(session, inc, actor, "call_skipped", f"no {rung} body configured (GET /api/bodies)",
                   data={"rung": rung})
            session.flush()
        for b in bodies:
            out.append(call(session, policy, inc, b, rung, actor, now=now))
        if out and upto is None:
            break
        if upto == rung:
            break
    return out


def _open_call(session: Session, call_id: int) -> tuple[Call, Incident, Body]:
    c = session.get(Call, call_id)
    inc = session.get(Incident, c.incident_id) if c is not None else None
    body = session.get(Body, c.body_id) if c is not None else None
    if c is None or inc is None or body is None:
        raise NotFound(f"no call {call_id}")
    return c, inc, body


def _member(user: User, c: Call, body: Body) -> None:
    if user.role in ("admin", "operator"):
        return
    if user.body_id != c.body_id:
        raise NotFound(f"no call {c.id} (or not one of {body.name}'s)")


def acknowledge(session: Session, call_id: int, user: User) -> tuple[Call, Incident]:
    """报到: the called body says it is on it."""
    c, inc, body = _open_call(session, call_id)
    _member(user, c, body)
    _allow(c, "ack", "only a call that is 'called' is acknowledged")
    c.state, c.acknowledged_at, c.acknowledged_by = "acknowledged", utcnow(), user.name
    record(session, inc, user.name, "call_ack", f"{body.name} 报到",
           data={"call_id": c.id, "body": body.key, "late": c.acknowledged_at > c.due_at})
    return c, inc


def answer(session: Session, call_id: int, user: User, text: str) -> tuple[Call, Incident]:
    """The body's written answer: what it did or will do."""
    c, inc, body = _open_call(session, call_id)
    _member(user, c, body)
    text = text.strip()
    if not text:
        raise Invalid("an answer needs text: say what was done (请填写处理情况)")
    _allow(c, "answer", "acknowledge it (报到) first, then answer")
    c.state, c.answered_at, c.answered_by, c.answer = "answered", utcnow(), user.name, text
    record(session, inc, user.name, "call_answer", text,
           data={"call_id": c.id, "body": body.key, "late": c.answered_at > c.due_at})
    return c, inc


def transfer(session: Session, policy: Policy, call_id: int, user: User, to_body: int,
             reason: str) -> tuple[Call, Incident]:
    """转办: hand the call to another body with a reason; returns the new call."""
    c, inc, body = _open_call(session, call_id)
    _member(user, c, body)
    reason = reason.strip()
    if not reason:
        raise Invalid("转办 needs a reason: say why the other body should take it")
    _allow(c, "transfer", "only an open call is transferred")
    target = session.get(Body, to_body)
    if target is None:
        raise NotFound(f"no body {to_body}: pick one of GET /api/bodies")
    if target.id == body.id:
        raise Invalid("转办 to the same body: pick another")
    new = call(session, policy, inc, target, "transfer", user.name, f"{body.name} 转办: {reason}")
    c.state, c.transferred_to = "transferred", new.id
    record(session, inc, user.name, "call_transfer", reason,
           data={"call_id": c.id, "from": body.key, "to": target.key, "new_call_id": new.id})
    return new, inc


def calls_for(session: Session, user: User, incident_id: int | None = None,
              open_only: bool = False) -> list[Call]:
    q = select(Call)
    if user.role not in ("admin", "operator"):
        if user.body_id is None:
            raise Forbidden("this account belongs to no body: an admin sets its body_id")
        q = q.where(Call.body_id == user.body_id)
    if incident_id is not None:
        q = q.where(Call.incident_id == incident_id)
    if open_only:
        q = q.where(Call.state.in_(OPEN))
    return list(session.scalars(q.order_by(Call.id.desc()).limit(500)))


def flag_overdue(session: Session, now: datetime | None = None) -> list[Incident]:
    """A call not answered by its due time gets one `call_overdue` timeline entry (and so a notification).
    Caller commits; returns the incidents changed."""
    now = now or utcnow()
    late = list(session.scalars(select(Call).where(Call.state.in_(OPEN), Call.due_at < now)))
    if not late:
        return []
    marks = select(TimelineEntry).where(TimelineEntry.incident_id.in_({c.incident_id for c in late}),
                                        TimelineEntry.action == "call_overdue")
    flagged = {int(t.data.get("call_id", 0)) for t in session.scalars(marks)}
    changed: dict[int, Incident] = {}
    for c in late:
        inc = session.get(Incident, c.incident_id)
        body = session.get(Body, c.body_id)
        if c.id in flagged or inc is None or body is None:
            continue
        what = "报到" if c.state == "called" else "答复"
        record(session, inc, "system", "call_overdue",
               f"{body.name} 未按时{what} (due {c.due_at:%Y-%m-%d %H:%M} UTC)",
               data={"call_id": c.id, "body": body.key, "body_name": body.name}, at=now)
        changed[inc.id] = inc
    return list(changed.values())
