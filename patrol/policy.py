"""The patrol policy: per incident category severity, deadline, acknowledge time, auto vs propose;
dispatch weights; escalation; the working-day calendar; service point rules.

Defaults live in `patrol/policy.yaml`; `load_policy(path)` reads another file of the same shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from patrol.calendar import Calendar
from patrol.errors import PatrolError, first_error
from patrol.yamlfile import read_yaml

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.yaml")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Deadline(_Model):
    """Exactly one of minutes, hours, working_days."""

    minutes: float | None = Field(default=None, gt=0, description="Live hazards: on site within N minutes")
    hours: float | None = Field(default=None, gt=0, description="Ordinary matters: e.g. 24 hours")
    working_days: int | None = Field(default=None, gt=0,
                                     description="Hard matters: 3, hardest: 7 working days")

    @model_validator(mode="after")
    def _one(self) -> Deadline:
        if sum(v is not None for v in (self.minutes, self.hours, self.working_days)) != 1:
            raise ValueError("give exactly one of minutes, hours, working_days")
        return self


class CategoryPolicy(_Model):
    """How one incident category is handled."""

    name: str = Field(default="", description="Display name (zh-CN)")
    severity: int = Field(ge=1, le=5, description="1 (minor) .. 5 (life safety); a busy team may be pulled "
                          "off a task of lower severity")
    deadline: Deadline = Field(description="Time limit to resolve")
    ack_seconds: float = Field(default=120, gt=0, description="A dispatched team must accept within this")
    mode: Literal["auto", "propose"] = Field(default="propose", description="auto: dispatch the best team; "
                                             "propose: show the top 3 to the operator")
    skills: list[str] = Field(default_factory=list,
                              description="Skills that help (missing ones cost a penalty)")
    events: list[str] = Field(default_factory=list, description="Vision event types that open this category")


class DispatchWeights(_Model):
    """Ranking cost, in seconds of walking: lower is better."""

    missing_skill_s: float = Field(default=300, ge=0, description="Per required skill the team lacks")
    per_task_this_shift_s: float = Field(default=60, ge=0, description="Per task already done this shift")
    per_busy_minute_s: float = Field(default=2, ge=0, description="Per minute already busy this shift")
    home_grid_bonus_s: float = Field(default=120, ge=0,
                                     description="Subtracted when the incident is in the team's grid")
    preempt_s: float = Field(default=600, ge=0,
                             description="Added when the team must leave a lower-severity task")
    on_patrol_s: float = Field(default=30, ge=0,
                               description="Added when the team is on a routine patrol round")


class Escalation(_Model):
    """Escalation ladder (吹哨报到): grid worker at the deadline, then the community office."""

    near_fraction: float = Field(default=0.2, gt=0, lt=1,
                                 description="Flag as near when this share of the time is left")
    office_after_fraction: float = Field(default=0.5, ge=0, description="Office is called this share of the "
                                         "deadline's length after the deadline passes")


class PointsRules(_Model):
    """Service points (积分) awarded."""

    task_resolved: int = Field(default=10, ge=0, description="Per resolved task, per member on site")
    severity_bonus: int = Field(default=2, ge=0, description="Extra per severity level above 1")
    resolved_in_time_bonus: int = Field(default=5, ge=0,
                                        description="Extra when resolved within the deadline")
    patrol_hour: int = Field(default=2, ge=0, description="Per full hour of routine patrol, per member")
    checkin: int = Field(default=1, ge=0, description="Per checkpoint check-in, to the one who checked in")


class Policy(_Model):
    """The whole policy file."""

    categories: dict[str, CategoryPolicy] = Field(min_length=1, description="Categories by id")
    weights: DispatchWeights = Field(default_factory=DispatchWeights, description="Dispatch ranking weights")
    escalation: Escalation = Field(default_factory=Escalation, description="Escalation ladder")
    calendar: Calendar = Field(default_factory=Calendar, description="Working-day calendar: official China "
                                "holidays and 调休 days, plus local days")
    points: PointsRules = Field(default_factory=PointsRules, description="Service point rules")
    propose_top: int = Field(default=3, ge=1, description="How many teams a proposal shows")

    def category(self, cid: str) -> CategoryPolicy:
        try:
            return self.categories[cid]
        except KeyError:
            raise PatrolError(
                f"unknown incident category '{cid}'; known: {', '.join(sorted(self.categories))}"
            ) from None

    def category_for_event(self, event: str) -> str | None:
        """The category a vision event type opens (its own name if it is a category), or None."""
        if event in self.categories:
            return event
        for cid, cat in self.categories.items():
            if event in cat.events:
                return cid
        return None


def policy_from_dict(data: Any, source: str = "<policy>") -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        loc, msg = first_error(exc)
        raise PatrolError(f"{source}: {loc}: {msg}") from None


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy at `path`, or the packaged defaults."""
    p = Path(path) if path else DEFAULT_POLICY_PATH
    data = read_yaml(p, "policy")
    return policy_from_dict(data, str(p))


_default: Policy | None = None


def default_policy() -> Policy:
    global _default
    if _default is None:
        _default = load_policy()
    return _default
