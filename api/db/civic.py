"""Tables of residents' reports, departments and their calls (吹哨报到), and notifications: on the one Base of
api/db/models.py, in their own file to keep each under the size limit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db.models import Base, utcnow


class Body(Base):
    """Who can be called (吹哨) and must report (报到): a grid's worker (网格员), the community office, a
    department (物业, 城管, 园林, 应急, 公安, 消防, 供水 ...). Its members are users with its body_id."""

    __tablename__ = "bodies"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(50), unique=True)     # e.g. chengguan, office, grid:W
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))                 # grid | office | department
    grid: Mapped[str | None] = mapped_column(String(100))         # kind grid: the site's grid id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Call(Base):
    """A body called to an incident: called -> acknowledged (报到) -> answered in writing, or transferred
    (转办) to another body with a reason (the new body gets a new call)."""

    __tablename__ = "calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), index=True)
    rung: Mapped[str] = mapped_column(String(20))                  # grid | office | department | transfer
    state: Mapped[str] = mapped_column(String(20), default="called")
    reason: Mapped[str] = mapped_column(Text, default="")
    called_by: Mapped[str] = mapped_column(String(100))
    called_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    answered_at: Mapped[datetime | None] = mapped_column()
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answer: Mapped[str] = mapped_column(Text, default="")
    transferred_to: Mapped[int | None] = mapped_column()          # the call made by the transfer


class Report(Base):
    """A resident's report (群众点单) from the public page; it opened incident `incident_id`."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)   # the tracking code the resident keeps
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    category: Mapped[str] = mapped_column(String(50))
    place: Mapped[str | None] = mapped_column(String(100))
    building: Mapped[str] = mapped_column(String(50), default="")
    unit: Mapped[str] = mapped_column(String(50), default="")
    text: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20))
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    addr_hash: Mapped[str] = mapped_column(String(64), index=True)
    spam: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Rating(Base):
    """A resident's rating of a resolved report: satisfied (满意), basic (基本满意), dissatisfied (不满意)."""

    __tablename__ = "ratings"
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    rating: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(Base):
    """Who hears of incident steps, and where: a 企业微信 or 钉钉 group robot, a signed webhook, SMS."""

    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))      # wecom | dingtalk | webhook | sms
    target: Mapped[str] = mapped_column(String(500))      # robot / webhook URL, or a phone number
    secret: Mapped[str] = mapped_column(String(200), default="")
    scope: Mapped[str] = mapped_column(String(20), default="all")   # all|team|body|grid|role|category
    scope_value: Mapped[str] = mapped_column(String(100), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxItem(Base):
    """One notification of one incident step to one subscription; the unique key keeps it to one."""

    __tablename__ = "notify_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    timeline_id: Mapped[int] = mapped_column()
    incident_id: Mapped[int] = mapped_column(index=True)
    payload: Mapped[dict[str, Any]] = mapped_column()
    state: Mapped[str] = mapped_column(String(10), default="pending")   # pending | sent | dead
    attempts: Mapped[int] = mapped_column(default=0)
    next_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    __table_args__ = (UniqueConstraint("subscription_id", "timeline_id", name="uq_outbox_sub_step"),)


class NotifyCursor(Base):
    """The last timeline entry the notifier turned into outbox items."""

    __tablename__ = "notify_cursor"
    id: Mapped[int] = mapped_column(primary_key=True)
    timeline_id: Mapped[int] = mapped_column(default=0)
