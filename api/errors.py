"""User-facing errors of the api package and its CLI."""


class ApiError(Exception):
    """A user-facing error: the message says what was wrong and what to do."""
