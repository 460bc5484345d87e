"""Routes the dashboard's map needs: the site (places, grids, buildings), its plan image and the way between
two places. Added by the dashboard helper (docs/api.md, "Requested by dashboard")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.deps import AnyUser, CtxDep
from api.routes.common import ERRORS

router = APIRouter(prefix="/api/site", tags=["site"], responses=ERRORS)


class PathOut(BaseModel):
    path: list[str] = Field(description="Place ids from `from` to `to`")
    path_xy: list[list[float]] = Field(description="The same as a polyline in site metres")
    travel_s: float = Field(description="Walking time in seconds")


def _site(ctx: Any) -> Any:
    site = ctx.patrol.site if ctx.patrol is not None else None
    if site is None:
        raise HTTPException(404, "no site loaded: start the server with SHARPEYES_SITE_PATH set to a site YAML")
    return site


@router.get("", summary="The site for the map: plan, places, links, grid cells, buildings; `simulation` in the demo")
def get_site(user: AnyUser, ctx: CtxDep) -> dict[str, Any]:
    site = _site(ctx)
    data: dict[str, Any] = site.config.model_dump(mode="json")
    data["plan"]["image_url"] = "/api/site/plan.png" if site.config.plan.image else None
    data["simulation"] = bool(getattr(ctx, "simulation", False))
    return data


@router.get("/plan.png", response_class=FileResponse, summary="The plan image (no secrets on it; no sign-in needed)",
            responses={200: {"content": {"image/png": {}}}})
def plan_image(ctx: CtxDep) -> FileResponse:
    site = _site(ctx)
    if not site.config.plan.image:
        raise HTTPException(404, "the site has no plan image")
    path = Path(site.source).resolve().parent / site.config.plan.image
    if not path.is_file():
        raise HTTPException(404, f"plan image {site.config.plan.image} is missing next to the site file")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "max-age=3600"})


@router.get("/path", response_model=PathOut, summary="The way between two places (shortest walk)")
def way(user: AnyUser, ctx: CtxDep, from_: Annotated[str, Query(alias="from", max_length=100)],
        to: Annotated[str, Query(max_length=100)]) -> PathOut:
    site = _site(ctx)
    for name in (from_, to):
        if name not in site.config.places:
            raise HTTPException(404, f"no place {name!r} on the site")
    return PathOut(path=list(site.path(from_, to)), path_xy=[list(p) for p in site.path_xy(from_, to)],
                   travel_s=float(site.travel_time_s(from_, to)))


def ensure_routes(app: FastAPI) -> None:
    """Put these routes ahead of the dashboard's catch-all mount when create_app has not included them."""
    if any(getattr(r, "path", "") == "/api/site" for r in app.router.routes):
        return
    before = len(app.router.routes)
    app.include_router(router)
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[0:0] = added
