"""Rule actions (docs/config.md `actions:`, docs/sensors.md "Elevator interlock"): what the api does when a
camera rule with actions fires, once per event, each logged in the incident's timeline.

The actions come with the camera's registration (its zones and rules, as the worker read them from the
config). `on_new_events` runs after ingest stored events for the first time: each action of the event's rule
is recorded in `fired_actions` (unique per event and action, so a resent step or a second replica fires
nothing more) and sent: an `elevator_hold` is the MQTT message `<prefix>/elevator/<id>/hold`. Without a
broker the timeline says it could not be sent. The controller's acknowledgement
(`<prefix>/elevator/<id>/ack`) is noted in the timeline too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from api.db.models import Camera, Event, Incident, utcnow
from api.db.sensor_models import FiredAction
from api.errors import Invalid, NotFound
from api.services.incidents import record
from api.services.ports import Services
from vision.events import EventMessage

log = logging.getLogger(__name__)


def rule_actions(zones: dict[str, object], zone: str, event: str, kind: str) -> list[dict[str, object]]:
    """The actions of the rule of `zone` that raises `event` (of rule kind `kind`, when given)."""
    z = zones.get(zone)
    rules = z.get("rules", []) if isinstance(z, dict) else []
    for r in rules if isinstance(rules, list) else []:
        if isinstance(r, dict) and r.get("event") == event and (not kind or r.get("kind") == kind):
            acts = r.get("actions") or []
            return [a for a in acts if isinstance(a, dict)] if isinstance(acts, list) else []
    return []


def zones_have_actions(zones: object) -> bool:
    """Whether any rule of these zones has actions (a camera without any needs no look-up per event)."""
    if not isinstance(zones, dict):
        return False
    for z in zones.values():
        rules = z.get("rules") if isinstance(z, dict) else None
        if isinstance(rules, list) and any(isinstance(r, dict) and r.get("actions") for r in rules):
            return True
    return False


def hold_payload(action_id: int, m: EventMessage, act: dict[str, object], at: str) -> dict[str, object]:
    """The documented `hold` command (docs/sensors.md)."""
    return {"command": "hold", "action_id": action_id, "elevator": act["elevator"],
            "hold_s": act.get("hold_s", 60.0), "say": act.get("say", ""), "event_id": m.id,
            "event": m.event, "camera": m.camera, "zone": m.zone, "label": m.label, "at": at}


class Actions:
    def __init__(self, ctx: Services) -> None:
        self.ctx = ctx

    def on_new_events(self, messages: Sequence[EventMessage], new_ids: Sequence[str],
                      incident_of: dict[str, int]) -> int:
        """Fire the actions of events stored for the first time; returns how many were fired."""
        fresh = set(new_ids)
        todo = {m.id: m for m in messages if m.id in fresh}
        if not todo:
            return 0
        fired = 0
        with self.ctx.sessions() as s:
            cams = {c.id: c.zones or {} for c in s.scalars(
                select(Camera).where(Camera.id.in_({m.camera for m in todo.values()})))}
            insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
            for m in todo.values():
                acts = rule_actions(cams.get(m.camera, {}), m.zone, m.event, m.rule)
                inc = None
                for i, act in enumerate(acts):
                    if act.get("kind") != "elevator_hold" or not act.get("elevator"):
                        continue
                    if inc is None and m.id in incident_of:
                        inc = s.get(Incident, incident_of[m.id])
                    topic = f"elevator/{act['elevator']}/hold"
                    row = s.execute(insert(FiredAction).values(
                        event_id=m.id, index=i, kind=str(act["kind"]), target=topic, payload={}, at=utcnow())
                        .on_conflict_do_nothing(index_elements=["event_id", "index"])
                        .returning(FiredAction.id)).first()
                    if row is None:
                        continue    # fired before: once per event
                    payload = hold_payload(int(row[0]), m, act, utcnow().isoformat())
                    s.get_one(FiredAction, int(row[0])).payload = payload
                    sent = self.ctx.wants(topic)
                    if inc is not None:
                        record(s, inc, "system", "action_fired",
                               f"{act['kind']} -> {topic}" + ("" if sent else
                                                             ": not sent, no MQTT broker configured"),
                               data={**payload, "sent": sent})
                    s.commit()
                    if sent:
                        self.ctx.publish(topic, payload)
                    fired += 1
                    log.info("action %s fired for event %s (sent: %s)", topic, m.id, sent)
        return fired

    def ack(self, elevator: str, body: bytes | str | dict[str, object]) -> int:
        """A controller's acknowledgement `{"action_id": N, "status": "holding"}`: noted once."""
        try:
            data = body if isinstance(body, dict) else json.loads(body)
            raw = data.get("action_id") if isinstance(data, dict) else None
            action_id = int(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else None
        except (ValueError, KeyError, TypeError):
            action_id = None
        if action_id is None or not isinstance(data, dict):
            log.warning("elevator %r: malformed acknowledgement refused", elevator[:100])
            raise Invalid("acknowledgement needs a JSON object with an integer action_id")
        status = str(data.get("status", "ok"))[:50]
        with self.ctx.sessions() as s:
            fa = s.get(FiredAction, action_id)
            if fa is None or fa.target != f"elevator/{elevator}/hold":
                log.warning("elevator %r acknowledged unknown action %s", elevator[:100], action_id)
                raise NotFound(f"no action {action_id} for elevator {elevator!r}")
            if fa.acked_at is not None:
                return action_id
            fa.acked_at = utcnow()
            inc_id = s.scalar(select(Event.incident_id).where(Event.id == fa.event_id))
            inc = s.get(Incident, inc_id) if inc_id is not None else None
            if inc is not None:
                record(s, inc, f"elevator:{elevator}", "action_acked", f"elevator {elevator}: {status}",
                       data={"action_id": action_id, "status": status})
            s.commit()
        return action_id
