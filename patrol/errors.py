"""Errors a user can fix, each naming the item that is wrong."""

from pydantic import ValidationError


class PatrolError(Exception):
    """A user-facing error in a site, team, shift or rule description."""


def first_error(exc: ValidationError) -> tuple[str, str]:
    """(key path, message) of the error to report: an unknown key before anything else, since a misspelt key
    (`leadr`) is also a missing one (`leader`), and the unknown key is what the user has to change."""
    errors = exc.errors()
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return loc, f"unknown key '{err['loc'][-1]}' (check its spelling against the documented keys)"
    return loc, str(err["msg"]).removeprefix("Value error, ")
