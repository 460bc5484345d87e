"""A camera added by its ONVIF address: its media profiles and their RTSP stream URIs, read with a maintained
ONVIF client (onvif-zeep-async). No discovery (multicast): the address is given."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from api.services.camera_checks import ConfigInvalid, FieldError

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class OnvifStream:
    token: str
    name: str
    width: int | None
    height: int | None
    uri: str                 # as the camera gives it
    source: str              # the URI with the credentials in it, ready to be the camera's source


def with_credentials(uri: str, username: str, password: str) -> str:
    if not username:
        return uri
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _refused(field: str, message: str) -> ConfigInvalid:
    return ConfigInvalid("", [FieldError(field, message)])


async def _read(host: str, port: int, username: str, password: str) -> list[OnvifStream]:
    from onvif import ONVIFCamera
    from zeep.exceptions import Fault

    cam = ONVIFCamera(host, port, username, password)
    try:
        try:
            await cam.update_xaddrs()
            media = await cam.create_media_service()
            profiles = await media.GetProfiles()
        except Fault as exc:
            text = str(exc)
            if "authori" in text.lower() or "auth" in text.lower():
                raise _refused("password", f"the camera refused the user name or password ({text})") from None
            raise _refused("host", f"the camera answered with an ONVIF fault: {text}") from None
        out = []
        for p in profiles:
            req = media.create_type("GetStreamUri")
            req.ProfileToken = p.token
            req.StreamSetup = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
            uri = str((await media.GetStreamUri(req)).Uri)
            enc = getattr(p, "VideoEncoderConfiguration", None)
            res = getattr(enc, "Resolution", None)
            out.append(OnvifStream(str(p.token), str(getattr(p, "Name", "") or p.token),
                                   int(res.Width) if res is not None else None,
                                   int(res.Height) if res is not None else None,
                                   uri, with_credentials(uri, username, password)))
        return out
    finally:
        await cam.close()


async def onvif_streams(host: str, port: int, username: str, password: str,
                        timeout_s: float = TIMEOUT_S) -> list[OnvifStream]:
    """The camera's profiles with their stream URIs; ConfigInvalid at the field that is wrong."""
    try:
        streams = await asyncio.wait_for(_read(host, port, username, password), timeout_s)
    except ConfigInvalid:
        raise
    except TimeoutError:
        raise _refused("host", f"no ONVIF answer from {host}:{port} within {timeout_s:.0f} s; check the "
                               "address and port (often 80 or 8080)") from None
    except Exception as exc:  # noqa: BLE001 - the client raises many kinds; the page shows what it said
        raise _refused("host", f"could not read ONVIF profiles from {host}:{port}: "
                               f"{type(exc).__name__}: {exc}") from None
    if not streams:
        raise _refused("host", f"the camera at {host}:{port} has no media profile")
    return streams
