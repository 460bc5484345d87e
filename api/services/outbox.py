"""Notifications of incident steps: subscriptions, a durable outbox, retries with backoff, a dead-letter list.

The notifier follows the timeline: each new entry that is a step worth telling (NOTIFY_STEPS) becomes one
outbox row per matching subscription; the unique (subscription, timeline entry) key keeps it to one, whoever
runs the job and however often. Rows are sent in order per subscription; a failure waits
backoff * 2^(attempts-1) (capped at an hour) and blocks that subscription's later rows, so a receiver sees the
steps in order; after `max_attempts` the row is dead: admins see it and may resend it. A message keeps its id
across retries (webhook-id), so a receiver that took it but whose answer was lost can drop the repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from api.db.civic import NotifyCursor, OutboxItem, Subscription
from api.db.models import Incident, TimelineEntry, utcnow
from api.services.channels import Channel, DeliveryError, Message
from api.services.policy import Policy

log = logging.getLogger(__name__)
STEP_NAMES = {"opened": "新事件", "dispatch": "已派单", "override": "已改派", "accept": "已接单",
              "decline": "已拒单", "arrive": "已到场", "resolve": "已办结", "close": "已结案",
              "escalate": "已升级（吹哨）", "false_alarm": "误报", "reopen": "重新办理",
              "dissatisfied": "群众不满意，重新办理", "call": "吹哨", "call_ack": "报到",
              "call_answer": "答复", "call_transfer": "转办", "call_overdue": "报到超时", "rated": "群众评价"}
NOTIFY_STEPS = frozenset(STEP_NAMES)   # the steps worth telling (not notes, photos, points, merged events)
SCOPES = ("all", "team", "body", "grid", "category", "role")
MAX_BACKOFF_S = 3600.0


@dataclass(frozen=True)
class OutboxSettings:
    backoff_s: float
    max_attempts: int


def _matches(sub: Subscription, inc: Incident, entry: TimelineEntry, grid: str | None) -> bool:
    v = sub.scope_value
    if sub.scope == "all":
        return True
    if sub.scope == "team":
        return str(inc.team_id or entry.team_id or "") == v
    if sub.scope == "grid":
        return grid == v
    if sub.scope == "category":
        return inc.category == v
    if sub.scope == "body":   # the steps of calls to that body (吹哨报到)
        data = entry.data or {}
        return v in (data.get("body"), data.get("to"), data.get("from"))
    if sub.scope == "role":   # department / grid: the calls to such bodies; operator / leader: every step
        return entry.action.startswith("call") if v in ("department", "grid") else True
    return False


def message(entry: TimelineEntry, inc: Incident, policy: Policy, place_name: str | None,
            outbox_id: int) -> Message:
    cat = policy.patrol.categories.get(inc.category)
    step = STEP_NAMES.get(entry.action, entry.action)
    title = f"#{inc.id} {(cat.name if cat else None) or inc.category} · {step}"
    lines = [f"> 事项：{inc.title}", f"> 地点：{place_name or inc.place or '—'}",
             f"> 状态：{entry.to_state or inc.state}", f"> 时间：{entry.at.isoformat(timespec='seconds')}"]
    data = dict(entry.data or {})
    if data.get("body_name"):
        lines.append(f"> 单位：{data['body_name']}")
    if entry.action in ("call_answer", "call_transfer", "decline", "false_alarm", "reopen", "dissatisfied"):
        lines.append(f"> 说明：{entry.reason}")
    payload: dict[str, object] = {"incident_id": inc.id, "step": entry.action, "step_id": entry.id,
                                  "state": entry.to_state or inc.state, "category": inc.category,
                                  "title": inc.title, "place": inc.place, "at": entry.at.isoformat(),
                                  "source": inc.source}
    return Message(id=f"msg_sharpeyes_{outbox_id}", title=title, text="\n".join(lines), data=payload)


class Outbox:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy, channels: dict[str, Channel],
                 settings: OutboxSettings, grid_of: Callable[[str | None], str | None],
                 place_name: Callable[[str | None], str | None]) -> None:
        self.sessions, self.policy, self.channels, self.settings = sessions, policy, channels, settings
        self.grid_of, self.place_name = grid_of, place_name

    def enqueue(self) -> int:
        """Turn new timeline entries into outbox rows; returns how many rows were added."""
        with self.sessions() as s:
            cur = s.get(NotifyCursor, 1)
            if cur is None:   # first run: from now on, not the history
                cur = NotifyCursor(id=1, timeline_id=s.scalar(select(func.max(TimelineEntry.id))) or 0)
                s.add(cur)
                s.commit()
                return 0
            # ids and actions first: most entries (merged events during ingest) are no step worth telling,
            # and with no subscription none is, so whole rows are read only for the ones that may be sent
            heads = s.execute(select(TimelineEntry.id, TimelineEntry.action)
                              .where(TimelineEntry.id > cur.timeline_id)
                              .order_by(TimelineEntry.id).limit(500)).all()
            if not heads:
                return 0
            subs = list(s.scalars(select(Subscription).where(Subscription.active.is_(True))))
            wanted = [i for i, action in heads if action in NOTIFY_STEPS] if subs else []
            entries = list(s.scalars(select(TimelineEntry).where(TimelineEntry.id.in_(wanted))
                                     .order_by(TimelineEntry.id))) if wanted else []
            rows: list[dict[str, object]] = []
            for e in entries:
                inc = s.get(Incident, e.incident_id)
                if inc is None:
                    continue
                grid = self.grid_of(inc.place)
                for sub in subs:
                    if _matches(sub, inc, e, grid):
                        rows.append({"subscription_id": sub.id, "timeline_id": e.id, "incident_id": inc.id,
                                     "payload": {"entry": e.id}, "state": "pending", "attempts": 0,
                                     "next_at": utcnow(), "last_error": "", "created_at": utcnow()})
            if rows:
                ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
                s.execute(ins(OutboxItem).values(rows).on_conflict_do_nothing(
                    index_elements=["subscription_id", "timeline_id"]))
            cur.timeline_id = heads[-1][0]
            s.commit()
            return len(rows)

    def deliver(self, now: datetime | None = None) -> int:
        """Send what is due, oldest first, one at a time per subscription; returns how many were sent."""
        now = now or utcnow()
        sent = 0
        with self.sessions() as s:
            heads = s.execute(select(OutboxItem.subscription_id, func.min(OutboxItem.id))
                              .where(OutboxItem.state == "pending")
                              .group_by(OutboxItem.subscription_id)).all()
            for sub_id, first in heads:
                item_id: int | None = first
                while item_id is not None:
                    item = s.get(OutboxItem, item_id)
                    if item is None or item.next_at > now or not self._send_one(s, item, now):
                        break
                    sent += 1
                    item_id = s.scalar(select(func.min(OutboxItem.id)).where(
                        OutboxItem.subscription_id == sub_id, OutboxItem.state == "pending"))
        return sent

    def _send_one(self, s: Session, item: OutboxItem, now: datetime) -> bool:
        sub = s.get(Subscription, item.subscription_id)
        entry = s.get(TimelineEntry, item.timeline_id)
        inc = s.get(Incident, item.incident_id)
        channel = self.channels.get(sub.channel) if sub is not None else None
        if sub is None or entry is None or inc is None or channel is None or not sub.active:
            item.state, item.last_error = "dead", "subscription, step or channel gone"
            s.commit()
            return False
        try:
            channel.send(sub.target, sub.secret, message(entry, inc, self.policy, self.place_name(inc.place),
                                                         item.id))
        except DeliveryError as exc:
            item.attempts += 1
            item.last_error = str(exc)[:1000]
            if item.attempts >= self.settings.max_attempts:
                item.state = "dead"
                log.warning("notification %s to %s is dead after %d attempts: %s", item.id, sub.name,
                            item.attempts, exc)
            else:
                delay = min(self.settings.backoff_s * 2 ** (item.attempts - 1), MAX_BACKOFF_S)
                item.next_at = now + timedelta(seconds=delay)
            s.commit()
            return False
        item.state, item.sent_at, item.attempts = "sent", utcnow(), item.attempts + 1
        s.commit()
        return True

    def run_once(self, now: datetime | None = None) -> int:
        self.enqueue()
        return self.deliver(now)


def resend(session: Session, item: OutboxItem) -> None:
    """A dead notification goes back to the queue, due now. Caller commits."""
    item.state, item.attempts, item.next_at, item.last_error = "pending", 0, utcnow(), ""
