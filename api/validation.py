"""Validation at the edge, shared by every request shape: numbers that fit the columns, finite floats, no
NUL bytes, timezones that exist, and 422 answers that never echo a large input back.

`check_values` is run by `api.schemas.In` (every request body) on everything it holds, nested dicts and
lists included (zones, people, roster), so a new request shape gets it by subclassing `In`.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field

INT4_MAX = 2**31 - 1          # an Integer column on PostgreSQL (ids, seq, counts)
INT8_MAX = 2**63 - 1          # a BigInteger column; no integer in a request may be larger
MAX_DEPTH = 32                # nesting of free-form JSON (zones, people, roster)
ERROR_INPUT_CHARS = 120       # a 422 shows at most this much of the offending input
MAX_ERRORS = 20               # and at most this many errors
DEFAULT_TIMEZONE = "Asia/Shanghai"

# an id in a path, a query or a body: a row id of an Integer column
RowId = Annotated[int, Field(ge=1, le=INT4_MAX)]


def check_values(value: Any, where: str = "", depth: int = 0) -> None:
    """ValueError naming the first value no database can store: a NUL byte, an integer beyond 64 bits, a
    float that is NaN or infinite, or nesting deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where or 'body'}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where or 'value'}: contains a NUL byte; remove it")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -INT8_MAX - 1 <= value <= INT8_MAX:
            raise ValueError(f"{where or 'value'}: integer out of range (at most {INT8_MAX})")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where or 'value'}: must be a finite number (not NaN or Infinity)")
    elif isinstance(value, dict):
        for k, v in value.items():
            check_values(k, f"{where}.{k}" if where else str(k), depth + 1)
            check_values(v, f"{where}.{k}" if where else str(k), depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for i, v in enumerate(value):
            check_values(v, f"{where}[{i}]", depth + 1)


def timezone_name(name: str) -> str:
    """The name of an IANA timezone that exists here (zoneinfo), else ValueError saying what to give."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown timezone {name[:60]!r}: give an IANA name such as Asia/Shanghai") from None
    return name


def _iso_text(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("give a time as ISO 8601 text (2026-11-25T08:30:00Z), not a number")
    return value


def _whole(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError("give a whole number (such as 3), not true/false or text")
    return value


# an integer in a JSON body: as JSON Schema's `integer` (3 or 3.0), never true/false or "3"
JsonInt = Annotated[int, BeforeValidator(_whole)]


# a time in a request: ISO 8601 text only (a bare number is not silently read as seconds since 1970)
IsoTime = Annotated[datetime, BeforeValidator(_iso_text)]


def _iso_day(value: Any) -> Any:
    if value is None or isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("give a day as YYYY-MM-DD (e.g. 2026-11-25)")
    return value


# a day in a request: YYYY-MM-DD only (not a datetime, not a number read as seconds since 1970)
IsoDay = Annotated[date, BeforeValidator(_iso_day)]

TimezoneName = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(timezone_name)]


def _short(value: Any) -> Any:
    """An input as a 422 may show it: small scalars as they are, anything else cut to a short text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) <= INT8_MAX:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    text = value if isinstance(value, str) else repr(value)
    if len(text) > ERROR_INPUT_CHARS:
        return text[:ERROR_INPUT_CHARS] + f"... ({len(text)} characters)"
    return text


def safe_errors(errors: Any) -> list[dict[str, Any]]:
    """pydantic's errors for a 422, without echoing what was sent: at most MAX_ERRORS, each with its input
    cut short and its context as text (so NaN or a 20 MB string never reaches the answer)."""
    out: list[dict[str, Any]] = []
    for err in list(errors)[:MAX_ERRORS]:
        item: dict[str, Any] = {
            "type": str(err.get("type", "invalid")),
            "loc": [p if isinstance(p, int) else str(p)[:100] for p in err.get("loc", ())][:12],
            "msg": str(err.get("msg", "invalid"))[:300],
        }
        if "input" in err:
            item["input"] = _short(err["input"])
        if err.get("ctx"):
            item["ctx"] = {str(k)[:50]: _short(v) for k, v in list(err["ctx"].items())[:5]}
        out.append(item)
    return out
