"""Incidents: the state machine, the timeline, and turning ingested events into incidents.

Every change goes through `apply_action` or `ingest`, and every change writes a timeline entry saying
who did it, when and why. `apply_action` asks the state machine (lifecycle.py): an illegal step raises a
LifecycleError naming the current state and what is possible.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NotRequired, TypedDict, cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session

import patrol
from api.db.models import Camera, Incident, Team, TimelineEntry, utcnow
from api.errors import Conflict, UnknownCamera
from api.services import ingest_sql as sql
from api.services import lifecycle
from api.services.policy import Policy
from vision.events import EventMessage

# a step may come this far from the server's future (clock skew) before its time is held to the server's
WALL_TIME_AHEAD_S = 120.0
_skew_log = logging.getLogger("api.ingest.clock")


def record(session: Session, incident: Incident, actor: str, action: str, reason: str = "",
           from_state: str | None = None, to_state: str | None = None, team_id: int | None = None,
           data: dict[str, object] | None = None, at: datetime | None = None) -> TimelineEntry:
    entry = TimelineEntry(incident_id=incident.id, actor=actor, action=action, reason=reason,
                          from_state=from_state, to_state=to_state, team_id=team_id,
                          data=data or {}, at=at or utcnow())
    session.add(entry)
    return entry


@dataclass(frozen=True)
class Applied:
    """What an action did: its timeline entry, the team that held the incident before, and the teams whose
    status changed (for publishing)."""

    entry: TimelineEntry
    previous_team: int | None
    teams: list[Team]


def apply_action(session: Session, incident: Incident, action: str, actor: str, role: str = "system",
                 reason: str = "", team_id: int | None = None) -> Applied:
    """Move the incident by `action` (the one state machine, api/services/lifecycle.py) and set the teams'
    status (patrol.team_statuses_after), or raise a LifecycleError without changing anything."""
    target = lifecycle.check(incident.state, action, role, reason, team_id, incident.id)
    before, previous = incident.state, incident.team_id
    # compare-and-set: of steps taken at once from the same state, one moves the incident, the others are
    # refused (PostgreSQL re-reads the row after the winner's commit; SQLite serialises the writers)
    moved = session.execute(update(Incident).where(Incident.id == incident.id, Incident.state == before)
                            .values(state=target).execution_options(synchronize_session=False))
    if getattr(moved, "rowcount", 1) != 1:
        raise Conflict(f"incident {incident.id} was changed by someone else at the same moment (it is no "
                       f"longer {before!r}): reload it and decide again")
    incident.state = target
    if action in lifecycle.NEEDS_TEAM:
        incident.team_id = team_id
    elif action in lifecycle.RELEASES_TEAM:
        incident.team_id = None   # no longer that team's task; patrol or the operator picks another
    if action == "decline" and previous is not None:
        incident.excluded_teams = sorted({*incident.excluded_teams, previous})   # never asked again for it
    if action == "escalate":
        incident.escalation_level = int(patrol.Level.capped(incident.escalation_level + 1))
    now = utcnow()
    incident.updated_at = now
    teams = []
    for tid, status in patrol.team_statuses_after(action, previous, incident.team_id).items():
        team = session.get(Team, tid)
        if team is not None:
            team.status, team.updated_at = status, now
            teams.append(team)
    session.flush()
    entry = record(session, incident, actor, action, reason, before, target,
                   team_id=incident.team_id if action in lifecycle.NEEDS_TEAM else previous)
    return Applied(entry, previous, teams)


def new_incident(session: Session, policy: Policy, *, title: str, event_type: str, actor: str,
                 at: datetime, source: str = "camera", camera: Camera | CameraInfo | None = None,
                 zone: str | None = None,
                 description: str = "", category: str | None = None, severity: int | None = None,
                 place: str | None = None) -> Incident:
    """Open one incident by hand (or from a caller outside ingest); the same insert as ingest's."""
    timeline: list[dict[str, object]] = []
    inc_id = _open(session, policy, title=title, description=description, event_type=event_type,
                   category=category, severity=severity, source=source, camera=camera, zone=zone,
                   place=place or (camera.place if camera else None), actor=actor, at=at, now=utcnow(),
                   last_event_at=at if camera else None, timeline=timeline)
    session.execute(sql.INSERT_TIMELINE, timeline)
    incident = session.get(Incident, inc_id)
    assert incident is not None
    return incident


