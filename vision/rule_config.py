"""The base of the camera config's models and of its rules (vision/config.py holds the rest): unknown keys
are errors, coordinates are relative 0..1, and the occupancy rule of parking zones (docs/config.md)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vision.rule_actions import RuleAction

_SCHEDULE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


class VisionModel(BaseModel):
    """Base of every config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


Point = tuple[float, float]


def _check_relative(points: list[Point], what: str) -> list[Point]:
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"{what} point [{x}, {y}] is outside 0..1 "
                             "(coordinates are fractions of width, height)")
    return points


class RuleBase(VisionModel):
    actions: list[RuleAction] = Field(default_factory=list,
                                      description="Actions fired once per event by the api (docs/config.md)")
    event: str = Field(min_length=1, description="Event type this rule raises, e.g. fire_lane_blocked")
    schedule: list[str] = Field(default_factory=list,
                                description="Active times of day, e.g. ['22:00-06:00']; "
                                "empty: always. Clock: the frame's wall time, "
                                "else the camera's clip_start + t")
    min_score: float = Field(default=0.3, ge=0, le=1,
                             description="Least detector score of an object the rule counts")
    min_scores: dict[str, float] = Field(default_factory=dict,
                                         description="Per-label score thresholds, override min_score")

    @field_validator("schedule", mode="before")
    @classmethod
    def _one_schedule(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, v: list[str]) -> list[str]:
        for item in v:
            if not _SCHEDULE.match(item):
                raise ValueError(f"schedule {item!r} is not HH:MM-HH:MM (e.g. 22:00-06:00)")
        return v

    def label_list(self) -> list[str]:
        return list(getattr(self, "labels", []))


class OccupancyRule(RuleBase):
    kind: Literal["occupancy"] = Field(description="Vehicles counted in a parking zone, or in its spaces")
    labels: list[str] = Field(default_factory=lambda: ["car", "truck", "bus"], min_length=1,
                              description="Object labels (COCO names) that take a space")
    capacity: int | None = Field(default=None, ge=1, description="Vehicles the zone holds (or give spaces)")
    spaces: list[list[Point]] = Field(default_factory=list,
                                      description="Parking spaces as polygons (relative 0..1): a vehicle "
                                      "takes the space that holds its bottom-centre; capacity = their number")
    min_seconds: float = Field(default=30.0, ge=0, description="Full for this long: the rule's event")
    sample_s: float = Field(default=10.0, gt=0, description="One occupancy sample this often (seconds)")
    window_s: float = Field(default=1.0, ge=0, description="The count is the median over this many seconds")

    @field_validator("spaces")
    @classmethod
    def _relative(cls, v: list[list[Point]]) -> list[list[Point]]:
        for space in v:
            if len(space) < 3:
                raise ValueError("a space needs at least 3 points")
            _check_relative(space, "space")
        return v

    @model_validator(mode="after")
    def _capacity(self) -> OccupancyRule:
        if self.capacity is None and not self.spaces:
            raise ValueError("an occupancy rule needs a capacity or spaces")
        if self.capacity is not None and self.spaces and self.capacity != len(self.spaces):
            raise ValueError(f"capacity {self.capacity} but {len(self.spaces)} spaces: give one of them")
        return self
