"""Incidents: the state machine, the timeline, and turning ingested events into incidents.

Every change goes through `apply_action` or `ingest`, and every change writes a timeline entry saying
who did it, when and why. An illegal transition raises Conflict (HTTP 409) naming the current state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.models import Camera, Event, EventStep, Incident, TimelineEntry, utcnow
from api.policy import Policy
from vision.events import EventMessage

ACTIVE = ("open", "dispatched", "accepted", "on_site", "declined", "escalated", "reopened")

# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "dispatch": (frozenset({"open", "declined", "escalated", "reopened"}), "dispatched"),
    "override": (frozenset({"dispatched", "accepted"}), "dispatched"),
    "accept": (frozenset({"dispatched"}), "accepted"),
    "decline": (frozenset({"dispatched"}), "declined"),
    "arrive": (frozenset({"accepted"}), "on_site"),
    "resolve": (frozenset({"on_site"}), "resolved"),
    "close": (frozenset({"resolved", "false_alarm"}), "closed"),
    "escalate": (frozenset({"open", "dispatched", "accepted", "on_site", "declined", "escalated", "reopened"}), "escalated"),
    "false_alarm": (frozenset({"open", "dispatched", "declined", "escalated", "reopened"}), "false_alarm"),
    "reopen": (frozenset({"resolved", "closed", "false_alarm"}), "reopened"),
}
NEEDS_REASON = frozenset({"decline", "override", "false_alarm", "reopen"})
NEEDS_TEAM = frozenset({"dispatch", "override"})
LEADER_ACTIONS = frozenset({"accept", "decline", "arrive", "resolve"})
# the team's status after a leader's step, so dispatch sees who is free
TEAM_STATUS_AFTER = {"dispatch": "dispatched", "override": "dispatched", "accept": "dispatched",
                     "arrive": "on_site", "resolve": "available", "decline": "available"}


class Conflict(Exception):
    """An action not allowed in the incident's current state (HTTP 409)."""


class Invalid(Exception):
    """An action missing what it needs, e.g. a reason or a team (HTTP 422)."""


class UnknownCamera(Exception):
    """An event for a camera the api does not know (HTTP 404)."""


def record(session: Session, incident: Incident, actor: str, action: str, reason: str = "",
           from_state: str | None = None, to_state: str | None = None, team_id: int | None = None,
           data: dict[str, object] | None = None, at: datetime | None = None) -> TimelineEntry:
    entry = TimelineEntry(incident_id=incident.id, actor=actor, action=action, reason=reason,
                          from_state=from_state, to_state=to_state, team_id=team_id,
                          data=data or {}, at=at or utcnow())
    session.add(entry)
    return entry


def apply_action(session: Session, incident: Incident, action: str, actor: str, reason: str = "",
                 team_id: int | None = None) -> TimelineEntry:
    """Move the incident by `action`, or raise Conflict/Invalid without changing anything."""
    allowed, target = TRANSITIONS[action]
    if incident.state not in allowed:
        raise Conflict(
            f"incident {incident.id} is '{incident.state}': cannot {action} it "
            f"(allowed from: {', '.join(sorted(allowed))})"
        )
    if action in NEEDS_REASON and not reason.strip():
        raise Invalid(f"{action} needs a reason: say why in 'reason'")
    if action in NEEDS_TEAM and team_id is None:
        raise Invalid(f"{action} needs a team: give 'team_id'")
    before = incident.state
    acting_team = incident.team_id
    incident.state = target
    if action in NEEDS_TEAM:
        incident.team_id = team_id
    if action == "decline":
        incident.team_id = None   # no longer that team's task; patrol or the operator picks another
    if action == "escalate":
        incident.escalation_level += 1
    incident.updated_at = utcnow()
    session.flush()
    return record(session, incident, actor, action, reason, before, target,
                  team_id=incident.team_id if action in NEEDS_TEAM else acting_team)


def new_incident(session: Session, policy: Policy, *, title: str, event_type: str, actor: str,
                 at: datetime, source: str = "camera", camera: Camera | CameraInfo | None = None,
                 zone: str | None = None,
                 description: str = "", category: str | None = None, severity: int | None = None,
                 place: str | None = None) -> Incident:
    rule = policy.rule(event_type, category)
    incident = Incident(
        title=title, description=description, category=rule.category,
        severity=severity or rule.severity, state="open", source=source,
        camera_id=camera.id if camera else None, zone=zone, event_type=event_type,
        place=place or (camera.place if camera else None), created_by=actor,
        created_at=at, updated_at=utcnow(), deadline_at=rule.deadline(at), last_event_at=at if camera else None,
    )
    session.add(incident)
    session.flush()
    record(session, incident, actor, "opened", description, None, "open", at=at,
           data={"category": incident.category, "severity": incident.severity,
                 "deadline_at": incident.deadline_at.isoformat()})
    return incident


@dataclass
class IngestOutcome:
    stored: int = 0
    duplicates: int = 0
    incidents: list[int] = field(default_factory=list)
    new_incidents: list[int] = field(default_factory=list)
    cameras: set[str] = field(default_factory=set)
    changed: list[Incident] = field(default_factory=list)


def _event_time(msg: EventMessage) -> datetime:
    # Merge windows and deadlines run on the worker's clock, so a batch delayed by an outage
    # makes the same incidents as one that arrived at once.
    if msg.wall_time is not None:
        return datetime.fromtimestamp(msg.wall_time, UTC)
    return utcnow()


