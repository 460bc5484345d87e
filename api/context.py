"""The app context: everything a request, a websocket or a background job may need, built once by
`api.app.create_app` (the composition root). Typed throughout; nothing is added to it at run time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

import patrol
from api.db.models import AuditEntry
from api.live.bus import EventBus
from api.live.hub import Hub
from api.live.publishers import Publisher
from api.services.accounts import LoginLimiter
from api.services.actions import Actions
from api.services.camera_configs import CameraConfigs
from api.services.channels import LoggingSms, SmsSender, make_channels
from api.services.dispatch import PatrolLink
from api.services.ingest import PG_LANES, Ingest, IngestQueue
from api.services.media import MediaStore
from api.services.outbox import Outbox, OutboxSettings
from api.services.policy import Policy
from api.services.ports import Notifier
from api.services.sensors import Sensors
from api.services.viid import Viid
from api.services.workers import WorkerKeys
from api.settings import Settings


@dataclass
class LiveFrame:
    jpeg: bytes
    at: float
    version: int
    worker: str = ""   # who sent it (only the camera's owner may)


@dataclass
class Ctx:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    policy: Policy
    bus: EventBus
    hub: Hub
    limiter: LoginLimiter
    media: MediaStore
    workers: WorkerKeys
    notify: Notifier
    publishers: list[Publisher] = field(default_factory=list)
    site: patrol.Site | None = None   # the patrol site (--site): dispatch, routes, place names
    simulation: bool = False          # the demo's simulated teams move on their own (the map says so)
    frames: dict[str, LiveFrame] = field(default_factory=dict)
    frame_event: asyncio.Event | None = None
    debug_frames: dict[str, LiveFrame] = field(default_factory=dict)   # the cameras page's debug view
    camera_load: dict[str, float] = field(default_factory=dict)   # camera -> its pipeline's load (heartbeat)
    debug_watch: dict[str, float] = field(default_factory=dict)   # camera -> when its debug view was asked
    viid: Viid | None = None          # the GA/T 1400 视图库 (--viid), api/routes/viid.py
    sms: SmsSender = field(default_factory=LoggingSms)   # a real SMS provider plugs in here
    patrol: PatrolLink = field(init=False)
    ingest: Ingest = field(init=False)
    ingest_queue: IngestQueue = field(init=False)
    camera_configs: CameraConfigs = field(init=False)
    sensors: Sensors = field(init=False)
    actions: Actions = field(init=False)
    outbox: Outbox = field(init=False)

    def __post_init__(self) -> None:
        self.patrol = PatrolLink(self, self.site)
        self.ingest = Ingest(self)
        self.ingest_queue = IngestQueue(self.ingest, 1 if self.settings.is_sqlite else PG_LANES)
        self.camera_configs = CameraConfigs(self.sessions, self.ingest.cameras)
        self.sensors = Sensors(self)
        self.actions = Actions(self)
        self.outbox = Outbox(self.sessions, self.policy, make_channels(self.sms),
                             OutboxSettings(self.settings.notify_backoff_s,
                                            self.settings.notify_max_attempts),
                             self.grid_of, self.place_name)

    def grid_of(self, place: str | None) -> str | None:
        return self.site.grid_of.get(place) if self.site is not None and place else None

    def place_name(self, place: str | None) -> str | None:
        if self.site is None or not place or place not in self.site.config.places:
            return place
        return self.site.config.places[place].name or place

    def wants(self, topic: str) -> bool:
        """Whether any publisher sends `topic` anywhere (so a payload nobody takes is not built)."""
        return any(p.wants(topic) for p in self.publishers)

    def publish(self, topic: str, payload: dict[str, object], team_id: int | None = None) -> None:
        """Offer one message to every publisher that wants its topic (thread-safe)."""
        for p in self.publishers:
            if p.wants(topic):
                p.emit(topic, payload, team_id)

    def audit(self, actor: str, action: str, target: str = "", detail: str = "") -> None:
        with self.sessions() as s:
            s.add(AuditEntry(actor=actor, action=action, target=target, detail=detail[:2000]))
            s.commit()
