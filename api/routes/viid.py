"""GA/T 1400.4 视图库 endpoint (/VIID): registration with HTTP digest, keepalive, time, unregistration, the
capture devices (APEs) and the structured records; every answer in the standard's ResponseStatus form.

A request is the device's when its digest credentials are good, or (as devices do after registering) when
its `User-Identify` header names a device that registered from the same address and is online.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.context import Ctx
from api.db.models import Camera
from api.schemas import CameraOut
from api.services import viid_records
from api.services.viid import Viid
from api.services.viid_objects import KINDS, ListKind, ObjectError, Record, local_time, parse_list

log = logging.getLogger(__name__)
MEDIA = "application/VIID+JSON"
PRUNE_EVERY_S = 600.0    # old records (viid.keep_days) are forgotten this often


class ViidJSON(JSONResponse):
    media_type = MEDIA


_STATUS = {"content": {MEDIA: {"schema": {"type": "object", "description": "ResponseStatusObject or "
                                          "ResponseStatusListObject (docs/gat1400.md)"}}}}
ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"description": "JSON format (StatusCode 7) or content (8) invalid; nothing stored", **_STATUS},
    401: {"description": "Digest credentials missing or wrong, or not registered (StatusCode 4)", **_STATUS},
    403: {"description": "DeviceID is not the authenticated device (StatusCode 4)", **_STATUS},
    404: {"description": "GA/T 1400 not enabled (--viid), or the device never registered", **_STATUS},
    413: {"description": "Body over viid.max_body_bytes (StatusCode 4)", **_STATUS},
    429: {"description": "Too many failed digest attempts from this address (StatusCode 2)", **_STATUS},
}
router = APIRouter(prefix="/VIID", tags=["gat1400"], default_response_class=ViidJSON, responses=ANSWERS)
OK, BUSY, INVALID_OP, BAD_JSON_FORMAT, BAD_JSON_CONTENT = 0, 2, 4, 7, 8


class Refused(Exception):
    def __init__(self, http: int, code: int, text: str, challenge: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.http, self.code, self.text = http, code, text
        self.headers = {**(headers or {}), **({"WWW-Authenticate": challenge} if challenge else {})}


def _status(viid: Viid | None, url: str, code: int, text: str, oid: str = "") -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"RequestURL": url, "StatusCode": code, "StatusString": text, "Id": oid,
            "LocalTime": local_time(now, viid.tz) if viid else now.strftime("%Y%m%d%H%M%S")}


def _one(viid: Viid | None, request: Request, code: int, text: str, oid: str = "", http: int = 200,
         headers: dict[str, str] | None = None) -> ViidJSON:
    return ViidJSON({"ResponseStatusObject": _status(viid, request.url.path, code, text, oid)},
                    status_code=http, headers=headers)


def _refusal(viid: Viid | None, request: Request, exc: Refused) -> ViidJSON:
    return _one(viid, request, exc.code, exc.text, http=exc.http, headers=exc.headers or None)


def _viid(request: Request) -> tuple[Ctx, Viid]:
    ctx: Ctx = request.app.state.ctx
    if ctx.viid is None:
        raise Refused(404, INVALID_OP, "GA/T 1400 is not enabled here: start the api with --viid FILE "
                      "(docs/gat1400.md)")
    return ctx, ctx.viid


def _addr(request: Request) -> str:
    return request.client.host if request.client else ""


async def _body(request: Request, viid: Viid) -> object:
    limit = viid.config.section.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(413, INVALID_OP, f"body is {declared} bytes; the limit is {limit} bytes: send fewer "
                      "objects per request")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise Refused(413, INVALID_OP, f"body is over the limit of {limit} bytes: send fewer objects "
                          "per request")
    try:
        return json.loads(bytes(data).decode("utf-8-sig"), parse_constant=_no_constant)
    except RecursionError as exc:
        raise Refused(400, BAD_JSON_FORMAT, "body is nested too deeply for a GA/T 1400 object") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(400, BAD_JSON_FORMAT, f"body is not JSON: {exc}") from exc


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


async def _device(request: Request, viid: Viid, registering: bool = False) -> str:
    """The calling device's id, or Refused 401 with a digest challenge."""
    ctx: Ctx = request.app.state.ctx
    check = viid.digest.check(request.headers.get("authorization"), request.method, viid.passwords,
                              path=request.url.path)
    who_tried = f"viid:{check.username}"[:100]
    if check.username:   # failed digest attempts are limited per device and address, as logins are
        wait = await run_in_threadpool(ctx.limiter.retry_after, _addr(request), who_tried)
        if wait > 0:
            raise Refused(429, BUSY, f"too many failed attempts for device {check.username}: retry in "
                          f"{wait:.0f} s", headers={"Retry-After": str(int(wait) + 1)})
    if check.ok:
        await run_in_threadpool(ctx.limiter.succeeded, _addr(request), who_tried)
        return check.username
    who = request.headers.get("user-identify", "")
    if not registering and who and not request.headers.get("authorization") and \
            await run_in_threadpool(viid.is_online, who, _addr(request)):
        return who
    reason = check.reason if request.headers.get("authorization") or registering else (
        f"device {who} is not registered from this address: register first (/VIID/System/Register)"
        if who else "no credentials: register with HTTP digest, then send User-Identify")
    if check.username and not check.stale:
        await run_in_threadpool(ctx.limiter.failed, _addr(request), who_tried)
        await run_in_threadpool(ctx.audit, who_tried, "viid_auth_refused", request.url.path[:200], reason)
    raise Refused(401, INVALID_OP, reason, viid.digest.challenge(stale=check.stale))


