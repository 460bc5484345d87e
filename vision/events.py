"""The event schema: the one contract between a vision worker and the api.

An event goes through `new` -> `update`* -> `end`, always with the same `id`. Each message carries a
`seq` that grows per event, so (id, seq) is unique and ingest can be idempotent on it.
The fields of the analyze events file (ARCHITECTURE.md, "Events file") are a subset: `to_record()`.
This module is the schema alone (pydantic only, no OpenCV or numpy), so the api validates events without
loading vision's image stack; the lifecycle that makes these messages is `vision.lifecycle`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Lifecycle = Literal["new", "update", "end"]

RECORD_FIELDS = (
    "id", "camera", "zone", "event", "label", "track_id", "first_seen_s",
    "start_s", "end_s", "max_score", "bbox", "snapshot",
)


class EventMessage(BaseModel):
    """One lifecycle step of one event, as a worker sends it to the api."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Stable event id, the same for new/update/end")
    lifecycle: Lifecycle = Field(description="new | update | end")
    seq: int = Field(ge=0, description="Step number within this event: 0 for new, then 1, 2, ...")
    camera: str = Field(description="Camera name from the camera config")
    zone: str = Field(description="Zone name from the camera config")
    event: str = Field(description="Event type from the rule, e.g. fire_lane_blocked")
    rule: str = Field(default="", description="Rule kind: presence, stationary, crowd, line, left_object")
    label: str = Field(description="Object label (COCO name), or 'unknown' for left_object")
    track_id: int | None = Field(default=None, description="Tracker id, None for region rules")
    first_seen_s: float = Field(
        description="Seconds from source start when the object entered / became still"
    )
    start_s: float = Field(description="Seconds from source start when the rule fired")
    end_s: float | None = Field(default=None,
                                description="Seconds from source start when it ended; None while active")
    max_score: float = Field(ge=0, le=1, description="Best detector score seen")
    bbox: list[float] = Field(min_length=4, max_length=4, description="[x1, y1, x2, y2] pixels at start_s")
    count: int | None = Field(default=None, description="Objects counted (crowd, line)")
    displacement: float | None = Field(
        default=None,
        description="Tracked objects: the most it moved over the tracker's still window while the "
        "event was active, in box sizes (stationary: at most about tracker.still_radius)",
    )
    snapshot: str | None = Field(default=None, description="Path (worker side) of the JPEG snapshot")
    clip: str | None = Field(default=None,
                             description="Path (worker side) of the H.264 MP4 clip, once written")
    wall_time: float | None = Field(default=None,
                                    description="Unix time of this step at the worker (live sources)")

    def to_record(self) -> dict[str, object]:
        """The line written to the analyze events file."""
        data = self.model_dump()
        return {k: data[k] for k in RECORD_FIELDS}
