"""The control room's side of residents' reports: the list (with the phone to call back), spam, replies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field
from sqlalchemy import select

from api.db.civic import Rating, Report
from api.db.models import Incident, utcnow
from api.deps import CtxDep, Operator, SessionDep
from api.errors import NotFound
from api.schemas import In, Out, TimelineOut
from api.services import residents
from api.services.incidents import record
from api.views import ERRORS, get_incident_for, incidents_out, publish_incidents

router = APIRouter(prefix="/api", tags=["residents"], responses=ERRORS)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


class ResidentReportOut(Out):
    id: int
    code: str
    incident_id: int
    category: str
    place: str | None
    building: str
    unit: str
    text: str
    phone: str | None
    spam: bool
    created_at: datetime
    rating: str | None = None
    rating_comment: str | None = None


class SpamIn(In):
    reason: str = Field(default="", max_length=500)


class ReplyIn(In):
    text: str = Field(min_length=1, max_length=2000, description="Shown to the resident on the status page")


def _out(session: SessionDep, r: Report) -> ResidentReportOut:
    last = session.scalar(select(Rating).where(Rating.report_id == r.id).order_by(Rating.id.desc()))
    out = ResidentReportOut.model_validate(r)
    if last is not None:
        out.rating, out.rating_comment = last.rating, last.comment
    return out


@router.get("/resident-reports", response_model=list[ResidentReportOut],
            summary="Residents' reports, newest first (operator)")
def list_reports(_: Operator, session: SessionDep,
                 incident_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                 offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> list[ResidentReportOut]:
    q = select(Report)
    if incident_id is not None:
        q = q.where(Report.incident_id == incident_id)
    rows = session.scalars(q.order_by(Report.id.desc()).limit(limit).offset(offset))
    return [_out(session, r) for r in rows]


@router.post("/resident-reports/{report_id}/spam", response_model=ResidentReportOut,
             summary="Mark a report as spam (its incident becomes a false alarm when still open)")
def spam(report_id: Id, body: SpamIn, user: Operator, ctx: CtxDep, session: SessionDep) -> ResidentReportOut:
    rep = session.get(Report, report_id)
    inc = session.get(Incident, rep.incident_id) if rep is not None else None
    if rep is None or inc is None:
        raise NotFound(f"no resident report {report_id}")
    residents.mark_spam(session, rep, inc, user.name, user.role, body.reason)
    session.commit()
    publish_incidents(ctx, incidents_out(session, [inc]))
    ctx.audit(user.name, "report_spam", rep.code, body.reason)
    return _out(session, rep)


@router.post("/incidents/{incident_id}/reply", response_model=TimelineOut, status_code=201,
             summary="A public reply (答复): the resident sees it on the status page; no name is shown")
def reply(incident_id: Id, body: ReplyIn, user: Operator, ctx: CtxDep, session: SessionDep) -> TimelineOut:
    inc = get_incident_for(session, user, incident_id)
    text = residents.plain_text(body.text, "text", 1, 2000)
    entry = record(session, inc, user.name, "reply", text, team_id=inc.team_id)
    inc.updated_at = utcnow()
    session.commit()
    publish_incidents(ctx, incidents_out(session, [inc]))
    return TimelineOut.model_validate(entry)