class _Known(TypedDict):
    """An event already stored, or inserted by this batch (`new`: its row, edited before the insert)."""

    incident_id: int | None
    last_seq: int
    max_score: float
    new: NotRequired[dict[str, object]]


@dataclass
class IngestOutcome:
    stored: int = 0
    duplicates: int = 0
    incidents: list[int] = field(default_factory=list)
    new_incidents: list[int] = field(default_factory=list)
    cameras: set[str] = field(default_factory=set)
    changed: list[Incident] = field(default_factory=list)
    stored_keys: set[tuple[str, int]] = field(default_factory=set)   # (event id, seq) stored now
    incident_of: dict[str, int] = field(default_factory=dict)       # event id -> its incident
    new_event_ids: list[str] = field(default_factory=list)          # events stored for the first time


def _event_time(msg: EventMessage, now: datetime) -> datetime:
    # Merge windows and deadlines run on the worker's clock, so a batch delayed by an outage
    # makes the same incidents as one that arrived at once; a time from the server's future (a worker
    # clock that runs ahead) is held to the server's clock, so no deadline lands in the future.
    if msg.wall_time is None:
        return now
    at = datetime.fromtimestamp(msg.wall_time, UTC)
    skew = (at - now).total_seconds()
    if skew > WALL_TIME_AHEAD_S:
        _skew_log.warning("event %s of camera %s: wall_time %.0f s ahead of the server's clock; held to it "
                          "(set the worker's clock: NTP)", msg.id[:100], msg.camera[:100], skew)
        return now
    return at


@dataclass(frozen=True)
class CameraInfo:
    """What ingest needs of a camera (cached by the api, so ingest does not read the cameras table)."""

    id: str
    name: str
    place: str | None
    worker: str | None = None   # the worker that registered it (api/services/workers.py: may_use)
    actions: bool = True        # whether a rule of its zones has actions (False: no look-up per new event)


def _insert_steps(session: Session, rows: list[dict[str, object]]) -> set[tuple[str, int]]:
    """Insert lifecycle steps, skipping ones stored before; returns the keys stored now."""
    if not rows:
        return set()
    stmt = sql.INSERT_STEPS["postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"]
    return {(str(ev), int(seq)) for ev, seq in session.connection().execute(stmt, rows)}


