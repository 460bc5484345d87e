"""What the services need from the rest of the api, as interfaces (the composition root plugs them in)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from api.db.models import Incident
from api.services.policy import Policy
from api.settings import Settings
from vision.events import EventMessage


class Notifier(Protocol):
    """Tells the pages (and integrations) what changed: implemented by `api.live.topics.Topics`."""

    def incidents(self, session: Session, incidents: Sequence[Incident],
                  previous_team: Mapping[int,
                                         int | None] | None = None, fresh: set[int] | None = None,
                  snapshots: Mapping[int, int] | None = None) -> None:
        """Incidents changed (`fresh`: just opened, no media yet); `previous_team`: the team each had
        before; `snapshots`: the others' snapshots (media ids), when read already in the transaction."""
        ...

    def teams(self, session: Session, team_ids: Iterable[int]) -> None:
        """Teams whose status or place changed."""
        ...


class Dispatching(Protocol):
    def on_new_incidents(self, ids: list[int]) -> None:
        """Decide dispatch for incidents just opened."""
        ...


class Acting(Protocol):
    def on_new_events(self, messages: Sequence[EventMessage], new_ids: Sequence[str],
                      incident_of: dict[str, int]) -> int:
        """Fire the rule actions of events stored for the first time."""
        ...


class Services(Protocol):
    """What the services use of the app context (`api.context.Ctx` is one): they depend on this, not on
    the context, so the context may build them without an import cycle."""

    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def policy(self) -> Policy: ...

    @property
    def notify(self) -> Notifier: ...

    @property
    def patrol(self) -> Dispatching: ...

    @property
    def actions(self) -> Acting: ...

    def wants(self, topic: str) -> bool: ...

    def publish(self, topic: str, payload: dict[str, object], team_id: int | None = None) -> None: ...
