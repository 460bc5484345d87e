"""Errors of the camera worker a user can fix: the CLI prints them as one line and exits non-zero."""


class WorkerError(Exception):
    """A user-facing error: the message says what was wrong and what to do."""
