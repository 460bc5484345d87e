"""Patrol teams as the api stores them: a new team checked as patrol would read it, a team edited by an
admin (members, roster, timezone...), a team moved or set to a status by its leader or the control room."""

from __future__ import annotations

from sqlalchemy.orm import Session

import patrol
from api.db.models import Team, utcnow
from api.errors import Invalid
from api.services.dispatch import PatrolLink

TEAM_FIELDS = ("name", "leader", "members", "skills", "home_grid", "base", "roster", "exceptions", "timezone")


def create(session: Session, link: PatrolLink, key: str, data: dict[str, object],
           people: dict[str, dict[str, object]]) -> Team:
    """Add a team (the caller commits); Invalid, naming the key path, for what patrol would refuse."""
    check(link, key, data, people)
    team = Team(key=key, people=people, **data, status="available", place=data.get("base"))
    session.add(team)
    return team


def edit(link: PatrolLink, team: Team, changes: dict[str, object]) -> list[str]:
    """Apply an admin's changes to a team (the caller commits): the whole team as it would be is checked
    first, so a refused change leaves it as it was. The names of the fields that changed."""
    data: dict[str, object] = {k: getattr(team, k) for k in TEAM_FIELDS}
    people: dict[str, dict[str, object]] = dict(team.people or {})
    new_people = changes.pop("people", None)
    if isinstance(new_people, dict):
        people = new_people
    data.update(changes)
    if new_people is None and isinstance(data["members"], list):   # people of members that left go too
        people = {pid: p for pid, p in people.items() if pid in data["members"]}
    check(link, team.key, data, people)
    changed = sorted(k for k in TEAM_FIELDS if data[k] != getattr(team, k))
    if people != (team.people or {}):
        changed.append("people")
    for k in TEAM_FIELDS:
        setattr(team, k, data[k])
    team.people = people
    if changed:
        team.updated_at = utcnow()
    return changed


def check(link: PatrolLink, key: str, data: dict[str, object], people: dict[str, dict[str, object]]) -> None:
    """Invalid, naming the key path, for a team that patrol would refuse."""
    try:
        patrol.team_from_dict(key, {k: data[k] for k in TEAM_FIELDS})
        members = data["members"]
        for pid, person in people.items():
            patrol.Person.model_validate(person)
            if not isinstance(members, list) or pid not in members:
                raise patrol.PatrolError(f"teams.{key}.people: '{pid}' is not among members")
    except patrol.PatrolError as exc:
        raise Invalid(str(exc)) from exc
    except ValueError as exc:
        raise Invalid(f"teams.{key}.people: {exc}") from exc
    base = data.get("base")
    if isinstance(base, str) and not link.has_place(base):
        raise Invalid(f"teams.{key}.base: no place {base!r} on the site")


def move(link: PatrolLink, team: Team, status: str | None, place: str | None,
         position: list[float] | None) -> None:
    """Set a team's status and where it is (a place, or a position: the nearest place); caller commits."""
    if place is not None and not link.has_place(place):
        raise Invalid(f"no place {place!r} on the site")
    if status is not None:
        team.status = status
    if position is not None:
        team.position = position
        if place is None:
            team.place = link.nearest_place(position)
    if place is not None:
        team.place = place
    team.updated_at = utcnow()
