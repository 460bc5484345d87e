"""What the routes, the websocket replay and the live topics send about incidents and media, and the
documented error responses of the routers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import patrol
from api.db.models import Incident, Media, User
from api.errors import Exists, NotFound
from api.schemas import ErrorOut, IncidentOut, MediaOut, StepOut, UnprocessableOut
from api.services import lifecycle
from api.services.ingest_sql import snapshots_of

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad request"},
    401: {"model": ErrorOut, "description": "Not signed in, or a bad token / worker key"},
    403: {"model": ErrorOut, "description": "Role not allowed"},
    404: {"model": ErrorOut, "description": "Not found"},
    409: {"model": ErrorOut, "description": "Conflict, e.g. an action not allowed in the current state"},
    413: {"model": ErrorOut, "description": "Too large"},
    415: {"model": ErrorOut, "description": "Unsupported media type"},
    422: {"model": UnprocessableOut,
          "description": "Invalid request, or a rule not met (the detail says which)"},
    429: {"model": ErrorOut, "description": "Too many attempts"},
}


def commit_new(session: Session, what: str) -> None:
    """Commit a newly added row; a unique-key clash rolls back and answers 409 "<what> exists already"."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Exists(what) from exc


def media_url(m: Media) -> str:
    return f"/api/media/{m.id}"


def media_out(m: Media) -> MediaOut:
    return MediaOut(id=m.id, kind=m.kind, incident_id=m.incident_id, event_id=m.event_id,  # type: ignore[arg-type]
                    content_type=m.content_type, size=m.size, created_at=m.created_at, url=media_url(m))


def incidents_out_plain(session: Session, incidents: Sequence[Incident],
                        role: str = "operator") -> list[IncidentOut]:
    """Payloads without the snapshot lookup (for incidents that cannot have media yet)."""
    return _with_site(incidents, {}, site_of(session), role)


def incidents_out(session: Session, incidents: Sequence[Incident], role: str = "operator",
                  snapshots: Mapping[int, int] | None = None) -> list[IncidentOut]:
    """Payloads of incidents for a receiver of `role` (what it may do: lifecycle.view). `snapshots`: each
    incident's snapshot (media id) when the caller read them already (`snapshots_of`)."""
    if snapshots is None:
        snapshots = snapshots_of(session, [i.id for i in incidents])
    snaps = {inc: f"/api/media/{media}" for inc, media in snapshots.items()}
    return _with_site(incidents, snaps, site_of(session), role)


def with_view(item: IncidentOut, role: str) -> IncidentOut:
    """The incident as a receiver of `role` sees it: what it may do now, from the one state machine."""
    v = lifecycle.view(item.state, role)
    return item.model_copy(update={
        "active": v.active, "allowed_actions": v.allowed_actions, "needs_reason": v.needs_reason,
        "next_state": v.next_state,
        "ahead": {s: StepOut(allowed_actions=st.allowed_actions, needs_reason=st.needs_reason,  # type: ignore[arg-type]
                             next_state=st.next_state) for s, st in v.ahead.items()}})  # type: ignore[arg-type]


def _with_site(incidents: Sequence[Incident], snaps: dict[int, str], site: patrol.Site | None,
               role: str) -> list[IncidentOut]:
    out = []
    for inc in incidents:
        item = IncidentOut.model_validate(inc)
        item.snapshot_url = snaps.get(inc.id)
        if site is not None and inc.place and inc.place in site.config.places:
            item.grid = site.grid_of.get(inc.place)
            item.place_name = site.config.places[inc.place].name or inc.place
        out.append(with_view(item, role))
    return out


def site_of(session: Session) -> patrol.Site | None:
    """The patrol site of the app that made this session (`api.app` puts it in the sessions' info), so
    incident payloads can name the place and grid."""
    site = session.info.get("site")
    return site if isinstance(site, patrol.Site) else None


class Publishes(Protocol):
    def publish(self, topic: str, payload: dict[str, object], team_id: int | None = None) -> None: ...


def publish_incidents(ctx: Publishes, items: Sequence[IncidentOut],
                      previous_team: dict[int, int | None] | None = None) -> None:
    """Push incident changes: `incidents` to the control room, `tasks` to the assigned team (and the old one),
    each with what its audience may do (an operator's actions; a leader's, on his own team's task)."""
    for item in items:
        ctx.publish("incidents", with_view(item, "operator").model_dump(mode="json"))
        old = (previous_team or {}).get(item.id)
        if item.team_id is None and (old is None or old == item.team_id):
            continue
        task = with_view(item, "leader").model_dump(mode="json")
        if item.team_id is not None:
            ctx.publish("tasks", task, team_id=item.team_id)
        if old is not None and old != item.team_id:
            ctx.publish("tasks", task, team_id=old)


def get_incident_for(session: Session, user: User, incident_id: int) -> Incident:
    """The incident, if this user may see it (a leader: only his team's)."""
    inc = session.get(Incident, incident_id)
    if inc is None or (user.role == "leader" and (user.team_id is None or inc.team_id != user.team_id)):
        raise NotFound(f"no incident {incident_id} (or not one of your team's)")
    return inc
