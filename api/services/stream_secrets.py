"""Stream passwords stay on the server. A camera's `source` and `detect_source` (rtsp://user:password@host/...)
leave the api with the password as *** (the pages, the config's history, the YAML export), as they leave the
worker's logs; only the workers' feed and an admin's export with `passwords=true` carry them.

A URL that comes back with *** (a camera edited in the page, an exported file imported again, a source
tried again) is the stored URL whose masked form it is: same scheme, user, host, port and path, so the
password goes nowhere it was not already sent. One that matches no stored URL is refused at its field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from api.services.camera_checks import ConfigInvalid, FieldError
from vision.stream_urls import is_hidden, masked

URL_FIELDS = ("source", "detect_source")
NOT_KNOWN = ("its password is hidden (***) and no stored camera has this address: type the camera's "
             "password in place of ***")


def hide(config: dict[str, object]) -> dict[str, object]:
    """The config with the password of each stream URL as ***."""
    out = dict(config)
    for field in URL_FIELDS:
        value = out.get(field)
        if isinstance(value, str):
            out[field] = masked(value)
    return out


def known_urls(configs: Iterable[dict[str, object]]) -> dict[str, str]:
    """Masked form -> stored URL, for every stored stream URL that has a password."""
    out: dict[str, str] = {}
    for config in configs:
        for field in URL_FIELDS:
            value = config.get(field)
            if isinstance(value, str) and masked(value) != value:
                out.setdefault(masked(value), value)
    return out


def reveal(url: str, known: Callable[[], dict[str, str]], field: str = "source") -> str:
    """`url` itself, or the stored URL its *** stands for; ConfigInvalid at `field` if none."""
    if not is_hidden(url):
        return url
    real = known().get(url)
    if real is None:
        raise ConfigInvalid("", [FieldError(field, NOT_KNOWN)])
    return real


def restore(name: str, config: dict[str, object], known: Callable[[], dict[str, str]]) -> dict[str, object]:
    """The config with each *** password put back from the stored URL it stands for; ConfigInvalid naming
    every field whose URL matches none (`known` is called only when a password is hidden)."""
    hidden = {f: v for f in URL_FIELDS if isinstance(v := config.get(f), str) and is_hidden(v)}
    if not hidden:
        return config
    urls = known()
    errors = [FieldError(f, NOT_KNOWN) for f, v in hidden.items() if v not in urls]
    if errors:
        raise ConfigInvalid(name, errors)
    return {**config, **{f: urls[v] for f, v in hidden.items()}}
