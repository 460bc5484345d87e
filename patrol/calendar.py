"""Working days (工作日): China's official holidays and make-up working days (调休) from the maintained
`chinese-calendar` library, plus the local days a deployment adds in its policy.

Order of the rules: a local working day wins, then a local holiday, then the official calendar, then
Monday to Friday (for `official: none`, or a year the library does not cover yet).
"""

from __future__ import annotations

import logging
from datetime import date
from functools import lru_cache
from typing import Literal

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)


class Calendar(BaseModel):
    """Working days: official: cn follows China's State Council calendar; holidays / workdays add local
    days."""

    model_config = ConfigDict(extra="forbid")

    official: Literal["cn", "none"] = Field(
        default="cn", description="cn: China's official holidays and 调休 working days (chinese-calendar); "
        "none: Monday to Friday only")
    holidays: list[date] = Field(default_factory=list, description="Local days that are not working days")
    workdays: list[date] = Field(default_factory=list, description="Local days that are working days "
                                 "(e.g. a weekend day of a local campaign)")

    def is_working_day(self, d: date) -> bool:
        if d in self.workdays:
            return True
        if d in self.holidays:
            return False
        if self.official == "cn":
            official = _official_workday(d)
            if official is not None:
                return official
        return d.weekday() < 5


@lru_cache(maxsize=4096)
def _official_workday(d: date) -> bool | None:
    """China's official answer for `d`, or None for a year the installed chinese-calendar does not cover."""
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        _warn_year(d.year)
        return None


@lru_cache(maxsize=64)
def _warn_year(year: int) -> None:
    log.warning("chinese-calendar has no official holidays for %d: counting Monday to Friday (plus the "
                "policy's local days); upgrade chinese-calendar once the State Council publishes them", year)