def lock_merge_keys(session: Session, messages: Sequence[EventMessage]) -> None:
    """PostgreSQL: one writer per merge key (camera, zone, event type) until the commit, across lanes and
    replicas; without it two transactions each find no open incident and each open one. Taken before any
    read of the transaction, so (READ COMMITTED) its reads see what the previous holder committed; all of
    a transaction's keys at once, in one order, so two transactions never wait on each other crosswise.
    SQLite: nothing to do (one writer)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(sql.LOCK_MERGE_KEYS,
                     {"keys": sql.merge_lock_keys({(m.camera, m.zone, m.event) for m in messages})})


def ingest(session: Session, policy: Policy, messages: Sequence[EventMessage], actor: str,
           cameras: Mapping[str, CameraInfo] | None = None, keys_locked: bool = False) -> IngestOutcome:
    """Store new lifecycle steps, skip ones already stored, open or extend incidents. Caller commits.

    `cameras`: every camera of the batch, from the caller's cache; None reads them from the table.
    `keys_locked`: the caller took the merge keys' locks of every message (`lock_merge_keys`) first.
    An unknown camera raises UnknownCamera before anything is written. Written with Core statements,
    a fixed number per batch (plus one per new incident), because this is the hot path.
    """
    if cameras is None:
        names = {m.camera for m in messages}
        cameras = {c.id: CameraInfo(c.id, c.name, c.place)
                   for c in session.scalars(select(Camera).where(Camera.id.in_(names)))}
    missing = sorted({m.camera for m in messages} - cameras.keys())
    if missing:
        raise UnknownCamera(missing[0])
    out = IngestOutcome()
    conn = session.connection()   # the session's transaction, without the ORM's work per statement
    unique: dict[tuple[str, int], EventMessage] = {}
    for m in messages:
        unique.setdefault((m.id, m.seq), m)
    known: dict[str, _Known] = {}
    shapes: dict[str, set[tuple[str, str, str]]] = {}
    for m in messages:
        shapes.setdefault(m.id, set()).add((m.camera, m.zone, m.event))
    for eid, shape in shapes.items():
        if len(shape) > 1:
            raise Conflict(f"event id {eid[:100]!r} is given to steps of different cameras, zones or types: "
                           "a new event needs a new id")
    now = utcnow()
    stored: set[tuple[str, int]] | None = None
    active: list[sql.ActiveRow] | None = None
    if conn.dialect.name == "postgresql":
        # the merge keys' lock and the three reads in one round trip (the steps are stored before the check
        # of their events below: a refused batch rolls back whole)
        batch_groups = {(m.camera, m.zone, m.event) for m in messages}
        found, stored, active = sql.first_reads(
            conn, None if keys_locked else sql.merge_lock_keys(batch_groups), list(shapes),
            [(k[0], k[1], m.lifecycle) for k, m in unique.items()], now, batch_groups)
    else:
        found = [sql.EventRow(*r) for r in conn.execute(sql.EVENTS_BY_ID, {"ids": list(shapes)})]
    for row in found:
        # an id is one event: a step naming another camera, zone or type is refused, not merged or dropped
        if shapes[row.id] != {(row.camera_id, row.zone, row.event_type)}:
            raise Conflict(f"event id {row.id[:100]!r} is taken by an event of camera {row.camera_id!r}, "
                           f"zone {row.zone!r}, type {row.event_type!r}: a new event needs a new id (its "
                           "steps keep the camera, zone and type of its first step)")
        known[row.id] = {"incident_id": row.incident_id, "last_seq": row.last_seq, "max_score": row.max_score}
    if stored is None:
        stored = _insert_steps(session, [{"event_id": k[0], "seq": k[1], "lifecycle": m.lifecycle,
                                          "received_at": now}
                                         for k, m in unique.items()])
    out.stored = len(stored)
    out.stored_keys = stored
    out.duplicates = len(messages) - len(stored)
    if not stored:
        return out
    todo = [m for k, m in unique.items() if k in stored]
    # the newest active incident of each (camera, zone, event type) the batch opens events for, in one query
    groups: dict[tuple[str, str, str], dict[str, object] | None] = {}
    wanted = {(m.camera, m.zone, m.event) for m in todo if m.id not in known}
    if wanted:
        # ascending ids: the newest wins
        if active is None:
            active = [sql.ActiveRow(*r) for r in conn.execute(sql.ACTIVE_INCIDENTS, {"groups": list(wanted)})]
        for r in active:
            if (g := (r.camera_id, r.zone, r.event_type)) in wanted:
                groups[g] = {"id": r.id, "state": r.state, "last_event_at": r.last_event_at}
    touched: dict[int, dict[str, object]] = {}      # incident id -> {"count": +n, "last": datetime}
    new_events: list[dict[str, object]] = []
    ev_updates: dict[str, dict[str, object]] = {}
    timeline: list[dict[str, object]] = []
    for m in todo:
        at = _event_time(m, now)
        camera = cameras[m.camera]
        out.cameras.add(camera.id)
        ev = known.get(m.id)
        if ev is None:
            g = (m.camera, m.zone, m.event)
            cand = groups.get(g)
            window = policy.rule(m.event).merge_window_s
            last = cand["last_event_at"] if cand else None
            if (
                cand is not None
                and window > 0
                and isinstance(last, datetime)
                and abs((at - last).total_seconds()) <= window
            ):
                inc_id = int(cand["id"])  # type: ignore[call-overload]
                timeline.append({"incident_id": inc_id, "at": at, "actor": actor, "action": "event_merged",
                                 "from_state": None, "to_state": None, "reason": "", "team_id": None,
                                 "data": {"event_id": m.id, "label": m.label}})
            else:
                inc_id = _open_core(session, policy, m, camera, actor, at, now, timeline)
                out.new_incidents.append(inc_id)
                cand = {"id": inc_id, "state": "open", "last_event_at": at}
                groups[g] = cand
            if isinstance(cand.get("last_event_at"), datetime) and at > cand["last_event_at"]:  # type: ignore[operator]
                cand["last_event_at"] = at
            t = touched.setdefault(inc_id, {"count": 0, "last": at})
            t["count"] = int(t["count"]) + 1  # type: ignore[call-overload]
            new_events.append({"id": m.id, "camera_id": camera.id, "zone": m.zone, "event_type": m.event,
                               "rule": m.rule, "label": m.label, "track_id": m.track_id,
                               "first_seen_s": m.first_seen_s, "start_s": m.start_s, "end_s": m.end_s,
                               "max_score": m.max_score, "bbox": list(m.bbox), "count": m.count,
                               "lifecycle": m.lifecycle, "last_seq": m.seq, "wall_time": m.wall_time,
                               "incident_id": inc_id, "created_at": now, "updated_at": now})
            known[m.id] = {"incident_id": inc_id, "last_seq": m.seq, "max_score": m.max_score,
                           "new": new_events[-1]}
        else:
            # inserted by this batch: edit it before the insert
            erow: dict[str, object] | None = ev.get("new")
            if erow is None:
                erow = ev_updates.setdefault(m.id, {
                    "b_id": m.id, "lifecycle": None, "last_seq": ev["last_seq"], "end_s": None, "count": None,
                    "wall_time": None, "max_score": ev["max_score"], "updated_at": now})
            if m.seq >= cast(int, erow["last_seq"]):
                erow.update(lifecycle=m.lifecycle, last_seq=m.seq, end_s=m.end_s, count=m.count,
                            wall_time=m.wall_time)
            erow["max_score"] = max(cast(float, erow["max_score"]), m.max_score)
            inc_id = ev["incident_id"]
            if inc_id is not None:
                t = touched.setdefault(inc_id, {"count": 0, "last": at})
                if at > t["last"]:  # type: ignore[operator]
                    t["last"] = at
    # rows in id order: two writers (another merge key's ingest, a dispatch) never lock them crosswise
    ev_updates = dict(sorted(ev_updates.items()))
    upd = [r for r in ev_updates.values() if r.get("lifecycle") is not None]
    late = [{"b_id": r["b_id"], "max_score": r["max_score"], "updated_at": now}   # only older steps came late
            for r in ev_updates.values() if r.get("lifecycle") is None]
    counts = [{"b_id": i, "n": t["count"], "now": now, "last": t["last"]} for i, t in sorted(touched.items())]
    with sql.pipelined(conn):   # the writes, none read back: one round trip on PostgreSQL
        for stmt, rows in ((sql.INSERT_EVENTS, new_events), (sql.UPDATE_EVENTS, upd),
                           (sql.UPDATE_LATE_EVENTS, late), (sql.INSERT_TIMELINE, timeline),
                           (sql.UPDATE_INCIDENTS, counts)):
            if rows:
                conn.execute(stmt, rows)
    out.incidents = sorted(touched)
    out.new_event_ids = [str(e["id"]) for e in new_events]
    out.incident_of = {m.id: inc for m in todo
                       if (k := known.get(m.id)) is not None and (inc := k["incident_id"]) is not None}
    return out


def _open_core(session: Session, policy: Policy, m: EventMessage, camera: CameraInfo, actor: str,
               at: datetime, now: datetime, timeline: list[dict[str, object]]) -> int:
    what = f"{m.label} ({m.rule or 'rule'}) in zone {m.zone}"
    return _open(
        session,
        policy,
        title=f"{m.event} @ {camera.name or camera.id} / {m.zone}",
        description=what,
        event_type=m.event,
        category=None,
        severity=None,
        source="camera",
        camera=camera,
        zone=m.zone,
        place=camera.place,
        actor=actor,
        at=at,
        now=now,
        last_event_at=at,
        timeline=timeline,
    )


def _open(session: Session, policy: Policy, *, title: str, description: str, event_type: str,
          category: str | None, severity: int | None, source: str, camera: Camera | CameraInfo | None,
          zone: str | None, place: str | None, actor: str, at: datetime, now: datetime,
          last_event_at: datetime | None, timeline: list[dict[str, object]]) -> int:
    """The one way an incident is opened: one insert, and its "opened" timeline row appended to `timeline`."""
    rule = policy.rule(event_type, category)
    deadline = rule.deadline(at)
    sev = severity or rule.severity
    inc_id = session.connection().execute(sql.OPEN_INCIDENT, {
        "title": title, "description": description, "category": rule.category, "severity": sev,
        "state": "open", "source": source, "camera_id": camera.id if camera else None, "zone": zone,
        "event_type": event_type, "place": place, "team_id": None, "escalation_level": 0,
        "excluded_teams": [], "event_count": 0, "created_by": actor, "created_at": at, "updated_at": now,
        "deadline_at": deadline, "last_event_at": last_event_at,
    }).scalar_one()
    timeline.append({"incident_id": inc_id, "at": at, "actor": actor, "action": "opened", "from_state": None,
                     "to_state": "open", "reason": description, "team_id": None,
                     "data": {"category": rule.category, "severity": sev,
                              "deadline_at": deadline.isoformat()}})
    return int(inc_id)
