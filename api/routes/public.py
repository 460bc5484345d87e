"""The public page's api (no account): the form's choices, a resident's report, its status and rating."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from pydantic import BeforeValidator, Field

from api.db.models import Incident
from api.deps import CtxDep, SessionDep
from api.errors import TooLarge
from api.schemas import In, Out
from api.services import residents
from api.views import ERRORS, incidents_out, publish_incidents

router = APIRouter(prefix="/api/public", tags=["public"], responses=ERRORS)
Metres = Annotated[float, Field(ge=0, le=100_000)]
Code = Annotated[str, Path(min_length=4, max_length=20, pattern=r"^[0-9A-Za-z]+$")]


class Choice(Out):
    id: str
    name: str


class PlanInfo(Out):
    image_url: str
    width_m: float
    height_m: float


class FormOut(Out):
    categories: list[Choice]
    places: list[Choice]
    plan: PlanInfo | None = Field(default=None, description="The site plan to tap a point on: x east, "
                                  "y north in metres from its bottom-left corner")
    max_photos: int
    max_photo_bytes: int


class ReportOut(Out):
    code: str = Field(description="The tracking code: keep it to follow the report and rate the answer")
    url: str = Field(description="The status page of this report")
    state: str


class StepOut(Out):
    at: str
    step: str
    state: str | None
    text: str | None = None
    rating: str | None = None


class RatingOut(Out):
    rating: str
    comment: str
    at: str


class StatusOut(Out):
    code: str
    state: str
    category: str
    category_name: str
    created_at: str
    deadline_at: str
    text: str
    timeline: list[StepOut]
    can_rate: bool
    rating: RatingOut | None


class RatingIn(In):
    rating: str = Field(description="satisfied (满意), basic (基本满意), dissatisfied (不满意)",
                        max_length=20)
    comment: str = Field(default="", max_length=500, description="Required with dissatisfied")


def _places(ctx: CtxDep) -> dict[str, str]:
    if ctx.site is None:
        return {}
    return {pid: p.name or pid for pid, p in ctx.site.config.places.items()}


def _limits(ctx: CtxDep) -> residents.Limits:
    s = ctx.settings
    return residents.Limits(s.resident_photo_bytes, s.resident_reports_per_address,
                            s.resident_reports_per_phone)


def _no_number(value: object) -> object:
    """A form field sent as "null" (or empty) is no point: the same as leaving it out."""
    return None if value in ("", "null") else value


def _addr(request: Request) -> str:
    return request.client.host if request.client else "?"


@router.get("/form", response_model=FormOut, summary="What the public report page offers: categories, places")
def form(ctx: CtxDep) -> FormOut:
    cats = [Choice(id=cid, name=c.name or cid) for cid, c in ctx.policy.patrol.categories.items()]
    every = _places(ctx)
    # the named places, when the site names any: a road junction is no place a resident would pick
    named = {k: v for k, v in every.items() if v != k} or every
    places = [Choice(id=k, name=v) for k, v in named.items()]
    plan = None
    site = ctx.site
    if site is not None and site.plan_image is not None and site.plan_image.is_file():
        dims = site.config.plan
        plan = PlanInfo(image_url="/api/site/plan.png", width_m=dims.width_m, height_m=dims.height_m)
    return FormOut(categories=cats, places=places, max_photos=residents.MAX_PHOTOS,
                   max_photo_bytes=ctx.settings.resident_photo_bytes, plan=plan)


@router.post("/reports", response_model=ReportOut, status_code=201,
             summary="A resident's report (群众点单): no account; 429 past the limits; "
             "nothing stored when refused")
def report(request: Request, ctx: CtxDep, session: SessionDep,
           category: Annotated[str, Form(min_length=1, max_length=50, description="A category id of "
                                         "GET /api/public/form")],
           text: Annotated[str, Form(min_length=5, max_length=5000, description="What is wrong (5 to "
                                     "1000 characters once trimmed)")],
           place: Annotated[str, Form(max_length=100)] = "",
           building: Annotated[str, Form(max_length=200)] = "",
           unit: Annotated[str, Form(max_length=200)] = "",
           phone: Annotated[str, Form(max_length=40)] = "",
           x: Annotated[Metres | None, BeforeValidator(_no_number),
                        Form(description="A point on the plan (m)")] = None,
           y: Annotated[Metres | None, BeforeValidator(_no_number), Form()] = None,
           photos: Annotated[list[UploadFile] | None, File(description="Up to 3 photos")] = None,
           ) -> ReportOut:
    limit = ctx.settings.resident_photo_bytes
    datas = []
    for i, f in enumerate((photos or [])[:residents.MAX_PHOTOS + 1], 1):
        if f.size is not None and f.size > limit:
            raise TooLarge(f"photo {i}: {f.size} bytes; the limit is {limit} bytes (第{i}张照片太大)")
        datas.append(f.file.read(limit + 1))
    if not place and x is not None and y is not None:
        place = ctx.patrol.nearest_place([x, y]) or ""     # the point names the nearest place of the plan
    new = residents.NewReport(category=category, text=text, place=place or None, building=building, unit=unit,
                              phone=phone or None, photos=datas)
    rep = residents.submit(session, ctx.policy, _places(ctx), ctx.media, new, _addr(request),
                           ctx.settings.secret_key, _limits(ctx))
    session.commit()
    inc_id = rep.incident_id
    inc = session.get(Incident, inc_id)
    if inc is not None:
        publish_incidents(ctx, incidents_out(session, [inc]))
        ctx.patrol.on_new_incidents([inc_id])
    return ReportOut(code=rep.code, url=f"/r/?c={rep.code}", state="open")


@router.get("/reports/{code}", response_model=StatusOut,
            summary="A report's public status: state and public steps only (no notes, no names)")
def status(code: Code, ctx: CtxDep, session: SessionDep) -> StatusOut:
    rep, inc = residents.by_code(session, code)
    out = residents.public_status(session, rep, inc)
    cat = ctx.policy.patrol.categories.get(rep.category)
    out["category_name"] = (cat.name if cat else None) or rep.category
    return StatusOut.model_validate(out)


@router.post("/reports/{code}/rating", response_model=StatusOut,
             summary="Rate the answer after resolution: 满意 / 基本满意 / 不满意 (reopens the matter)")
def rate(code: Code, body: RatingIn, ctx: CtxDep, session: SessionDep) -> StatusOut:
    rep, inc = residents.by_code(session, code)
    done = residents.rate(session, rep, inc, body.rating, body.comment)
    session.commit()
    publish_incidents(ctx, incidents_out(session, [inc]), {inc.id: done.previous_team} if done else None)
    return status(code, ctx, session)
