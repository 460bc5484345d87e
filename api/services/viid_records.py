"""Structured records -> stored captures, events and incidents (docs/gat1400.md, "Records into rules").

A record is a capture, not a track. Each is stored once (idempotent on its kind and object id), its images
become media, and its camera's rules judge it against the captures before it:
- a rule without `min_seconds` raises an event for a capture of its objects; captures of one object (same
  plate, or any capture without one) within `dedup_s` of the last are the same event, not a new one;
- a rule with `min_seconds` follows a plate across captures: a stay (captures at most `gap_s` apart) as long
  as `min_seconds` raises one event.
Events go through the one ingest path (`api.services.ingest`), so incidents open, merge and dispatch as for
a worker's events; the records' images become the event's snapshots.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.db.models import Event, Incident, Media, ViidRecord
from api.errors import DomainError
from api.services.viid import Viid, worker_name
from api.services.viid_config import ViidRule
from api.services.viid_objects import ObjectError, Record
from vision.events import EventMessage

HISTORY = timedelta(hours=12)      # captures looked back at for a stay or a repeat
PRUNE_BATCH = 1000
WALL_CLOCK_SLACK = timedelta(hours=24)


@dataclass
class Answer:
    object_id: str
    code: int          # the standard's StatusCode: 0 OK
    text: str


class RuleEntry(TypedDict):
    """What one rule made of a capture: its event (None: none yet) and since when the object is there."""

    rule: int
    event: str | None
    since: str


@dataclass
class _Seen:
    """A capture as the rules remember it: stored before, or earlier in this request."""

    camera: str | None
    shot_at: datetime
    plate: str | None
    rules: dict[int, RuleEntry] = field(default_factory=dict)


def _event_id(*parts: object) -> str:
    return "viid-" + hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()[:24]


def check_images(viid: Viid, records: list[Record]) -> dict[int, ObjectError]:
    """Images that are not JPEG/PNG/WebP within the photo limit, by record index (nothing is stored)."""
    bad: dict[int, ObjectError] = {}
    limit = viid.host.settings.max_photo_bytes
    for i, r in enumerate(records):
        for j, img in enumerate(r.images):
            try:
                viid.host.media.check_image(img.data, limit)
            except DomainError as exc:
                bad[i] = ObjectError(f"SubImageList.SubImageInfoObject[{j}].Data: {exc}")
                break
    return bad


def camera_of(viid: Viid, record: Record, sender: str) -> str | None:
    """The record's camera: its APE's (when the sender is that camera's device), else the sender's when the
    sender feeds exactly one camera and the record names the sender itself."""
    cam = viid.config.by_ape.get(record.device_id)
    if cam is not None and viid.config.device_of(cam) != sender:
        return None     # another device's camera: one device may not raise events for another's cameras
    if cam is None:
        mine = viid.config.by_device.get(sender, [])
        cam = mine[0] if len(mine) == 1 and record.device_id == sender else None
    return cam


def _judge(rule: ViidRule, index: int, r: Record, camera: str, before: list[_Seen],
           now: datetime) -> tuple[RuleEntry, EventMessage | None]:
    """This rule's entry for the capture, and the event it opens (None: a repeat, or a stay too short)."""
    prev = next((p for p in reversed(before)
                 if p.camera == camera and index in p.rules and p.plate == r.plate), None)
    window = rule.gap_s if rule.min_seconds > 0 else rule.dedup_s
    if prev is not None and abs((r.shot_at - prev.shot_at).total_seconds()) <= window:
        since = datetime.fromisoformat(prev.rules[index]["since"])
        event = prev.rules[index]["event"]
    else:
        since, event = r.shot_at, None
    entry: RuleEntry = {"event": event, "since": since.isoformat(), "rule": index}
    if event is not None:
        return entry, None
    stayed = (r.shot_at - since).total_seconds()
    if rule.min_seconds > 0:
        if r.plate is None or stayed < rule.min_seconds:
            return entry, None
        event = _event_id(camera, index, r.plate, since.isoformat())
    else:
        event = _event_id(camera, index, r.kind, r.object_id)
    entry["event"] = event
    wall = r.shot_at if abs(now - r.shot_at) <= WALL_CLOCK_SLACK else now   # a device clock far off: ours
    msg = EventMessage(id=event, lifecycle="new", seq=0, camera=camera, zone=rule.zone, event=rule.event,
                       rule="dwell" if rule.min_seconds > 0 else "record", label=r.kind, track_id=None,
                       first_seen_s=0.0, start_s=max(stayed, 0.0), max_score=1.0, bbox=r.bbox,
                       wall_time=wall.timestamp())
    return entry, msg


def store(viid: Viid, records: list[Record], sender: str) -> list[Answer]:
    """Store the records (every one already checked), run the rules, open incidents; an answer per record."""
    host = viid.host
    now = datetime.now(UTC)
    with viid.lock:
        with host.sessions() as s:
            have = set(s.scalars(select(ViidRecord.object_id).where(
                ViidRecord.kind == (records[0].kind if records else ""),
                ViidRecord.object_id.in_([r.object_id for r in records]))))
        todo = sorted((r for r in records if r.object_id not in have), key=lambda r: r.shot_at)
        cams = {r.object_id: camera_of(viid, r, sender) for r in todo}
        before: list[_Seen] = []
        wanted = {c for c in cams.values() if c}
        if todo and wanted:
            with host.sessions() as s:
                rows = s.execute(select(ViidRecord.camera_id, ViidRecord.shot_at, ViidRecord.plate,
                                        ViidRecord.event_ids)
                                 .where(ViidRecord.camera_id.in_(wanted),
                                        ViidRecord.shot_at >= todo[0].shot_at - HISTORY)
                                 .order_by(ViidRecord.shot_at))
                before = [_Seen(c, t, p, {int(e["rule"]): RuleEntry(rule=int(e["rule"]), event=e.get("event"),
                                                                      since=str(e["since"]))
                                          for e in ev if isinstance(e, dict)})
                          for c, t, p, ev in rows]
        entries: dict[str, list[RuleEntry]] = {}
        messages: list[EventMessage] = []
        for r in todo:
            cam = cams[r.object_id]
            seen = _Seen(cam, r.shot_at, r.plate)
            if cam is not None:
                for i, rule in enumerate(viid.config.rules(cam)):
                    if r.kind in rule.objects:
                        entry, msg = _judge(rule, i, r, cam, before, now)
                        seen.rules[i] = entry
                        if msg is not None:
                            messages.append(msg)
            entries[r.object_id] = list(seen.rules.values())
            before.append(seen)
        if messages:   # the one ingest path: idempotent on (event id, seq), so a resent list changes nothing
            host.ingest.store_one(messages, worker_name(sender))
        answers = _save(viid, todo, cams, entries, sender)
    done = {a.object_id: a for a in answers}
    return [done.get(r.object_id) or Answer(r.object_id, 0, "OK: already stored (a repeat of this object)")
            for r in records]


def _save(viid: Viid, todo: list[Record], cams: dict[str, str | None],
          entries: dict[str, list[RuleEntry]], sender: str) -> list[Answer]:
    """Records and their images in one transaction, after their events: a crash before the commit leaves
    nothing that a resend would not redo."""
    host = viid.host
    written: list[str] = []
    answers: list[Answer] = []
    with host.sessions() as s:
        events = {e for es in entries.values() for x in es if (e := x["event"])}
        incident_of = {eid: inc for eid, inc in s.execute(
            select(Event.id, Event.incident_id).where(Event.id.in_(events)))} if events else {}
        touched: set[int] = set()
        for r in todo:
            first_event = next((x["event"] for x in entries[r.object_id] if x["event"]), None)
            inc = incident_of.get(first_event) if first_event else None
            media_ids: list[int] = []
            for img in r.images:
                ctype, ext = host.media.check_image(img.data, host.settings.max_photo_bytes)
                sha = hashlib.sha256(img.data).hexdigest()
                dup = s.scalars(select(Media).where(Media.event_id == first_event, Media.kind == "snapshot",
                                                    Media.sha256 == sha)).first() if first_event else None
                if dup is not None:
                    media_ids.append(dup.id)
                    continue
                rel, sha = host.media.save("snapshot", img.data, ext)
                written.append(rel)
                m = Media(kind="snapshot", incident_id=inc, event_id=first_event, path=rel,
                          content_type=ctype, size=len(img.data), sha256=sha,
                          uploaded_by=worker_name(sender)[:100])
                s.add(m)
                s.flush()
                media_ids.append(m.id)
            if inc is not None:
                touched.add(inc)
            s.add(ViidRecord(kind=r.kind, object_id=r.object_id, device_id=r.device_id, sender=sender,
                             camera_id=cams[r.object_id], shot_at=r.shot_at, plate=r.plate,
                             event_ids=entries[r.object_id], media_ids=media_ids, data=r.data))
            cam = cams[r.object_id]
            fired = sorted({e for x in entries[r.object_id] if (e := x["event"])})
            text = (f"OK: stored, camera {cam}" if cam else
                    f"OK: stored; device {r.device_id} is mapped to no camera (no rules ran)")
            answers.append(Answer(r.object_id, 0, text + (f", event {', '.join(fired)}" if fired else "")))
        try:
            s.commit()
        except IntegrityError:    # the same list posted twice at once: the other request stored it
            s.rollback()
            for rel in written:
                host.media.delete(rel)
            return [Answer(r.object_id, 0, "OK: already stored (a repeat of this object)") for r in todo]
        if touched:    # the pages fetch the incidents again, now with their snapshots
            host.notify.incidents(s, list(s.scalars(select(Incident).where(Incident.id.in_(touched)))))
    return answers


def prune(viid: Viid, now: datetime | None = None) -> int:
    """Forget records older than `keep_days` (a batch at a time) and their images that no event took;
    an incident's snapshots stay with the incident. Returns how many records went."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=viid.config.section.keep_days)
    host = viid.host
    with host.sessions() as s:
        old = list(s.scalars(select(ViidRecord).where(ViidRecord.received_at < cutoff).limit(PRUNE_BATCH)))
        ids = [int(m) for r in old for m in r.media_ids]
        loose = list(s.scalars(select(Media).where(Media.id.in_(ids), Media.event_id.is_(None)))) if ids \
            else []
        paths = [m.path for m in loose]
        for row in [*loose, *old]:
            s.delete(row)
        s.commit()
    for rel in paths:       # after the commit: a file is never missing for a row that stays
        host.media.delete(rel)
    return len(old)
