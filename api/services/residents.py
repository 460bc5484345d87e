"""Residents' reports (群众点单): the public page's report, its tracking code, public status and rating.

Everything a resident sends is checked before anything is written (text, category, place, phone, photos and
the limits per address and per phone), so a refused report stores nothing. A report opens an incident in the
one lifecycle (source "resident"); 不满意 after resolution takes the lifecycle's `dissatisfied` step, which
only the reporting resident (role "resident", holding the code) may take. The public status shows only the
steps meant for the public: never notes, names of operators, teams or the internal reasons.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.civic import Rating, Report
from api.db.models import Incident, Media, TimelineEntry, utcnow
from api.errors import Invalid, NotFound, TooLarge, TooMany, UnsupportedMedia
from api.services import lifecycle
from api.services.incidents import Applied, apply_action, new_incident, record
from api.services.media import MediaStore
from api.services.policy import Policy

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"   # no 0/O, 1/I: read out over the phone
CODE_LENGTH = 8
MAX_PHOTOS = 3
RATINGS = {"satisfied": "满意", "basic": "基本满意", "dissatisfied": "不满意"}
# timeline steps the public sees, and of them only the step and the time; text where it is meant for them
PUBLIC_STEPS = frozenset({"opened", "dispatch", "override", "accept", "arrive", "resolve", "close", "reopen",
                          "dissatisfied", "escalate", "false_alarm", "reply", "rated"})
PUBLIC_TEXT = frozenset({"reply", "rated"})
MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!?]|javascript\s*:|on[a-z]+\s*=", re.IGNORECASE)
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


@dataclass
class NewReport:
    category: str
    text: str
    place: str | None = None
    building: str = ""
    unit: str = ""
    phone: str | None = None
    photos: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class Limits:
    photo_bytes: int
    per_address_per_hour: int
    per_phone_per_day: int


def _hash(secret: str, value: str) -> str:
    return hashlib.sha256(f"{secret}|{value}".encode()).hexdigest()


def plain_text(value: str, what: str, min_len: int, max_len: int) -> str:
    """The text stripped, or Invalid saying what is wrong (length, markup)."""
    text = value.strip()
    if len(text) < min_len:
        raise Invalid(f"{what}: write at least {min_len} characters (请至少写{min_len}个字)")
    if len(text) > max_len:
        raise Invalid(f"{what}: at most {max_len} characters, got {len(text)} (请不超过{max_len}字)")
    if MARKUP.search(text):
        raise Invalid(f"{what}: HTML or script is not accepted; write plain text "
                      "(请只写文字，不要包含网页代码)")
    return text


def check(policy: Policy, places: dict[str, str], media: MediaStore, new: NewReport,
          limits: Limits) -> list[tuple[bytes, str, str]]:
    """Refuse bad input with a clear message; returns the photos as (bytes, content type, extension)."""
    if new.category not in policy.patrol.categories:
        known = ", ".join(sorted(policy.patrol.categories))
        raise Invalid(f"category {new.category!r} unknown: pick one of {known} (请选择类别)")
    new.text = plain_text(new.text, "text", 5, 1000)
    new.building = plain_text(new.building, "building", 0, 50)
    new.unit = plain_text(new.unit, "unit", 0, 50)
    if new.place:
        if new.place not in places:
            raise Invalid(f"place {new.place!r} is not on the site plan: pick one of the list or give the "
                          "building (请从列表选择地点，或填写楼栋)")
    elif not new.building:
        raise Invalid("where: give a place from the list or a building (请选择地点或填写楼栋单元)")
    if new.phone:
        new.phone = new.phone.strip().replace(" ", "")
        if not PHONE.match(new.phone):
            raise Invalid("phone: give an 11-digit mobile number or a landline such as 0531-12345678 "
                          "(手机号格式不对)")
    if len(new.photos) > MAX_PHOTOS:
        raise Invalid(f"at most {MAX_PHOTOS} photos, got {len(new.photos)} (最多{MAX_PHOTOS}张照片)")
    out = []
    for i, data in enumerate(new.photos, 1):
        try:
            ctype, ext = media.check_image(data, limits.photo_bytes)
        except (TooLarge, UnsupportedMedia) as exc:
            # same class (413 / 415), the photo named
            raise type(exc)(f"photo {i}: {exc} (第{i}张照片不可用)") from None
        out.append((data, ctype, ext))
    return out


def check_address(session: Session, secret: str, addr: str, limits: Limits, now: datetime) -> None:
    """TooMany when the address sent its share this hour already (spam-marked reports count too); checked
    first, before any photo is decoded, so a flood costs one count query a request."""
    n = session.scalar(select(func.count(Report.id)).where(Report.addr_hash == _hash(secret, addr),
                                                           Report.created_at > now - timedelta(hours=1)))
    if (n or 0) >= limits.per_address_per_hour:
        raise TooMany(f"{limits.per_address_per_hour} reports an hour from one address at most: try again "
                      "later, or call the community office (提交过于频繁，请稍后再试或致电社区)")


def check_phone(session: Session, secret: str, phone: str | None, limits: Limits, now: datetime) -> None:
    if phone:
        n = session.scalar(select(func.count(Report.id)).where(Report.phone_hash == _hash(secret, phone),
                                                               Report.created_at > now - timedelta(days=1)))
        if (n or 0) >= limits.per_phone_per_day:
            raise TooMany(f"{limits.per_phone_per_day} reports a day from one phone number at most: try "
                          "tomorrow, or call the community office (该号码今日提交已达上限)")


def new_code(session: Session) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.scalar(select(Report.id).where(Report.code == code)) is None:
            return code


def submit(session: Session, policy: Policy, places: dict[str, str], media: MediaStore, new: NewReport,
           addr: str, secret: str, limits: Limits) -> Report:
    """Check everything, then open the incident, store the photos and the report. Caller commits."""
    now = utcnow()
    check_address(session, secret, addr, limits, now)
    photos = check(policy, places, media, new, limits)
    check_phone(session, secret, new.phone, limits, now)
    where = places.get(new.place or "") or " ".join(p for p in (new.building, new.unit) if p)
    name = policy.patrol.categories[new.category].name or new.category
    inc = new_incident(session, policy, title=f"群众点单 · {name} · {where}"[:300],
                       event_type="resident_report", actor="resident", at=now, source="resident",
                       description=new.text, category=new.category, place=new.place)
    report = Report(code=new_code(session), incident_id=inc.id, category=new.category, place=new.place,
                    building=new.building, unit=new.unit, text=new.text, phone=new.phone or None,
                    phone_hash=_hash(secret, new.phone) if new.phone else None, addr_hash=_hash(secret, addr),
                    created_at=now)
    session.add(report)
    session.flush()
    for data, ctype, ext in photos:
        rel, sha = media.save("photo", data, ext)
        session.add(Media(kind="photo", incident_id=inc.id, path=rel, content_type=ctype, size=len(data),
                          sha256=sha, uploaded_by="resident"))
    record(session, inc, "resident", "report", "", data={"report_id": report.id, "photos": len(photos),
                                                         "where": where, "phone": bool(new.phone)})
    return report


def by_code(session: Session, code: str) -> tuple[Report, Incident]:
    report = session.scalar(select(Report).where(Report.code == code.strip().upper()))
    inc = session.get(Incident, report.incident_id) if report is not None else None
    if report is None or inc is None:
        raise NotFound("no report with this code: check the code on your receipt (查询码不存在)")
    return report, inc


def can_rate(session: Session, report: Report, inc: Incident) -> bool:
    """After each resolution the resident may rate once."""
    if inc.state not in ("resolved", "closed") or inc.resolved_at is None:
        return False
    last = session.scalar(select(func.max(Rating.at)).where(Rating.report_id == report.id))
    return last is None or last < inc.resolved_at


def public_status(session: Session, report: Report, inc: Incident) -> dict[str, object]:
    """What the resident may see: the state, the public steps with their times, public replies, ratings."""
    steps = []
    for t in session.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == inc.id,
                                                         TimelineEntry.action.in_(PUBLIC_STEPS))
                             .order_by(TimelineEntry.id)):
        item: dict[str, object] = {"at": t.at.isoformat(), "step": t.action, "state": t.to_state}
        if t.action in PUBLIC_TEXT:
            item["text"] = t.reason
        if t.action == "rated":
            item["rating"] = t.data.get("rating")
        steps.append(item)
    last = session.scalar(select(Rating).where(Rating.report_id == report.id).order_by(Rating.id.desc()))
    return {"code": report.code, "state": inc.state, "category": report.category,
            "category_name": None, "created_at": report.created_at.isoformat(), "text": report.text,
            "deadline_at": inc.deadline_at.isoformat(), "timeline": steps,
            "can_rate": can_rate(session, report, inc),
            "rating": None if last is None else {"rating": last.rating, "comment": last.comment,
                                                 "at": last.at.isoformat()}}


def rate(session: Session, report: Report, inc: Incident, rating: str, comment: str) -> Applied | None:
    """Store the rating; 不满意 reopens the matter through the lifecycle. Caller commits."""
    if rating not in RATINGS:
        raise Invalid(f"rating must be one of {', '.join(RATINGS)} (满意 / 基本满意 / 不满意)")
    comment = plain_text(comment, "comment", 0, 500)
    if not can_rate(session, report, inc):
        raise lifecycle.NotAllowed("this report cannot be rated now: it is rated once after each resolution "
                                   "(办结后才能评价，每次办结评价一次)")
    if rating == "dissatisfied" and not comment:
        raise Invalid("不满意: say what is still wrong in 'comment', so it can be handled again (请写明原因)")
    session.add(Rating(report_id=report.id, incident_id=inc.id, rating=rating, comment=comment))
    record(session, inc, "resident", "rated", comment, data={"rating": rating})
    if rating == "dissatisfied":
        return apply_action(session, inc, "dissatisfied", "resident", "resident",
                            f"群众不满意: {comment}")
    return None


def mark_spam(session: Session, report: Report, inc: Incident, actor: str, role: str, reason: str) -> None:
    """The operator says the report is spam: flagged, and a false alarm if still open. Caller commits."""
    reason = reason.strip() or "spam"
    report.spam = True
    if "false_alarm" in lifecycle.allowed_actions(inc.state, role):
        apply_action(session, inc, "false_alarm", actor, role, f"spam: {reason}")
    else:
        record(session, inc, actor, "spam", reason)
