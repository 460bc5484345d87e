"""Policy: event type -> incident category, severity, response deadline and merge window.

Category, severity and deadline come from the patrol policy (one source of truth, patrol/policy.yaml:
live hazards in minutes, governance matters 24 h / 3 / 7 working days); the merge window is the api's own
setting (api/services/policy.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import patrol
from api.errors import ApiError
from patrol.errors import first_error

DEFAULT_POLICY = Path(__file__).with_name("policy.yaml")


class MergeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_merge_window_s: float = Field(default=600, ge=0)
    merge_window_s: dict[str, float] = Field(default_factory=dict, description="Event type -> seconds")
    fallback_category: str = Field(default="resident_report", description="Category for unmapped event types")
    departments: dict[str, list[str]] = Field(
        default_factory=dict, description="Category -> keys of the departments (bodies) its escalation calls "
        "after the grid worker and the community office (吹哨报到)")


@dataclass(frozen=True)
class Rule:
    category: str
    severity: int
    merge_window_s: float
    policy: patrol.Policy
    timezone: str

    def deadline(self, start: datetime) -> datetime:
        return patrol.deadline_for(self.category, start, self.policy, self.timezone)


class Policy:
    def __init__(self, patrol_policy: patrol.Policy, merge: MergeConfig,
                 timezone: str = "Asia/Shanghai") -> None:
        self.patrol = patrol_policy
        self.merge = merge
        self.timezone = timezone
        if merge.fallback_category not in patrol_policy.categories:
            raise ApiError(
                f"api policy: fallback_category {merge.fallback_category!r} is not a patrol category "
                f"(known: {', '.join(sorted(patrol_policy.categories))})"
            )
        self._cache: dict[str, Rule] = {}

    def category_of(self, event_type: str) -> str:
        return self.patrol.category_for_event(event_type) or self.merge.fallback_category

    def departments_for(self, category: str) -> list[str]:
        return list(self.merge.departments.get(category, []))

    def rule(self, event_type: str, category: str | None = None) -> Rule:
        key = f"{event_type}|{category}"
        hit = self._cache.get(key)
        if hit is None:
            cat = category if category in self.patrol.categories else self.category_of(event_type)
            window = self.merge.merge_window_s.get(event_type, self.merge.default_merge_window_s)
            hit = Rule(cat, self.patrol.categories[cat].severity, window, self.patrol, self.timezone)
            self._cache[key] = hit
        return hit


def load_patrol_policy(path: Path | None) -> patrol.Policy:
    """A deployment's patrol policy (categories, deadlines, calendar), or the packaged one."""
    if path is None:
        return patrol.default_policy()
    try:
        return patrol.load_policy(path)
    except patrol.PatrolError as exc:
        raise ApiError(
            f"{exc} (patrol policy from --patrol-policy / SHARPEYES_PATROL_POLICY_PATH; the packaged "
            "patrol/policy.yaml shows the shape)"
        ) from None


def load_policy(path: Path | None = None, patrol_policy: patrol.Policy | None = None,
                timezone: str = "Asia/Shanghai", patrol_path: Path | None = None) -> Policy:
    """The api's policy (merge windows) over the patrol policy: `patrol_policy`, else the file at
    `patrol_path`, else the packaged one."""
    patrol_policy = patrol_policy or load_patrol_policy(patrol_path)
    path = path or DEFAULT_POLICY
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ApiError(
            f"{path}: cannot read the policy file ({exc.strerror}); check SHARPEYES_POLICY_PATH"
        ) from exc
    except yaml.YAMLError as exc:
        raise ApiError(f"{path}: not valid YAML: {exc}") from exc
    try:
        merge = MergeConfig.model_validate(data or {})
    except ValidationError as exc:
        loc, msg = first_error(exc)
        raise ApiError(f"{path}: {loc}: {msg}") from exc
    return Policy(patrol_policy, merge, timezone)
