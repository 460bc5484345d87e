"""The site for the map (plan, places, grids) and the way between two places."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse

from api.deps import AnyUser, CtxDep
from api.schemas import PathOut, PlanOut, SiteOut
from api.views import ERRORS

router = APIRouter(prefix="/api", tags=["site"], responses=ERRORS)


def _site(ctx: CtxDep):  # type: ignore[no-untyped-def]
    if ctx.patrol is None or ctx.patrol.site is None:
        raise HTTPException(404,
                            "no site loaded: start the server with --site SITE.yaml (SHARPEYES_SITE_PATH)")
    return ctx.patrol.site


@router.get("/site", response_model=SiteOut,
            summary="The site for the map: plan, places, links, grids, buildings")
def get_site(_: AnyUser, ctx: CtxDep) -> SiteOut:
    site = _site(ctx)
    cfg = site.config.model_dump(mode="json")
    plan = cfg["plan"]
    image = site.plan_image
    return SiteOut(
        name=cfg["name"],
        timezone=cfg["timezone"],
        office=cfg["office"],
        plan=PlanOut(
            image_url="/api/site/plan.png" if image is not None and image.is_file() else None,
            width_m=plan["width_m"],
            height_m=plan["height_m"],
            px_per_m=plan["px_per_m"],
        ),
        places={pid: {**p, "grid": site.grid_of.get(pid)} for pid, p in cfg["places"].items()},
        links=cfg["links"],
        grids=cfg["grids"],
        buildings=cfg["buildings"],
        areas=cfg["areas"],
        simulation=ctx.settings.simulation or ctx.simulation,
    )


@router.get("/site/plan.png", response_class=FileResponse, responses={200: {"content": {"image/png": {}}}},
            summary="The plan image (no sign-in needed: it is drawn, not secret)")
def plan_png(ctx: CtxDep) -> FileResponse:
    image = _site(ctx).plan_image
    if image is None or not image.is_file():
        raise HTTPException(404, "the site has no plan image")
    return FileResponse(image, media_type="image/png")


@router.get("/site/path", response_model=PathOut, summary="The way between two places")
def path(_: AnyUser, ctx: CtxDep, from_: Annotated[str, Query(alias="from", max_length=100)],
         to: Annotated[str, Query(max_length=100)]) -> PathOut:
    site = _site(ctx)
    for p in (from_, to):
        if p not in site.config.places:
            raise HTTPException(404, f"no place {p!r} on the site")
    return PathOut(path=site.path(from_, to), path_xy=[list(xy) for xy in site.path_xy(from_, to)],
                   travel_s=float(site.travel_time_s(from_, to)))
