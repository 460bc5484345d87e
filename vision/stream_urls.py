"""Stream URLs as people may see them: the password hidden (no OpenCV here: the api imports this)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

HIDDEN = "***"   # what a hidden password reads as, in messages, logs and the api's answers


def masked(url: str) -> str:
    """The URL with its password replaced by ***, for messages, logs and the pages; anything else as it is
    (host, port, an IPv6 address in brackets, path and query), so two URLs are the same camera iff their
    masked forms are equal and their passwords are."""
    try:
        u = urlsplit(url)
        password = u.password
    except ValueError:       # not a URL one can split (a bad IPv6 address): nothing to hide in it
        return url
    if password is None:
        return url
    userinfo, _, hostport = u.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit((u.scheme, f"{user}:{HIDDEN}@{hostport}", u.path, u.query, u.fragment))


def is_hidden(url: str) -> bool:
    """Whether the URL's password is the *** of `masked` (a URL read back from the api, not typed)."""
    try:
        return urlsplit(url).password == HIDDEN
    except ValueError:
        return False
