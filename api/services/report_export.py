"""The report (api/services/reports.py) as an XLSX workbook (openpyxl) and as CSV, with Chinese headings."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import cast

from openpyxl import Workbook
from openpyxl.styles import Font

COLUMNS: list[tuple[str, str]] = [
    ("received", "受理数"), ("resolved", "办结数"), ("handled_rate", "处理率"), ("on_time", "按时办结数"),
    ("on_time_rate", "按时办结率"), ("rated", "评价数"), ("satisfied", "满意数(含基本满意)"),
    ("satisfaction_rate", "满意率"), ("false_alarms", "误报数"), ("false_alarm_rate", "误报率"),
    ("reopened", "重办数"), ("reopen_rate", "重办率"), ("response_median_min", "响应时间中位数(分钟)"),
    ("resolution_median_min", "办结时间中位数(分钟)"),
]
GROUP_NAMES = {"category": "按类别", "grid": "按网格", "team": "按队伍", "source": "按来源"}
DEPT_COLUMNS = [("body", "单位"), ("name", "名称"), ("calls", "吹哨数"), ("answered", "答复数"),
                ("answered_on_time", "按时答复数"), ("on_time_rate", "按时答复率")]


def _rows(report: dict[str, object]) -> list[tuple[str, list[object]]]:
    """(sheet, row) pairs: the summary rows, then each grouping's rows."""
    out: list[tuple[str, list[object]]] = []
    for key, name in (("total", "本期"), ("previous", "上期"), ("last_year", "去年同期"),
                      ("change_previous", "较上期变化"), ("change_last_year", "较去年同期变化")):
        figs = cast(dict[str, object], report[key])
        out.append(("汇总", [name, *(figs.get(c) for c, _ in COLUMNS)]))
    groups = cast(dict[str, list[dict[str, object]]], report["groups"])
    for g, title in GROUP_NAMES.items():
        for row in groups.get(g, []):
            out.append((title, [row["key"], *(row.get(c) for c, _ in COLUMNS)]))
    for d in cast(list[dict[str, object]], report["departments"]):
        out.append(("按部门", [d[c] for c, _ in DEPT_COLUMNS]))
    return out


def xlsx(report: dict[str, object], names: dict[str, str] | None = None) -> bytes:
    """One sheet per grouping; `names` turns keys (category ids) into names."""
    names = names or {}
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    figures = [h for _, h in COLUMNS]
    heads: dict[str, Sequence[str]] = {"汇总": ["项目", *figures],
                                       **{t: ["分组", *figures] for t in GROUP_NAMES.values()},
                                       "按部门": [h for _, h in DEPT_COLUMNS]}
    for title, head in heads.items():
        ws = wb.create_sheet(title)
        ws.append([f"{report['start']} 至 {report['end']}（{report['period']}）"])
        ws.append(list(head))
        for cell in ws[2]:
            cell.font = Font(bold=True)
    for sheet, row in _rows(report):
        if sheet != "汇总" and sheet != "按部门":
            row = [names.get(str(row[0]), row[0]), *row[1:]]
        wb[sheet].append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_text(report: dict[str, object]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["分组", "项", *(h for _, h in COLUMNS)])
    for sheet, row in _rows(report):
        if sheet != "按部门":
            w.writerow([sheet, *row])
    return buf.getvalue()
