"""Bodies (grid workers, the community office, departments) and their calls (吹哨报到): the department phone
page's queue, 报到 (acknowledge), the written answer, 转办 (transfer) with a reason."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field
from sqlalchemy import select

from api.db.civic import Body, Call
from api.db.models import Incident, User, utcnow
from api.deps import Admin, CtxDep, Operator, SessionDep, require
from api.errors import NotFound
from api.schemas import In, Out
from api.services import whistle
from api.views import ERRORS, commit_new, get_incident_for, incidents_out, publish_incidents

router = APIRouter(prefix="/api", tags=["calls"], responses=ERRORS)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Staff = Annotated[User, Depends(require("admin", "operator", "department", "grid"))]


class BodyIn(In):
    key: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_:-]+$",
                     description="Stable key; the api policy's `departments` names departments by it")
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["grid", "office", "department"]
    grid: str | None = Field(default=None, max_length=100, description="For kind grid: the site's grid id")


class BodyOut(Out):
    id: int
    key: str
    name: str
    kind: str
    grid: str | None


class CallOut(Out):
    id: int
    incident_id: int
    body_id: int
    body: str = ""
    rung: str
    state: str
    reason: str
    called_by: str
    called_at: datetime
    due_at: datetime
    overdue: bool = False
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    answered_at: datetime | None
    answered_by: str | None
    answer: str
    transferred_to: int | None
    incident_title: str = ""
    incident_category: str = ""
    incident_place: str | None = None
    incident_state: str = ""
    allowed_actions: list[str] = Field(default_factory=list,
                                       description="What the called body may do now: ack, answer, transfer")
    needs_text: list[str] = Field(default_factory=list,
                                  description="Which of them need text (the answer, a reason)")


class CallIn(In):
    body_id: int = Field(ge=1, le=2**31 - 1)
    reason: str = Field(default="", max_length=2000)


class AnswerIn(In):
    text: str = Field(min_length=1, max_length=5000, description="What was done, in writing")


class TransferIn(In):
    body_id: int = Field(ge=1, le=2**31 - 1, description="The body that takes it over")
    reason: str = Field(min_length=1, max_length=2000)


def call_out(session: SessionDep, c: Call) -> CallOut:
    out = CallOut.model_validate(c)
    body = session.get(Body, c.body_id)
    inc = session.get(Incident, c.incident_id)
    out.body = body.name if body else ""
    out.overdue = c.state in whistle.OPEN and c.due_at < utcnow()
    out.allowed_actions = whistle.allowed_actions(c)
    out.needs_text = whistle.needs_text(c)
    if inc is not None:
        out.incident_title, out.incident_category = inc.title, inc.category
        out.incident_place, out.incident_state = inc.place, inc.state
    return out


@router.get("/bodies", response_model=list[BodyOut], summary="Grid workers' bodies, the office, departments")
def list_bodies(_: Staff, session: SessionDep) -> list[BodyOut]:
    return [BodyOut.model_validate(b) for b in session.scalars(select(Body).order_by(Body.id))]


@router.post("/bodies", response_model=BodyOut, status_code=201, summary="Add a body (admin)")
def create_body(body: BodyIn, admin: Admin, ctx: CtxDep, session: SessionDep) -> BodyOut:
    row = Body(key=body.key, name=body.name, kind=body.kind, grid=body.grid)
    session.add(row)
    commit_new(session, f"body '{body.key}'")
    ctx.audit(admin.name, "body_created", body.key, body.kind)
    return BodyOut.model_validate(row)


@router.get("/calls", response_model=list[CallOut],
            summary="Calls, newest first: a department or grid user's own body's; operators all")
def list_calls(user: Staff, session: SessionDep,
               incident_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
               open_only: Annotated[bool, Query(alias="open")] = False) -> list[CallOut]:
    return [call_out(session, c) for c in whistle.calls_for(session, user, incident_id, open_only)]


@router.post("/incidents/{incident_id}/calls", response_model=CallOut, status_code=201,
             summary="Call (吹哨) one body to an incident by hand (operator)")
def call_body(incident_id: Id, body: CallIn, user: Operator, ctx: CtxDep, session: SessionDep) -> CallOut:
    inc = get_incident_for(session, user, incident_id)
    target = session.get(Body, body.body_id)
    if target is None:
        raise NotFound(f"no body {body.body_id}: pick one of GET /api/bodies")
    c = whistle.call(session, ctx.policy, inc, target, target.kind, user.name, body.reason)
    return _done(ctx, session, c, inc)


def _done(ctx: CtxDep, session: SessionDep, c: Call, inc: Incident) -> CallOut:
    inc.updated_at = utcnow()
    session.commit()
    publish_incidents(ctx, incidents_out(session, [inc]))
    out = call_out(session, c)
    ctx.publish("calls", out.model_dump(mode="json"))
    return out


@router.post("/calls/{call_id}/ack", response_model=CallOut, summary="报到: acknowledge the call")
def ack(call_id: Id, user: Staff, ctx: CtxDep, session: SessionDep) -> CallOut:
    c, inc = whistle.acknowledge(session, call_id, user)
    return _done(ctx, session, c, inc)


@router.post("/calls/{call_id}/answer", response_model=CallOut, summary="Answer the call in writing")
def answer(call_id: Id, body: AnswerIn, user: Staff, ctx: CtxDep, session: SessionDep) -> CallOut:
    c, inc = whistle.answer(session, call_id, user, body.text)
    return _done(ctx, session, c, inc)


@router.post("/calls/{call_id}/transfer", response_model=CallOut,
             summary="转办: hand the call to another body with a reason (answers the new call)")
def transfer(call_id: Id, body: TransferIn, user: Staff, ctx: CtxDep, session: SessionDep) -> CallOut:
    c, inc = whistle.transfer(session, ctx.policy, call_id, user, body.body_id, body.reason)
    return _done(ctx, session, c, inc)
