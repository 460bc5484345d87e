"""The topic messages of changes made by the services: incidents to the control room and the teams'
task lists, team status to the map. Implements `api.services.ports.Notifier`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from sqlalchemy.orm import Session

from api.db.models import Incident, Team
from api.schemas import TeamOut
from api.views import incidents_out, incidents_out_plain, publish_incidents

Publish = Callable[[str, dict[str, object], int | None], None]


class Topics:
    def __init__(self, publish: Publish) -> None:
        self._publish = publish

    def publish(self, topic: str, payload: dict[str, object], team_id: int | None = None) -> None:
        self._publish(topic, payload, team_id)

    def incidents(self, session: Session, incidents: Sequence[Incident],
                  previous_team: Mapping[int,
                                         int | None] | None = None, fresh: set[int] | None = None,
                  snapshots: Mapping[int, int] | None = None) -> None:
        if not incidents:
            return
        fresh = fresh or set()
        items = incidents_out(session, [i for i in incidents if i.id not in fresh], snapshots=snapshots)
        items += incidents_out_plain(session, [i for i in incidents if i.id in fresh])
        publish_incidents(self, items, dict(previous_team or {}))

    def teams(self, session: Session, team_ids: Iterable[int]) -> None:
        for tid in sorted(set(team_ids)):
            t = session.get(Team, tid)
            if t is not None:
                self.publish("teams", TeamOut.model_validate(t).model_dump(mode="json"), t.id)