def _named(body: object, outer: str, key: str = "DeviceID") -> str | None:
    inner = body.get(outer) if isinstance(body, dict) else None
    value = inner.get(key) if isinstance(inner, dict) else None
    return str(value) if value not in (None, "") else None


async def _system(request: Request, outer: str, action: str) -> ViidJSON:
    viid: Viid | None = None
    try:
        ctx, viid = _viid(request)
        device = await _device(request, viid, registering=action == "register")
        body = await _body(request, viid)
        named = _named(body, outer)
        if named is None:
            raise Refused(400, BAD_JSON_CONTENT, f"expected {{\"{outer}\": {{\"DeviceID\": \"...\"}}}}")
        if named != device:
            raise Refused(403, INVALID_OP, f"DeviceID {named} is not the authenticated device {device}")
        if action == "register":
            await run_in_threadpool(viid.register, device, _addr(request))
        elif action == "keepalive":
            if not await run_in_threadpool(viid.keepalive, device, _addr(request)):
                raise Refused(401, INVALID_OP, f"device {device} is not registered (or went offline after "
                              "missed keepalives): register again", viid.digest.challenge())
        elif not await run_in_threadpool(viid.unregister, device):
            raise Refused(404, INVALID_OP, f"device {device} was never registered")
        return _one(viid, request, OK, "OK", device)
    except Refused as exc:
        return _refusal(viid, request, exc)


@router.post("/System/Register", summary="Register a device (HTTP digest; RegisterObject)")
async def register(request: Request) -> ViidJSON:
    return await _system(request, "RegisterObject", "register")


@router.post("/System/Keepalive", summary="Keepalive of a registered device (KeepaliveObject)")
async def keepalive(request: Request) -> ViidJSON:
    return await _system(request, "KeepaliveObject", "keepalive")


@router.post("/System/UnRegister", summary="Unregister a device (UnRegisterObject)")
async def unregister(request: Request) -> ViidJSON:
    return await _system(request, "UnRegisterObject", "unregister")


@router.get("/System/Time", summary="This 视图库's time (SystemTimeObject), for the devices' clocks")
async def system_time(request: Request) -> ViidJSON:
    try:
        _, viid = _viid(request)
    except Refused as exc:
        return _refusal(None, request, exc)
    return ViidJSON({"SystemTimeObject": {"VIIDServerID": viid.config.section.server_id, "TimeMode": "1",
                                              "LocalTime": local_time(datetime.now(UTC), viid.tz),
                                              "TimeZone": viid.config.section.timezone}})


