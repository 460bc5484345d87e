"""The event schema: the one contract between a vision worker and the api.

An event goes through `new` -> `update`* -> `end`, always with the same `id`. Each message carries a
`seq` that grows per event, so (id, seq) is unique and ingest can be idempotent on it.
The fields of the analyze events file (ARCHITECTURE.md, "Events file") are a subset: `to_record()`, the
contract's fields in its order, then `displacement` (how much a tracked object moved, in its own sizes).
This module is the schema alone (pydantic only, no OpenCV or numpy), so the api validates events without
loading vision's image stack; the lifecycle that makes these messages is `vision.lifecycle`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Lifecycle = Literal["new", "update", "end"]

# Bounds that fit the api's columns on every database (PostgreSQL Integer: 32 bits; VARCHAR lengths), so a
# step is refused with its reason at the edge instead of failing the transaction it would share.
INT4_MAX = 2**31 - 1
SECONDS_MAX = 1e10            # seconds from source start: about 300 years
PIXELS_MAX = 1e6              # a box coordinate, in pixels
WALL_TIME_MIN = 946684800.0   # 2000-01-01 UTC: a clock that reads less is not set
WALL_TIME_MAX = 4102444800.0  # 2100-01-01 UTC (the api also holds a step from its future to its own clock)


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("contains a NUL byte; remove it")
    return text


Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_no_nul)]
Short = Annotated[str, Field(max_length=50), AfterValidator(_no_nul)]
Path = Annotated[str, Field(max_length=1000), AfterValidator(_no_nul)]
Seconds = Annotated[float, Field(ge=-SECONDS_MAX, le=SECONDS_MAX)]

RECORD_FIELDS = (
    "id", "camera", "zone", "event", "label", "track_id", "first_seen_s",
    "start_s", "end_s", "max_score", "bbox", "snapshot",
    "displacement",   # beyond the contract's fields (they come first, in its order): stationary judgement
)


class EventMessage(BaseModel):
    """One lifecycle step of one event, as a worker sends it to the api."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: Name = Field(description="Stable event id, the same for new/update/end (1-100 characters)")
    lifecycle: Lifecycle = Field(description="new | update | end")
    seq: int = Field(ge=0, le=INT4_MAX,
                     description="Step number within this event: 0 for new, then 1, 2, ...")
    camera: Name = Field(description="Camera name from the camera config")
    zone: Name = Field(description="Zone name from the camera config")
    event: Name = Field(description="Event type from the rule, e.g. fire_lane_blocked")
    rule: Short = Field(default="", description="Rule kind: presence, stationary, crowd, line, left_object")
    label: Short = Field(description="Object label (COCO name), or 'unknown' for left_object")
    track_id: int | None = Field(default=None, ge=-INT4_MAX, le=INT4_MAX,
                                 description="Tracker id, None for region rules")
    first_seen_s: Seconds = Field(
        description="Seconds from source start when the object entered / became still"
    )
    start_s: Seconds = Field(description="Seconds from source start when the rule fired")
    end_s: Seconds | None = Field(default=None,
                                  description="Seconds from source start when it ended; None while active")
    max_score: float = Field(ge=0, le=1, description="Best detector score seen")
    bbox: list[Annotated[float, Field(ge=-PIXELS_MAX, le=PIXELS_MAX)]] = Field(
        min_length=4, max_length=4, description="[x1, y1, x2, y2] pixels at start_s")
    count: int | None = Field(default=None, ge=0, le=INT4_MAX, description="Objects counted (crowd, line)")
    displacement: float | None = Field(
        default=None, ge=0, le=PIXELS_MAX,
        description="Tracked objects: the most it moved over the tracker's still window while the "
        "event was active, in box sizes (stationary: at most about tracker.still_radius)",
    )
    snapshot: Path | None = Field(default=None, description="Path (worker side) of the JPEG snapshot")
    clip: Path | None = Field(default=None,
                              description="Path (worker side) of the H.264 MP4 clip, once written")
    wall_time: float | None = Field(default=None, ge=WALL_TIME_MIN, le=WALL_TIME_MAX,
                                    description="Unix time of this step at the worker (live sources), "
                                    "between 2000 and 2100; the api holds one from its future to its clock")

    def to_record(self) -> dict[str, object]:
        """The line written to the analyze events file."""
        data = self.model_dump()
        return {k: data[k] for k in RECORD_FIELDS}
