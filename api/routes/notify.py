"""Notification subscriptions (企业微信, 钉钉, signed webhook, SMS) and the outbox's dead letters (admin)."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field, model_validator
from sqlalchemy import select

from api.db.civic import OutboxItem, Subscription
from api.deps import Admin, CtxDep, SessionDep
from api.errors import NotFound
from api.schemas import In, Out
from api.services import outbox
from api.services.channels import webhook_key
from api.views import ERRORS

router = APIRouter(prefix="/api", tags=["notifications"], responses=ERRORS)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


class SubscriptionIn(In):
    name: str = Field(min_length=1, max_length=100)
    channel: Literal["wecom", "dingtalk", "webhook", "sms"]
    target: str = Field(min_length=1, max_length=500,
                        description="Robot or webhook URL (http/https); for sms a phone number")
    secret: str = Field(default="", max_length=200, description="钉钉: the robot's SEC... secret; webhook: "
                        "whsec_<base64> (made for you when empty)")
    scope: Literal["all", "team", "body", "grid", "category", "role"] = "all"
    scope_value: str = Field(default="", max_length=100,
                             description="team id, body key, grid id, category or role, by scope")

    @model_validator(mode="after")
    def _target(self) -> SubscriptionIn:
        if self.channel == "sms":
            if not self.target.replace("-", "").replace("+", "").isdigit():
                raise ValueError("target: an SMS subscription needs a phone number")
        elif not self.target.startswith(("http://", "https://")):
            raise ValueError(f"target: a {self.channel} subscription needs its http(s) URL")
        if self.scope != "all" and not self.scope_value:
            raise ValueError(f"scope_value: scope '{self.scope}' needs a value")
        return self


class SubscriptionOut(Out):
    id: int
    name: str
    channel: str
    target: str
    scope: str
    scope_value: str
    active: bool
    secret: str | None = Field(default=None, description="Shown once, when a webhook secret was made")


class OutboxOut(Out):
    id: int
    subscription_id: int
    timeline_id: int
    incident_id: int
    state: str
    attempts: int
    next_at: datetime
    last_error: str
    created_at: datetime
    sent_at: datetime | None


@router.get("/subscriptions", response_model=list[SubscriptionOut], summary="Notification subscriptions")
def list_subscriptions(_: Admin, session: SessionDep) -> list[SubscriptionOut]:
    return [SubscriptionOut.model_validate(s) for s in session.scalars(select(Subscription)
                                                                      .order_by(Subscription.id))]


@router.post("/subscriptions", response_model=SubscriptionOut, status_code=201,
             summary="Subscribe a 企业微信/钉钉 robot, a signed webhook or a phone (SMS) to incident steps")
def create_subscription(body: SubscriptionIn, admin: Admin, ctx: CtxDep,
                        session: SessionDep) -> SubscriptionOut:
    secret, made = body.secret, None
    if body.channel == "webhook":
        if not secret:
            secret = made = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        webhook_key(secret)
    row = Subscription(name=body.name, channel=body.channel, target=body.target, secret=secret,
                       scope=body.scope, scope_value=body.scope_value)
    session.add(row)
    session.commit()
    ctx.audit(admin.name, "subscription_created", body.name, f"{body.channel} {body.scope}")
    return SubscriptionOut.model_validate(row).model_copy(update={"secret": made})


@router.delete("/subscriptions/{sub_id}", response_model=SubscriptionOut, summary="Stop a subscription")
def stop_subscription(sub_id: Id, admin: Admin, session: SessionDep) -> SubscriptionOut:
    row = session.get(Subscription, sub_id)
    if row is None:
        raise NotFound(f"no subscription {sub_id}")
    row.active = False
    session.commit()
    return SubscriptionOut.model_validate(row)


@router.get("/notifications", response_model=list[OutboxOut],
            summary="The outbox, newest first; state=dead is the dead-letter list")
def list_notifications(_: Admin, session: SessionDep,
                       state: Annotated[Literal["pending", "sent", "dead"] | None, Query()] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[OutboxOut]:
    q = select(OutboxItem)
    if state is not None:
        q = q.where(OutboxItem.state == state)
    rows = session.scalars(q.order_by(OutboxItem.id.desc()).limit(limit))
    return [OutboxOut.model_validate(i) for i in rows]


@router.post("/notifications/{item_id}/resend", response_model=OutboxOut,
             summary="Send a dead notification again (it goes back to the queue, due now)")
def resend(item_id: Id, admin: Admin, ctx: CtxDep, session: SessionDep) -> OutboxOut:
    item = session.get(OutboxItem, item_id)
    if item is None:
        raise NotFound(f"no notification {item_id}")
    outbox.resend(session, item)
    session.commit()
    ctx.audit(admin.name, "notification_resent", str(item_id))
    return OutboxOut.model_validate(item)
