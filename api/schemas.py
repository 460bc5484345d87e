"""Request and response shapes of the HTTP api (separate from the tables in api/db/models.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.services.lifecycle import Action, State
from api.validation import IsoTime, RowId, TimezoneName, check_values

Role = Literal["admin", "operator", "leader", "engineer", "department", "grid"]
CameraLive = Literal["online", "reconnecting", "offline", "unknown"]
TeamStatus = Literal["off_duty", "available", "on_patrol", "dispatched", "on_site"]

Name = Field(min_length=1, max_length=100, pattern=r"^[\w.\- ]+$")


class In(BaseModel):
    """Every request body: unknown keys refused, and no value a database cannot store (NUL bytes, integers
    beyond 64 bits, NaN or infinite floats, deep nesting), anywhere in it (api/validation.py)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        check_values(data)
        return data


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorOut(Out):
    detail: str = Field(description="What was wrong and what to do")
    code: str | None = Field(None, description="Stable error code of a domain refusal (e.g. unknown_camera, "
                                                "conflict, exists), for clients that act on it")


class UnprocessableOut(Out):
    detail: str | list[dict[str,
                            Any]] = Field(description="What was wrong: a line, or pydantic's list of errors")
    message: str | None = Field(default=None, description="One line summing up the errors in `detail`")


class LoginIn(In):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class UserOut(Out):
    id: int
    name: str
    role: Role
    team_id: int | None
    body_id: int | None = None
    active: bool


class TokenOut(Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserOut


class UserCreate(In):
    name: str = Name
    password: str = Field(min_length=8, max_length=200)
    role: Role
    team_id: RowId | None = Field(default=None, description="Required for leaders")
    body_id: RowId | None = Field(default=None, description="Required for department and grid users: their "
                                "body (GET /api/bodies)")


class WorkerKeyCreate(In):
    name: str = Name
    pool: str | None = Field(default=None, max_length=100)


class WorkerKeyOut(Out):
    id: int
    name: str
    pool: str | None
    key: str | None = Field(default=None, description="The key itself: shown once, at creation")


class CameraRegister(In):
    id: str = Name
    name: str = Field(default="", max_length=200)
    place: str | None = Field(default=None, max_length=100, description="Place on the site graph")
    zones: dict[str, Any] = Field(default_factory=dict,
                                  description="Zone name -> polygon and rules, as in the config")


class CameraStateIn(In):
    camera: str = Name
    state: Literal["online", "reconnecting", "offline"]
    fps: float | None = Field(default=None, ge=0, le=1000, strict=True)
    detail: str = Field(default="", max_length=500)
    last_event_at: IsoTime | None = None
    load: float | None = Field(default=None, ge=0, le=1, strict=True,
                               description="Share of the camera thread's time in its pipeline (detector, "
                               "tracker, rules): 1 means it cannot keep up")


class CameraOut(Out):
    id: str
    name: str
    place: str | None
    zones: dict[str, Any]
    worker: str | None
    state: CameraLive
    fps: float | None
    detail: str
    last_event_at: datetime | None
    last_seen_at: datetime | None


class IngestResult(Out):
    stored: int = Field(description="Lifecycle steps stored now")
    duplicates: int = Field(description="Steps already stored before (a retry): ignored")
    incidents: list[int] = Field(description="Incidents created or changed")


class MediaOut(Out):
    id: int
    kind: Literal["snapshot", "clip", "photo"]
    incident_id: int | None
    event_id: str | None
    content_type: str
    size: int
    created_at: datetime
    url: str


class EventOut(Out):
    id: str
    camera_id: str
    zone: str
    event_type: str
    rule: str
    label: str
    track_id: int | None
    first_seen_s: float
    start_s: float
    end_s: float | None
    max_score: float
    bbox: list[float]
    count: int | None
    lifecycle: str
    last_seq: int
    wall_time: float | None
    incident_id: int | None


class TimelineOut(Out):
    id: int
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    reason: str
    team_id: int | None
    data: dict[str, Any]


class StepOut(Out):
    allowed_actions: list[Action]
    needs_reason: list[Action]
    next_state: dict[Action, State]


class IncidentOut(Out):
    id: int
    title: str
    description: str
    category: str
    severity: int = Field(ge=1, le=5)
    state: State
    source: Literal["camera", "manual", "resident", "sensor"]
    camera_id: str | None
    zone: str | None
    event_type: str | None
    place: str | None
    team_id: int | None
    escalation_level: int
    event_count: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    deadline_at: datetime
    last_event_at: datetime | None
    snapshot_url: str | None = Field(default=None, description="Newest snapshot or photo, if any")
    grid: str | None = Field(default=None, description="Grid cell (网格) of the place, from the site")
    place_name: str | None = Field(default=None, description="Display name of the place, from the site")
    active: bool = Field(default=False, description="Not yet resolved, closed or a false alarm")
    allowed_actions: list[Action] = Field(default_factory=list,
                                          description="What the receiver may do now (an "
                                          "answer: the caller; a websocket message: its topic's audience, "
                                          "`incidents` the control room, `tasks` the team's leader)")
    needs_reason: list[Action] = Field(default_factory=list,
                                       description="Which of allowed_actions need a reason")
    next_state: dict[Action, State] = Field(default_factory=dict,
                                            description="The state each allowed action leads to")
    ahead: dict[State, StepOut] = Field(default_factory=dict,
                                        description="A leader's steps ahead: for each state "
                                        "his actions lead to, what he may do there (the phone shows a step "
                                        "queued offline as the server will see it)")


class IncidentDetail(IncidentOut):
    timeline: list[TimelineOut]
    events: list[EventOut]
    media: list[MediaOut]


class IncidentCreate(In):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=5000)
    event_type: str = Field(default="manual", max_length=100,
                            description="Policy key; decides category, severity, deadline")
    category: str | None = Field(default=None, max_length=50, description="Overrides the policy's category")
    severity: int | None = Field(default=None, ge=1, le=5)
    camera_id: str | None = Field(default=None, max_length=100)
    place: str | None = Field(default=None, max_length=100)