def _list(viid: Viid | None, request: Request, items: list[tuple[str, int, str]],
          http: int = 200) -> ViidJSON:
    return ViidJSON({"ResponseStatusListObject": {"ResponseStatusObject": [
        _status(viid, request.url.path, code, text, oid) for oid, code, text in items]}},
        status_code=http)


@router.post("/APEs", summary="Report capture devices (APEListObject)")
async def apes(request: Request) -> ViidJSON:
    viid: Viid | None = None
    try:
        _, viid = _viid(request)
        device = await _device(request, viid)
        body = await _body(request, viid)
        inner = body.get("APEListObject") if isinstance(body, dict) else None
        items = inner.get("APEObject") if isinstance(inner, dict) else None
        if not isinstance(items, list) or not all(isinstance(a, dict) and a.get("ApeID") for a in items):
            raise Refused(400, BAD_JSON_CONTENT, "expected {\"APEListObject\": {\"APEObject\": [{\"ApeID\": "
                          "\"...\", ...}]}}")
        done = await run_in_threadpool(viid.report_apes, device, items)
        return _list(viid, request, [(ape, OK, f"OK: {what}") for ape, what in done])
    except Refused as exc:
        return _refusal(viid, request, exc)


async def _records(request: Request, kind: ListKind) -> ViidJSON:
    viid: Viid | None = None
    try:
        _, viid = _viid(request)
        sender = await _device(request, viid)
        body = await _body(request, viid)
        parsed, whole = parse_list(kind, body, viid.tz, datetime.now(UTC))
        if whole is not None:
            raise Refused(400, BAD_JSON_CONTENT, whole)
        records = [r for _, r in parsed if isinstance(r, Record)]
        bad_images = await run_in_threadpool(viid_records.check_images, viid, records)
        errors: dict[str, str] = {oid: str(r) for oid, r in parsed if isinstance(r, ObjectError)}
        errors.update({records[i].object_id: str(e) for i, e in bad_images.items()})
        if errors:   # nothing of the list is stored: the device resends it whole once it is fixed
            first = next(iter(errors))
            return _list(viid, request, [(oid, BAD_JSON_CONTENT, errors.get(oid) or
                                          f"not stored: {first} of this list is invalid; fix it and send the "
                                          "list again") for oid, _ in parsed], http=400)
        answers = await run_in_threadpool(viid_records.store, viid, records, sender)
        return _list(viid, request, [(a.object_id, a.code, a.text) for a in answers])
    except Refused as exc:
        return _refusal(viid, request, exc)


def _route(kind: ListKind) -> None:
    async def post(request: Request) -> ViidJSON:
        return await _records(request, kind)

    router.add_api_route(f"/{kind.path}", post, methods=["POST"], name=f"viid_{kind.path}",
                         summary=f"Structured records: {kind.list_key} (answered per object)")


for _kind in KINDS.values():
    _route(_kind)


def publish_cameras(ctx: Ctx, rows: list[Camera]) -> None:
    for row in rows:
        item = CameraOut.model_validate(row).model_dump(mode="json")
        ctx.publish(f"cameras/{item['id']}/state", item)


async def sweep(ctx: Ctx) -> None:
    """Background job: devices silent past their keepalive go offline, and the pages are told."""
    assert ctx.viid is not None
    pruned_at = 0.0
    while True:
        await asyncio.sleep(1.0)
        try:
            publish_cameras(ctx, await asyncio.to_thread(ctx.viid.sweep))
            if time.monotonic() - pruned_at > PRUNE_EVERY_S:
                pruned_at = time.monotonic()
                while await asyncio.to_thread(viid_records.prune, ctx.viid) == viid_records.PRUNE_BATCH:
                    await asyncio.sleep(0.1)
        except Exception:   # noqa: BLE001 - the job must outlive a database hiccup
            log.exception("GA/T 1400 keepalive sweep failed; retrying")
