"""The api's outer guard (pure ASGI, before any routing, parsing or sign-in work).

- Request bodies are bounded while they stream: a declared `Content-Length` over the limit is answered 413
  before a byte is read, and a body that grows past it (chunked, or lying about its length) is cut off with
  413 as soon as it does. JSON and other bodies get `max_body_bytes`; uploads (multipart) get the limit of
  their route (`UPLOAD_LIMITS`, first match; other multipart routes: a photo's), plus room for the form.
- An upload without any credential (no Authorization, X-API-Key or `?token=`) is refused 401 before its body
  is read, so nobody can make the server spool a file without signing in; except on the public routes
  (`Limits.public`: the residents' report page), which are bounded by their own limit and rate limits.
- A client that stops sending its body for `body_timeout_s` gets 408 and its connection back.
- A NUL byte in the path or the query is refused 400 (no database stores one; PostgreSQL refuses them).
- Every answer carries the security headers (`SECURITY_HEADERS`; a Content-Security-Policy for the pages).
The header read timeout (slow headers) is the server's: `api.http_server`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
# the pages load only their own scripts and styles; /docs (Swagger UI) loads from a CDN and keeps none
CSP = (b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       b"img-src 'self' data: blob:; connect-src 'self' ws: wss:; worker-src 'self'; "
       b"frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
NO_CSP_PREFIXES = ("/docs", "/redoc")
UPLOAD_FORM_SLACK = 1024 * 1024   # multipart boundaries and small form fields next to the file


@dataclass
class Limits:
    """The guard's settings (from `api.settings.Settings`)."""

    max_body_bytes: int = 4 * 1024 * 1024
    max_upload_bytes: int = 10 * 1024 * 1024           # multipart routes not in `uploads`
    uploads: list[tuple[re.Pattern[str], int]] = field(default_factory=list)   # (path regex, file limit)
    body_timeout_s: float = 30.0
    public: list[re.Pattern[str]] = field(default_factory=list)   # uploads that need no credential

    def for_request(self, path: str, content_type: str) -> int:
        for rx, limit in self.uploads:
            if rx.match(path):
                return limit + UPLOAD_FORM_SLACK
        if content_type.startswith("multipart/"):
            return self.max_upload_bytes + UPLOAD_FORM_SLACK
        return self.max_body_bytes


def _human(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


class BodyTooLarge(HTTPException):
    """Raised from `receive` (an HTTPException, so FastAPI's body parsing passes it on unchanged)."""

    code = "too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {_human(limit)} here: send less (smaller "
                              "batches, a smaller file)")
        self.limit = limit


class BodyTimeout(HTTPException):
    code = "timeout"

    def __init__(self, timeout_s: float) -> None:
        super().__init__(408, f"the request body did not arrive within {timeout_s:g} s: send it at once, "
                              "then retry")


def _header(scope: Scope, name: bytes) -> str:
    for k, v in scope.get("headers", ()):
        if k == name:
            return str(v.decode("latin-1"))
    return ""


def _has_credential(scope: Scope) -> bool:
    if _header(scope, b"authorization") or _header(scope, b"x-api-key"):
        return True
    return b"token=" in scope.get("query_string", b"")


async def _answer(send: Send, status: int, detail: str, code: str,
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail, "code": code}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
                            *(headers or []), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    def __init__(self, app: ASGIApp, limits: Callable[[], Limits]) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits()
        path: str = scope.get("path", "")
        if "\x00" in path or b"%00" in scope.get("query_string", b"") or b"\x00" in scope.get("query_string",
                                                                                                 b""):
            await _answer(send, 400, "NUL byte in the path or query: remove it", "invalid")
            return
        content_type = _header(scope, b"content-type").lower()
        limit = limits.for_request(path, content_type)
        declared = _header(scope, b"content-length")
        if declared:
            try:
                size = int(declared)
            except ValueError:
                await _answer(send, 400, "Content-Length is not a number", "invalid")
                return
            if size > limit:
                await _answer(send, 413, f"request body is {_human(size)}; the limit here is "
                                         f"{_human(limit)}: send less (smaller batches, a smaller file)",
                              "too_large")
                return
        if content_type.startswith("multipart/") and not _has_credential(scope) \
                and not any(rx.match(path) for rx in limits.public):
            await _answer(send, 401, "not signed in: an upload needs 'Authorization: Bearer TOKEN' or "
                                     "X-API-Key before its body is read", "unauthorized",
                          [(b"www-authenticate", b"Bearer")])
            return

        received = 0
        body_done = False
        started = False

        async def guarded_receive() -> Message:
            nonlocal received, body_done
            if body_done:   # after the body: only a disconnect is left to wait for (streams), no timeout
                return await receive()
            try:
                async with asyncio.timeout(limits.body_timeout_s):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(limits.body_timeout_s) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                if not message.get("more_body", False):
                    body_done = True
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if b"content-security-policy" not in names and not path.startswith(NO_CSP_PREFIXES):
                    headers.append((b"content-security-policy", CSP))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, guarded_receive, watched_send)
        except (BodyTooLarge, BodyTimeout) as exc:   # raised where no handler answered it
            if not started:
                await _answer(send, exc.status_code, exc.detail, exc.code)