class ActionIn(In):
    action: Action
    reason: str = Field(default="", max_length=2000,
                        description="Why; required for decline, override, false_alarm, reopen")
    team_id: RowId | None = Field(default=None, description="Team, for dispatch and override")


class NoteIn(In):
    note: str = Field(min_length=1, max_length=5000)


class ProposalOut(Out):
    team_id: int
    team: str
    cost_s: float = Field(description="Ranking cost (lower is better), in seconds-equivalent")
    travel_s: float | None
    reasons: list[str]
    preempts: str | None = Field(default=None, description="Lower-severity incident the team would leave")


class TeamCreate(In):
    """A patrol team, as patrol's Team (patrol/teams.py), plus its id `key` and its people."""

    key: str = Name
    name: str = Field(min_length=1, max_length=100, description="Display name, e.g. 第一巡逻队")
    leader: str = Field(min_length=1, max_length=100, description="Person id of the leader (a member)")
    members: list[str] = Field(min_length=1, description="Person ids, leader included")
    people: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                              description="Person id -> {name, role, phone, skills}")
    skills: list[str] = Field(default_factory=list)
    home_grid: str | None = Field(default=None, max_length=100)
    base: str | None = Field(default=None, max_length=100, description="Place where the shift starts")
    roster: list[dict[str, Any]] = Field(default_factory=list,
                                         description='[{"days": ["mon"], "start": "08:00", "end": "16:00"}]')
    exceptions: list[dict[str, Any]] = Field(default_factory=list)
    timezone: TimezoneName = Field(default="Asia/Shanghai", description="IANA timezone of the roster")


class TeamStatusIn(In):
    status: TeamStatus | None = None
    place: str | None = Field(default=None, max_length=100, description="Place id on the site graph")
    position: list[Annotated[float, Field(ge=-1e6, le=1e6)]] | None = Field(
        default=None, min_length=2, max_length=2, description="[x, y] metres (within 1000 km of the origin)")


class TeamOut(Out):
    id: int
    key: str
    name: str
    leader: str
    members: list[str]
    people: dict[str, dict[str, Any]]
    skills: list[str]
    home_grid: str | None
    base: str | None
    roster: list[dict[str, Any]]
    exceptions: list[dict[str, Any]]
    timezone: str
    status: TeamStatus
    place: str | None
    position: list[float] | None
    updated_at: datetime
    on_shift: bool | None = Field(default=None, description="On shift now, by its roster")


class CheckInIn(In):
    checkpoint: str = Field(min_length=1, max_length=100, description="Checkpoint place id")
    code: str = Field(min_length=1, max_length=20, description="Code shown at the checkpoint")


class CheckInOut(Out):
    id: int
    team_id: int
    checkpoint: str
    person: str
    at: datetime


class PointsEntryOut(Out):
    seq: int
    person: str
    delta: int
    kind: str
    ref: str
    note: str
    at: datetime


class PointsOut(Out):
    team_id: int
    balance: dict[str, int] = Field(description="Person id -> points")
    history: list[PointsEntryOut]


class RedeemIn(In):
    person: str = Field(min_length=1, max_length=100)
    points: int = Field(gt=0, le=100000)
    item: str = Field(min_length=1, max_length=200)


class RouteStopOut(Out):
    place: str
    visit: int
    arrive_min: float
    depart_min: float
    xy: list[float] | None = None


class RouteOut(Out):
    team_id: int
    stops: list[RouteStopOut]
    duration_min: float
    distance_m: float
    path_xy: list[list[float]] = Field(default_factory=list, description="Polyline in site metres")
    coverage: dict[str, dict[str, float]] = Field(default_factory=dict,
                                                  description="Checkpoint -> {required, done, share}")
    checked_in: list[str] = Field(default_factory=list, description="Checkpoints checked in at today")


class PathOut(Out):
    path: list[str] = Field(description="Place ids, from first to last")
    path_xy: list[list[float]] = Field(description="Polyline in site metres")
    travel_s: float


class PlanOut(Out):
    image_url: str | None
    width_m: float
    height_m: float
    px_per_m: float


class SiteOut(Out):
    name: str
    timezone: str
    office: str
    plan: PlanOut
    places: dict[str, dict[str, Any]]
    links: list[Any]
    grids: dict[str, dict[str, Any]]
    buildings: dict[str, dict[str, Any]]
    areas: dict[str, dict[str, Any]]
    simulation: bool


class StatsOut(Out):
    open: int
    at_risk: int = Field(description="Open incidents past 80% of their time to deadline")
    overdue: int
    today_created: int
    today_resolved: int
    median_response_s: float | None = Field(description="Dispatch -> on site, today")
    resolved_in_time: float | None = Field(description="Share resolved before the deadline, today")
    false_alarm_rate: float | None
    by_category: dict[str, int]
    by_state: dict[str, int]


class HealthOut(Out):
    status: Literal["ok"]
    db: str
    version: str
