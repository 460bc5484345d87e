"""Errors of the api: the user-facing error of the CLI, and the domain errors the services raise.

Services know nothing of HTTP: they raise a `DomainError` subclass, and `HTTP_STATUS` below is the one
table that maps each to its status code (`api.app` answers `{"detail": message, "code": code}`). The
`code` is stable, so a client (the worker) can act on it without reading the message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar


class ApiError(Exception):
    """A user-facing error of the CLI: the message says what was wrong and what to do."""


class DomainError(Exception):
    """Something the caller asked for that the domain refuses; the message says why and what to do."""

    code: ClassVar[str] = "refused"

    def extra(self) -> dict[str, object]:
        """More of the answer than the message (e.g. each refused field of a camera config)."""
        return {}


class NotFound(DomainError):
    code = "not_found"


class UnknownCamera(NotFound):
    """An event, state or frame for a camera the api does not know: the worker registers it again."""

    code = "unknown_camera"

    def __init__(self, camera: str) -> None:
        super().__init__(f"unknown camera {camera!r}: register it first "
                         "(POST /api/ingest/cameras; the worker does this from its config)")
        self.camera = camera


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    """An action not allowed in the current state, or a clash with what is stored."""

    code = "conflict"


class Exists(Conflict):
    code = "exists"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} exists already")


class Invalid(DomainError):
    """A request missing what it needs, or breaking a rule (a reason, a team, a wrong code)."""

    code = "invalid"


class TooLarge(DomainError):
    code = "too_large"


class UnsupportedMedia(DomainError):
    code = "unsupported_media"


class TooMany(DomainError):
    """Too many requests from one address or phone number in the window; nothing was stored."""

    code = "too_many"


class StorageUnavailable(DomainError):
    """The media folder is full or not writable: nothing was stored, the caller retries later."""

    code = "storage_unavailable"


HTTP_STATUS: dict[type[DomainError], int] = {
    StorageUnavailable: 503,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    Invalid: 422,
    TooLarge: 413,
    UnsupportedMedia: 415,
    TooMany: 429,
    DomainError: 400,
}


def http_status(exc: DomainError) -> int:
    """The status of the nearest class of `exc` in the table."""
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]  # type: ignore[index]
    return 400


@contextmanager
def after_commit(what: str) -> Iterator[None]:
    """Work after a commit (publishing, dispatch): a failure there is logged, never turned into an error
    answer, because what was asked for is stored and a retry would store it twice."""
    try:
        yield
    except Exception:
        logging.getLogger("api.after_commit").exception("%s failed after the commit (what was stored stays)",
                                                        what)
