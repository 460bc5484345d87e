"""Numbers for the day: open, at risk, response time, resolved in time, false alarms."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from sqlalchemy import select

from api.db.models import Incident
from api.deps import Operator, SessionDep
from api.schemas import StatsOut
from api.services.lifecycle import ACTIVE
from api.views import ERRORS

router = APIRouter(prefix="/api/stats", tags=["stats"], responses=ERRORS)


@router.get("/today", response_model=StatsOut,
            summary="Today's figures for the control room (same as /summary)")
@router.get("/summary", response_model=StatsOut, summary="Today's figures for the control room")
def summary(_: Operator, session: SessionDep) -> StatsOut:
    now = datetime.now(UTC)
    since = now - timedelta(hours=24)
    active = session.scalars(select(Incident).where(Incident.state.in_(ACTIVE))).all()
    today = session.scalars(select(Incident).where(Incident.created_at >= since)).all()
    at_risk = overdue = 0
    for inc in active:
        if inc.deadline_at <= now:
            overdue += 1
        elif (now - inc.created_at) >= 0.8 * (inc.deadline_at - inc.created_at):
            at_risk += 1
    responses = [
        (i.on_site_at - i.dispatched_at).total_seconds() for i in today if i.on_site_at and i.dispatched_at
    ]
    resolved = [i for i in today if i.resolved_at is not None]
    in_time = [i for i in resolved if i.resolved_at is not None and i.resolved_at <= i.deadline_at]
    false_alarms = sum(1 for i in today if i.state == "false_alarm")
    return StatsOut(
        open=len(active),
        at_risk=at_risk,
        overdue=overdue,
        today_created=len(today),
        today_resolved=len(resolved),
        median_response_s=statistics.median(responses) if responses else None,
        resolved_in_time=len(in_time) / len(resolved) if resolved else None,
        false_alarm_rate=false_alarms / len(today) if today else None,
        by_category=dict(Counter(i.category for i in active)),
        by_state=dict(Counter(i.state for i in today)),
    )
