"""Incidents: list, open by hand, details with timeline, actions of the state machine, notes, photos."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, Path, Query, Response, UploadFile
from pydantic import Field
from sqlalchemy import func, select

from api.db.models import Camera, Event, Incident, Media, Team, TimelineEntry, utcnow
from api.deps import AnyUser, CtxDep, Operator, SessionDep
from api.errors import NotFound, after_commit
from api.schemas import (
    ActionIn,
    EventOut,
    In,
    IncidentCreate,
    IncidentDetail,
    IncidentOut,
    MediaOut,
    NoteIn,
    Out,
    ProposalOut,
    State,
    TeamOut,
    TimelineOut,
)
from api.services.incidents import apply_action, new_incident, record
from api.services.lifecycle import ACTIVE, LifecycleError
from api.views import ERRORS, get_incident_for, incidents_out, media_out, publish_incidents

router = APIRouter(prefix="/api/incidents", tags=["incidents"], responses=ERRORS)
IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Source = Literal["camera", "manual", "resident", "sensor", "patrol"]


@router.get("", response_model=list[IncidentOut], summary="Incidents, newest first (a leader: his team's)")
def list_incidents(
    user: AnyUser,
    session: SessionDep,
    ctx: CtxDep,
    response: Response,
    state: Annotated[list[State] | None, Query()] = None,
    category: Annotated[str | None, Query(max_length=50)] = None,
    camera_id: Annotated[str | None, Query(max_length=100)] = None,
    team_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    active: Annotated[
        bool | None, Query(description="true: only not yet resolved/closed/false alarm")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    text: Annotated[str | None, Query(max_length=100, description="In the title or description")] = None,
    since: Annotated[datetime | None, Query(description="Opened at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="Opened before (ISO 8601)")] = None,
    source: Annotated[list[Source] | None, Query()] = None,
    grid: Annotated[str | None, Query(max_length=100, description="Grid cell (网格) of the place")] = None,
) -> list[IncidentOut]:
    q = select(Incident)
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(Incident.title.ilike(like, escape="\\") | Incident.description.ilike(like, escape="\\"))
    if since is not None:
        q = q.where(Incident.created_at >= since)
    if until is not None:
        q = q.where(Incident.created_at < until)
    if source:
        q = q.where(Incident.source.in_(source))
    if grid:
        places = [p for p, g in (ctx.site.grid_of.items() if ctx.site is not None else []) if g == grid]
        q = q.where(Incident.place.in_(places))
    if user.role == "leader":
        q = q.where(Incident.team_id == user.team_id)
    if state:
        q = q.where(Incident.state.in_(state))
    if category:
        q = q.where(Incident.category == category)
    if camera_id:
        q = q.where(Incident.camera_id == camera_id)
    if team_id:
        q = q.where(Incident.team_id == team_id)
    if active is not None:
        q = q.where(Incident.state.in_(ACTIVE) if active else Incident.state.not_in(ACTIVE))
    # how many match, for paging past the newest `limit`
    response.headers["X-Total-Count"] = str(session.scalar(select(func.count()).select_from(q.subquery())))
    rows = session.scalars(q.order_by(Incident.id.desc()).limit(limit).offset(offset)).all()
    return incidents_out(session, rows, user.role)


@router.post("", response_model=IncidentOut, status_code=201, summary="Open an incident by hand (operator)")
def create_incident(body: IncidentCreate, user: Operator, ctx: CtxDep, session: SessionDep) -> IncidentOut:
    camera = None
    if body.camera_id is not None:
        camera = session.get(Camera, body.camera_id)
        if camera is None:
            raise HTTPException(404, f"unknown camera {body.camera_id!r}")
    inc = new_incident(session, ctx.policy, title=body.title, event_type=body.event_type, actor=user.name,
                       at=utcnow(), source="manual", camera=camera, description=body.description,
                       category=body.category, severity=body.severity, place=body.place)
    session.commit()
    # stored: from here on the answer is 201 whatever fails (a retry would open it twice)
    answer = IncidentOut.model_validate(inc)
    with after_commit(f"incident {inc.id}: its payload"):
        answer = incidents_out(session, [inc], user.role)[0]
    with after_commit(f"incident {inc.id}: publishing"):
        publish_incidents(ctx, [answer])
    if ctx.patrol is not None:
        with after_commit(f"incident {inc.id}: dispatch"):
            ctx.patrol.on_new_incidents([inc.id])
    return answer


@router.get("/{incident_id}", response_model=IncidentDetail,
            summary="One incident with timeline, events and media")
def get_incident(incident_id: IncidentId, user: AnyUser, session: SessionDep) -> IncidentDetail:
    inc = get_incident_for(session, user, incident_id)
    base = incidents_out(session, [inc], user.role)[0]
    timeline = session.scalars(
        select(TimelineEntry).where(TimelineEntry.incident_id == inc.id).order_by(TimelineEntry.id)
    )
    events = session.scalars(select(Event).where(Event.incident_id == inc.id).order_by(Event.created_at,
                                                                                       Event.id))
    media = session.scalars(select(Media).where(Media.incident_id == inc.id).order_by(Media.id))
    return IncidentDetail(
        **base.model_dump(),
        timeline=[TimelineOut.model_validate(t) for t in timeline],
        events=[EventOut.model_validate(e) for e in events],
        media=[media_out(m) for m in media],
    )


@router.post(
    "/{incident_id}/actions",
    response_model=IncidentOut,
    summary="Move the incident: dispatch, override, accept, decline, arrive, resolve, close, escalate, "
    "false_alarm, reopen (409 when not allowed from the current state)",
)
def act(
    incident_id: IncidentId, body: ActionIn, user: AnyUser, ctx: CtxDep, session: SessionDep
) -> IncidentOut:
    inc = get_incident_for(session, user, incident_id)
    if body.team_id is not None and session.get(Team, body.team_id) is None:
        raise NotFound(f"no team {body.team_id}: pick one of GET /api/teams")
    done = apply_action(session, inc, body.action, user.name, user.role, body.reason, body.team_id)
    if ctx.patrol is not None:
        ctx.patrol.on_action(session, inc, body.action, user, done.previous_team)
    session.commit()
    items = incidents_out(session, [inc], user.role)
    publish_incidents(ctx, incidents_out(session, [inc]), {inc.id: done.previous_team})
    teams = {t.id: t for t in done.teams}
    if inc.team_id is not None and inc.team_id != done.previous_team:
        new = session.get(Team, inc.team_id)   # sent by patrol after a decline
        if new is not None:
            teams[new.id] = new
    for t in teams.values():
        ctx.publish("teams", TeamOut.model_validate(t).model_dump(mode="json"), team_id=t.id)
    return items[0]


@router.post("/{incident_id}/notes", response_model=TimelineOut, status_code=201,
             summary="Add a note to the timeline")
def add_note(incident_id: IncidentId, body: NoteIn, user: AnyUser, ctx: CtxDep,
             session: SessionDep) -> TimelineOut:
    inc = get_incident_for(session, user, incident_id)
    entry = record(session, inc, user.name, "note", body.note, team_id=inc.team_id)
    inc.updated_at = utcnow()
    session.commit()
    publish_incidents(ctx, incidents_out(session, [inc]))
    return TimelineOut.model_validate(entry)


@router.post("/{incident_id}/photos", response_model=MediaOut, status_code=201,
             summary="Attach a photo (JPEG/PNG/WebP, <= 10 MB) with an optional note")
def add_photo(incident_id: IncidentId, file: Annotated[UploadFile, File(description="The photo")],
              user: AnyUser, ctx: CtxDep, session: SessionDep,
              note: Annotated[str, Form(max_length=5000)] = "") -> MediaOut:
    inc = get_incident_for(session, user, incident_id)
    limit = ctx.settings.max_photo_bytes
    if file.size is not None and file.size > limit:
        raise HTTPException(413, f"photo is {file.size} bytes; the limit is {limit} bytes (10 MB)")
    data = file.file.read(limit + 1)
    ctype, ext = ctx.media.check_image(data, limit)
    rel, sha = ctx.media.save("photo", data, ext)
    row = Media(kind="photo", incident_id=inc.id, path=rel, content_type=ctype, size=len(data), sha256=sha,
                uploaded_by=user.name)
    session.add(row)
    session.flush()
    record(session, inc, user.name, "photo", note, team_id=inc.team_id, data={"media_id": row.id})
    inc.updated_at = utcnow()
    session.commit()
    publish_incidents(ctx, incidents_out(session, [inc]))
    return media_out(row)


@router.get("/{incident_id}/proposal", response_model=list[ProposalOut],
            summary="Teams proposed for dispatch, best first, with the reasons (operator)")
def proposal(incident_id: IncidentId, user: Operator, ctx: CtxDep, session: SessionDep) -> list[ProposalOut]:
    inc = get_incident_for(session, user, incident_id)
    if ctx.patrol is None:
        return []
    result = [ProposalOut.model_validate(p) for p in ctx.patrol.propose(session, inc)]
    return result


class BulkFalseAlarmIn(In):
    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000, description="Why they are false alarms")


class BulkOut(Out):
    closed: list[int]
    refused: dict[int, str] = Field(description="Incident id -> why it was left as it was")


@router.post("/false-alarms", response_model=BulkOut,
             summary="Close several incidents as false alarms with one reason (operator); each one the state "
             "machine refuses is left as it was, with why")
def close_false_alarms(body: BulkFalseAlarmIn, user: Operator, ctx: CtxDep, session: SessionDep) -> BulkOut:
    closed: list[int] = []
    refused: dict[int, str] = {}
    for inc_id in dict.fromkeys(body.ids):
        inc = session.get(Incident, inc_id)
        if inc is None:
            refused[inc_id] = f"no incident {inc_id}"
            continue
        try:
            with session.begin_nested():
                apply_action(session, inc, "false_alarm", user.name, user.role, body.reason)
                apply_action(session, inc, "close", user.name, user.role, body.reason)
        except LifecycleError as exc:
            session.refresh(inc)
            refused[inc_id] = str(exc)
            continue
        closed.append(inc_id)
    session.commit()
    with after_commit("false alarms: publishing"):
        rows = [r for r in (session.get(Incident, i) for i in closed) if r is not None]
        publish_incidents(ctx, incidents_out(session, rows))
    return BulkOut(closed=closed, refused=refused)