@dataclass(frozen=True)
class CameraInfo:
    """What ingest needs of a camera (cached by the api, so ingest does not read the cameras table)."""

    id: str
    name: str
    place: str | None


def _insert_steps(session: Session, rows: list[dict[str, object]]) -> set[tuple[str, int]]:
    """Insert lifecycle steps, skipping ones stored before; returns the keys stored now."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (insert(EventStep).values(rows).on_conflict_do_nothing(index_elements=["event_id", "seq"])
            .returning(EventStep.event_id, EventStep.seq))
    return {(str(r[0]), int(r[1])) for r in session.execute(stmt)}


def ingest(session: Session, policy: Policy, messages: Sequence[EventMessage], actor: str,
           cameras: Mapping[str, CameraInfo] | None = None) -> IngestOutcome:
    """Store new lifecycle steps, skip ones already stored, open or extend incidents. Caller commits.

    `cameras`: every camera of the batch, from the caller's cache; None reads them from the table.
    An unknown camera raises UnknownCamera before anything is written.
    """
    if cameras is None:
        names = {m.camera for m in messages}
        cameras = {c.id: CameraInfo(c.id, c.name, c.place)
                   for c in session.scalars(select(Camera).where(Camera.id.in_(names)))}
    missing = sorted({m.camera for m in messages} - cameras.keys())
    if missing:
        raise UnknownCamera(f"unknown camera {missing[0]!r}: register it first "
                            "(POST /api/ingest/cameras; the worker does this from its config)")
    out = IngestOutcome()
    unique: dict[tuple[str, int], EventMessage] = {}
    for m in messages:
        unique.setdefault((m.id, m.seq), m)
    now = utcnow()
    stored = _insert_steps(session, [{"event_id": k[0], "seq": k[1], "lifecycle": m.lifecycle, "received_at": now}
                                     for k, m in unique.items()])
    out.stored = len(stored)
    out.duplicates = len(messages) - len(stored)
    if not stored:
        return out
    ids = {k[0] for k in stored}
    events = {e.id: e for e in session.scalars(select(Event).where(Event.id.in_(ids)))}
    changed: dict[int, Incident] = {}
    for key, msg in unique.items():
        if key not in stored:
            continue
        camera = cameras[msg.camera]
        at = _event_time(msg)
        out.cameras.add(camera.id)
        ev = events.get(msg.id)
        if ev is None:
            incident = _merge_target(session, policy, msg, at, changed)
            if incident is None:
                incident = new_incident(
                    session, policy, title=f"{msg.event} @ {camera.name or camera.id} / {msg.zone}",
                    event_type=msg.event, actor=actor, at=at, camera=camera, zone=msg.zone,
                    description=f"{msg.label} ({msg.rule or 'rule'}) in zone {msg.zone}",
                )
                out.new_incidents.append(incident.id)
            else:
                record(session, incident, actor, "event_merged", "", at=at,
                       data={"event_id": msg.id, "label": msg.label})
            incident.event_count += 1
            ev = Event(id=msg.id, camera_id=camera.id, zone=msg.zone, event_type=msg.event, rule=msg.rule,
                       label=msg.label, track_id=msg.track_id, first_seen_s=msg.first_seen_s,
                       start_s=msg.start_s, end_s=msg.end_s, max_score=msg.max_score, bbox=list(msg.bbox),
                       count=msg.count, lifecycle=msg.lifecycle, last_seq=msg.seq, wall_time=msg.wall_time,
                       incident_id=incident.id, created_at=now, updated_at=now)
            session.add(ev)
            events[msg.id] = ev
            changed[incident.id] = incident
        else:
            if msg.seq >= ev.last_seq:
                ev.lifecycle = msg.lifecycle
                ev.last_seq = msg.seq
                ev.end_s = msg.end_s
                ev.count = msg.count
                ev.wall_time = msg.wall_time
            ev.max_score = max(ev.max_score, msg.max_score)
            ev.updated_at = now
            if ev.incident_id is not None and ev.incident_id not in changed:
                inc = session.get(Incident, ev.incident_id)
                if inc is not None:
                    changed[inc.id] = inc
        inc = changed.get(ev.incident_id) if ev.incident_id is not None else None
        if inc is not None and (inc.last_event_at is None or at > inc.last_event_at):
            inc.last_event_at = at
            inc.updated_at = now
    session.flush()
    out.incidents = sorted(changed)
    out.changed = list(changed.values())
    return out


def _merge_target(session: Session, policy: Policy, msg: EventMessage, at: datetime,
                  pending: dict[int, Incident]) -> Incident | None:
    window = timedelta(seconds=policy.rule(msg.event).merge_window_s)
    if window.total_seconds() <= 0:
        return None
    for inc in pending.values():
        if (inc.camera_id, inc.zone, inc.event_type) == (msg.camera, msg.zone, msg.event) and inc.state in ACTIVE \
                and inc.last_event_at is not None and at - inc.last_event_at <= window:
            return inc
    return session.scalars(
        select(Incident)
        .where(Incident.camera_id == msg.camera, Incident.zone == msg.zone, Incident.event_type == msg.event,
               Incident.state.in_(ACTIVE), Incident.last_event_at >= at - window)
        .order_by(Incident.id.desc()).limit(1)
    ).first()
