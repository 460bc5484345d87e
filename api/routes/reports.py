"""Reports (办结率, 满意率) for a period, as JSON, XLSX and CSV (operator; downloads take ?token=)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CtxDep, Operator, SessionDep
from api.services import report_export, reports
from api.validation import IsoDay
from api.views import ERRORS

router = APIRouter(prefix="/api", tags=["reports"], responses=ERRORS)
PeriodQ = Annotated[Literal["day", "week", "month", "quarter", "year"],
                    Query(description="The period holding `start`")]
StartQ = Annotated[IsoDay | None, Query(description="A day in the period (YYYY-MM-DD); default today")]


def _report(ctx: CtxDep, session: SessionDep, period: str, start: date | None) -> dict[str, object]:
    tz = ZoneInfo(ctx.site.config.timezone if ctx.site is not None else "Asia/Shanghai")
    day = start or datetime.now(tz).date()
    grid_of = dict(ctx.site.grid_of) if ctx.site is not None else {}
    return reports.report(session, period, day, tz, grid_of)


def _names(ctx: CtxDep) -> dict[str, str]:
    return {k: c.name or k for k, c in ctx.policy.patrol.categories.items()}


@router.get("/reports", summary="Figures for a period: total, previous period, same period last year, "
            "and per category, grid, team, source and department")
def get_report(_: Operator, ctx: CtxDep, session: SessionDep, period: PeriodQ = "month",
               start: StartQ = None) -> dict[str, Any]:
    out = _report(ctx, session, period, start)
    out["category_names"] = _names(ctx)
    return out


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/reports.xlsx", summary="The report as an XLSX workbook (one sheet per grouping)",
            response_class=Response, responses={200: {"content": {XLSX: {}}}})
def get_xlsx(_: Operator, ctx: CtxDep, session: SessionDep, period: PeriodQ = "month",
             start: StartQ = None) -> Response:
    rep = _report(ctx, session, period, start)
    return Response(report_export.xlsx(rep, _names(ctx)),
                    media_type=XLSX,
                    headers={"Content-Disposition": _attachment(rep, "xlsx")})


@router.get("/reports.csv", summary="The report as CSV (UTF-8 with BOM, for Excel)", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def get_csv(_: Operator, ctx: CtxDep, session: SessionDep, period: PeriodQ = "month",
            start: StartQ = None) -> Response:
    rep = _report(ctx, session, period, start)
    return Response("\ufeff" + report_export.csv_text(rep), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": _attachment(rep, "csv")})


def _attachment(rep: dict[str, object], ext: str) -> str:
    return f'attachment; filename="report-{rep["period"]}-{rep["start"]}.{ext}"'
