"""Rule actions of the camera config (docs/config.md, `actions:`): what the api does, once per event, when a
rule fires. Only the shape lives here: the api fires them (api/services/actions.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RuleAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["elevator_hold"] = Field(description="elevator_hold: an MQTT command to an elevator "
                                           "controller (梯控), `<prefix>/elevator/<elevator>/hold`")
    elevator: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$",
                          description="The elevator controller's id (a part of the MQTT topic)")
    hold_s: float = Field(default=60.0, gt=0, le=3600,
                          description="Seconds the controller keeps the doors open and the car still")
    say: str = Field(default="", max_length=500, description="The prompt the elevator speaks (text)")
