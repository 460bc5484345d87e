"""Errors a user can fix, each naming the item that is wrong."""


class PatrolError(Exception):
    """A user-facing error in a site, team, shift or rule description."""
