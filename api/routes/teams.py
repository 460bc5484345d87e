"""Patrol teams: list, create, edit (admin), live status; a leader's tasks, route, check-ins and service
points (and 'mine')."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from sqlalchemy import select

from api.db.models import Incident, Team, User
from api.deps import Admin, AnyUser, CtxDep, SessionDep
from api.errors import Invalid
from api.schemas import (
    CheckInIn,
    CheckInOut,
    IncidentOut,
    PointsEntryOut,
    PointsOut,
    RedeemIn,
    RouteOut,
    TeamCreate,
    TeamOut,
    TeamStatusIn,
)
from api.schemas_teams import TeamUpdate
from api.services import teams
from api.services.lifecycle import ACTIVE
from api.views import ERRORS, commit_new, incidents_out

router = APIRouter(prefix="/api", tags=["teams"], responses=ERRORS)
TeamId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def team_out(ctx: CtxDep, team: Team) -> TeamOut:
    out = TeamOut.model_validate(team)
    if ctx.patrol is not None:
        out.on_shift = ctx.patrol.on_shift(team)
    return out


def team_for(session: SessionDep, user: User, team_id: int, write: bool = False) -> Team:
    team = session.get(Team, team_id)
    if team is None or (user.role == "leader" and user.team_id != team_id):
        raise HTTPException(404, f"no team {team_id} (or not yours)")
    return team


@router.get("/teams", response_model=list[TeamOut], summary="Teams with live status (a leader: his own)")
def list_teams(user: AnyUser, ctx: CtxDep, session: SessionDep) -> list[TeamOut]:
    q = select(Team).order_by(Team.id)
    if user.role == "leader":
        q = q.where(Team.id == user.team_id)
    return [team_out(ctx, t) for t in session.scalars(q)]


@router.post("/teams", response_model=TeamOut, status_code=201, summary="Create a team (admin)")
def create_team(body: TeamCreate, admin: Admin, ctx: CtxDep, session: SessionDep) -> TeamOut:
    data = body.model_dump(exclude={"key", "people"})
    team = teams.create(session, ctx.patrol, body.key, data, body.people)
    commit_new(session, f"team '{body.key}'")
    if ctx.patrol is not None:
        ctx.patrol.teams_changed()
    out = team_out(ctx, team)
    ctx.publish("teams", out.model_dump(mode="json"), team_id=team.id)
    return out


@router.patch("/teams/{team_id}", response_model=TeamOut,
              summary="Edit a team: name, members and people, leader, skills, base, roster, timezone (admin)")
def edit_team(team_id: TeamId, body: TeamUpdate, admin: Admin, ctx: CtxDep, session: SessionDep) -> TeamOut:
    team = session.get(Team, team_id)
    if team is None:
        raise HTTPException(404, f"no team {team_id}")
    changes = body.model_dump(exclude_unset=True)
    for k in ("name", "leader", "members", "skills", "roster", "exceptions", "timezone", "people"):
        if k in changes and changes[k] is None:
            raise Invalid(f"teams.{team.key}.{k}: cannot be null; leave it out to keep it")
    changed = teams.edit(ctx.patrol, team, changes)
    session.commit()
    ctx.audit(admin.name, "team_changed", team.key, ", ".join(changed) or "nothing")
    if changed and ctx.patrol is not None:
        ctx.patrol.teams_changed()
    out = team_out(ctx, team)
    ctx.publish("teams", out.model_dump(mode="json"), team_id=team.id)
    return out


# 'mine' shortcuts for leaders; before /teams/{team_id} so /teams/mine is not taken for an id
def _my_team(user: AnyUser, session: SessionDep) -> Team:
    team = session.get(Team, user.team_id) if user.team_id is not None else None
    if team is None:
        raise HTTPException(404, "you are not in a team: these routes are for patrol leaders")
    return team


@router.get("/teams/mine", response_model=TeamOut, summary="My team (leader)")
def my_team(user: AnyUser, ctx: CtxDep, session: SessionDep) -> TeamOut:
    return team_out(ctx, _my_team(user, session))


@router.get("/patrol/route/mine", response_model=RouteOut, summary="My team's route today (leader)")
def my_route(user: AnyUser, ctx: CtxDep, session: SessionDep) -> RouteOut:
    team = _my_team(user, session)
    _need_patrol(ctx)
    return RouteOut.model_validate(ctx.patrol.rounds.route(session, team))


@router.post("/patrol/checkins", response_model=CheckInOut, status_code=201,
             summary="Check in for my team (leader)")
def my_checkin(body: CheckInIn, user: AnyUser, ctx: CtxDep, session: SessionDep) -> CheckInOut:
    return check_in(_my_team(user, session).id, body, user, ctx, session)


@router.get("/points/mine", response_model=PointsOut, summary="My team's service points (leader)")
def my_points(user: AnyUser, ctx: CtxDep, session: SessionDep) -> PointsOut:
    return points(_my_team(user, session).id, user, ctx, session)


@router.get("/teams/{team_id}", response_model=TeamOut, summary="One team")
def get_team(team_id: TeamId, user: AnyUser, ctx: CtxDep, session: SessionDep) -> TeamOut:
    return team_out(ctx, team_for(session, user, team_id))


@router.patch("/teams/{team_id}/status", response_model=TeamOut,
              summary="Set a team's status and/or position (its leader, or an operator)")
def set_status(team_id: TeamId, body: TeamStatusIn, user: AnyUser, ctx: CtxDep,
               session: SessionDep) -> TeamOut:
    team = team_for(session, user, team_id)
    teams.move(ctx.patrol, team, body.status, body.place, body.position)
    session.commit()
    out = team_out(ctx, team)
    ctx.publish("teams", out.model_dump(mode="json"), team_id=team.id)
    return out


@router.get("/tasks", response_model=list[IncidentOut],
            summary="Active incidents assigned to a team (a leader: his team's; operators: all teams')")
def tasks(user: AnyUser, session: SessionDep) -> list[IncidentOut]:
    q = select(Incident).where(Incident.state.in_(ACTIVE), Incident.team_id.is_not(None))
    if user.role == "leader":
        q = q.where(Incident.team_id == user.team_id)
    return incidents_out(session, session.scalars(q.order_by(Incident.severity.desc(),
                                                             Incident.deadline_at)).all(),
                         user.role)


def _need_patrol(ctx: CtxDep) -> None:
    if ctx.patrol is None or not ctx.patrol.has_site():
        raise HTTPException(404,
                            "no site loaded: start the server with SHARPEYES_SITE_PATH set to a site YAML")


@router.get("/teams/{team_id}/route", response_model=RouteOut,
            summary="Today's routine patrol route of a team")
def route(team_id: TeamId, user: AnyUser, ctx: CtxDep, session: SessionDep) -> RouteOut:
    team = team_for(session, user, team_id)
    _need_patrol(ctx)
    return RouteOut.model_validate(ctx.patrol.rounds.route(session, team))


@router.post("/teams/{team_id}/checkins", response_model=CheckInOut, status_code=201,
             summary="Check in at a checkpoint with the code shown there")
def check_in(team_id: TeamId, body: CheckInIn, user: AnyUser, ctx: CtxDep, session: SessionDep) -> CheckInOut:
    team = team_for(session, user, team_id)
    _need_patrol(ctx)
    row = ctx.patrol.rounds.check_in(session, team, user, body.checkpoint, body.code)
    session.commit()
    out = team_out(ctx, team)
    ctx.publish("teams", out.model_dump(mode="json"), team_id=team.id)
    return CheckInOut.model_validate(row)


@router.get("/teams/{team_id}/checkins", response_model=list[CheckInOut], summary="A team's check-ins today")
def list_checkins(team_id: TeamId, user: AnyUser, ctx: CtxDep, session: SessionDep) -> list[CheckInOut]:
    team = team_for(session, user, team_id)
    if ctx.patrol is None:
        return []
    return [CheckInOut.model_validate(c) for c in ctx.patrol.rounds.checkins_today(session, team)]


@router.get("/teams/{team_id}/points", response_model=PointsOut,
            summary="Service points (积分) of the team's people")
def points(team_id: TeamId, user: AnyUser, ctx: CtxDep, session: SessionDep) -> PointsOut:
    team = team_for(session, user, team_id)
    if ctx.patrol is None:
        return PointsOut(team_id=team.id, balance={}, history=[])
    return PointsOut.model_validate(ctx.patrol.rounds.points(session, team))


@router.post("/teams/{team_id}/points/redeem", response_model=PointsEntryOut, status_code=201,
             summary="Redeem a person's points (operator)")
def redeem(team_id: TeamId, body: RedeemIn, user: AnyUser, ctx: CtxDep,
           session: SessionDep) -> PointsEntryOut:
    if user.role == "leader":
        raise HTTPException(403, "redeeming points is for operators")
    team = team_for(session, user, team_id)
    if body.person not in team.members:
        raise HTTPException(404, f"no person {body.person!r} in team {team.key}")
    _need_patrol(ctx)
    entry = ctx.patrol.rounds.redeem(session, body.person, body.points, body.item)
    session.commit()
    return PointsEntryOut.model_validate(entry)
