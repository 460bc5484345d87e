"""How a worker delivers to the api: camera registration, events and media from the outbox (HTTP, or the
signed Redis stream), the cameras' live state every 2 s and about two annotated frames a second.

Nothing waits on the api: while it is down, events pile up in the outbox and leave when it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from worker.errors import WorkerError
from worker.outbox import Item, Outbox

log = logging.getLogger(__name__)
HEARTBEAT_S = 2.0
FRAME_PUSH_S = 0.5
MAX_BACKOFF_S = 3.0
PERMANENT = {400, 404, 409, 413, 415, 422}   # the api will never take these as they are
DEBUG_WANTED = "X-Debug-Wanted"              # the api's answer to a live frame: send the debug view too
DEBUG_HOLD_S = 10.0
UNKNOWN_CAMERA = "unknown_camera"             # the api's error code (api.errors.UnknownCamera)


def error_code(resp: httpx.Response) -> str | None:
    """The `code` of an api error answer, if it has one."""
    try:
        body = resp.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


@dataclass
class CameraRun:
    name: str
    camera: Any                       # vision.config.Camera
    source: str
    state: str = "reconnecting"
    fps: float = 0.0
    detail: str = ""
    last_event_at: float | None = None
    jpeg: bytes | None = None
    jpeg_version: int = 0
    sent_version: int = 0
    finished: bool = False
    error: str | None = None
    next_try: float = 0.0
    failures: int = 0
    media_seen: set[tuple[str, str]] = field(default_factory=set)
    halt: threading.Event = field(default_factory=threading.Event)   # pool mode: stop this camera only
    load: float = 0.0                 # share of the camera thread's time in its pipeline (worker/views.py)
    debug_until: float = 0.0          # monotonic time until which the api wants the debug view too
    debug_jpeg: bytes | None = None
    debug_version: int = 0
    debug_sent: int = 0


class Delivery:
    """The worker's delivery threads (sender, heartbeat, frames); `Worker` owns the state they read."""

    runs: dict[str, CameraRun]
    retired: dict[str, CameraRun]     # cameras stopped for good (--from-api): what they left is still sent
    http: httpx.Client
    outbox: Outbox
    key: str
    pool_name: str | None
    stream_url: str | None
    shards: int
    producer: Any
    worker_name: str | None
    stop: threading.Event
    produced: threading.Event
    fatal: WorkerError | None
    abandon: bool
    registered: bool
    sent_events: int
    sent_media: int

    def _reporting(self) -> list[CameraRun]:
        raise NotImplementedError

    # --- delivery ---------------------------------------------------------------------------------------
    def _register(self) -> bool:
        body = [{"id": r.name, "name": r.name,
                 "place": r.camera.location.node if r.camera.location else None,
                 "zones": {z: zone.model_dump(mode="json") for z, zone in r.camera.zones.items()}}
                for r in self.runs.values()]
        if not body:          # --from-api with no camera enabled yet: nothing to register
            self.registered = True
            return True
        try:
            resp = self.http.post("/api/ingest/cameras", json=body)
        except httpx.HTTPError as exc:
            log.warning("api not reachable (%s); retrying", exc)
            return False
        if resp.status_code == 401:
            log.error("the api refused the worker key: %s", resp.text)
            return False
        if resp.status_code >= 500 or resp.status_code == 429:
            # e.g. two pool workers registering the same camera at once: the second try updates it
            log.warning("the api could not take the camera list now (%d); retrying", resp.status_code)
            return False
        if resp.status_code >= 400:
            raise WorkerError(f"the api refused the camera list: {resp.status_code} {resp.text}")
        rows = resp.json()
        if rows and isinstance(rows, list) and rows[0].get("worker"):
            self.worker_name = str(rows[0]["worker"])
        self.registered = True
        return True

    def _send(self, run: CameraRun, items: list[Item]) -> bool:
        """Send one head batch; True when the outbox moved on (sent or given up)."""
        if items[0].kind == "event" and self.stream_url:
            return self._send_stream(run, items)
        try:
            if items[0].kind in ("event", "occupancy"):
                resp = self.http.post(f"/api/ingest/{items[0].kind}s" if items[0].kind == "event" else
                                      "/api/ingest/occupancy", json=[i.body for i in items])
            else:
                b = items[0].body
                path = Path(b["path"])
                if not path.is_file():
                    self.outbox.dead(items, f"file {path} is gone")
                    return True
                with path.open("rb") as fh:
                    ctype = "video/mp4" if b["kind"] == "clip" else "image/jpeg"
                    resp = self.http.post("/api/ingest/media", data={"event_id": b["event_id"],
                                                                     "kind": b["kind"]},
                                          files={"file": (path.name, fh, ctype)}, timeout=60.0)
        except httpx.HTTPError as exc:
            log.debug("send failed for %s: %s", run.name, exc)
            return False
        if resp.status_code < 300:
            self.outbox.done([i.id for i in items])
            if items[0].kind == "event":
                self.sent_events += len(items)
            else:
                self.sent_media += 1
            return True
        if error_code(resp) == UNKNOWN_CAMERA:
            self.registered = False    # the api lost our cameras (a new database): register again
            return False
        if resp.status_code in PERMANENT and items[0].kind == "event" and len(items) > 1:
            # one bad step refuses its whole request: send them one by one, so only the bad ones are set
            # aside and the others are stored (in order; a transient failure keeps the rest for later)
            log.warning("api refused a batch of %d steps of %s (%d): sending them one at a time",
                        len(items), run.name, resp.status_code)
            return all(self._send(run, [one]) for one in items)
        if resp.status_code in PERMANENT:
            log.error("api refused %d %s item(s) of %s for good: %s", len(items), items[0].kind, run.name,
                      resp.text[:1000])
            self.outbox.dead(items, f"{resp.status_code} {resp.text[:500]}")
            return True
        return False      # 401 (key), 429, 5xx: keep the items, try again later

    def _send_stream(self, run: CameraRun, items: list[Item]) -> bool:
        """Events through the signed Redis stream; deleted from the outbox only once an api replica stored
        them."""
        from vision.events import EventMessage
        from worker.stream import StreamProducer, StreamRefused, StreamUnavailable

        if self.producer is None:
            if self.worker_name is None:
                return False
            self.producer = StreamProducer(self.stream_url or "", self.worker_name, self.key,
                                           pool=self.pool_name or "",
                                           shards=self.shards, timeout_s=10.0)
        try:
            self.producer.send([EventMessage.model_validate(i.body) for i in items])
        except StreamUnavailable as exc:
            log.debug("stream send failed for %s: %s", run.name, exc)
            return False
        except StreamRefused as exc:
            if exc.code == UNKNOWN_CAMERA:
                log.warning("%s; registering the cameras again", exc)
                self.registered = False
                return False
            # wrong key or pool: like a 401, keep the events (nothing is lost) and say so
            log.error("%s; %d event step(s) of %s stay in the outbox", exc, len(items), run.name)
            return False
        self.outbox.done([i.id for i in items])
        self.sent_events += len(items)
        return True

    def _sender(self) -> None:
        try:
            self._send_loop()
        except WorkerError as exc:      # e.g. the camera list refused for good: stop, say why
            log.error("%s", exc)
            self.fatal = exc
            self.abandon = True
            self.stop.set()

    def _send_loop(self) -> None:
        while True:
            if self.abandon or (self.produced.is_set() and self.outbox.pending() == 0):
                return
            if not self.registered and not self._register():
                time.sleep(1.0)
                continue
            moved = False
            now = time.monotonic()
            for name in self.outbox.cameras():
                run = self.runs.get(name) or self.retired.get(name)
                if run is None or now < run.next_try:
                    continue
                items = self.outbox.head(name)
                if not items:
                    continue
                if self._send(run, items):
                    run.failures, moved = 0, True
                else:
                    self.outbox.failed([i.id for i in items])
                    run.failures += 1
                    run.next_try = now + min(MAX_BACKOFF_S, 0.2 * 2 ** min(run.failures, 6))
            if not moved:
                time.sleep(0.05)

    def _heartbeat(self) -> None:
        while not self.stop.wait(HEARTBEAT_S):
            if not self.registered:
                continue
            body = [{"camera": r.name, "state": r.state, "fps": round(r.fps, 2), "detail": r.detail[:500],
                     "load": round(min(1.0, r.load), 3)} for r in self._reporting()]
            if not body:
                continue
            try:
                self.http.post("/api/ingest/cameras/state", json=body, timeout=5.0)
            except httpx.HTTPError:
                pass

    def _frames(self) -> None:
        while not self.stop.wait(FRAME_PUSH_S):
            if not self.registered:
                continue
            for r in self._reporting():
                if r.jpeg is not None and r.jpeg_version != r.sent_version:
                    r.sent_version = r.jpeg_version
                    try:
                        resp = self.http.put(f"/api/ingest/cameras/{r.name}/frame", content=r.jpeg,
                                             headers={"Content-Type": "image/jpeg"}, timeout=5.0)
                        if resp.headers.get(DEBUG_WANTED):   # someone watches its debug view
                            r.debug_until = time.monotonic() + DEBUG_HOLD_S
                    except httpx.HTTPError:
                        pass
                if r.debug_jpeg is not None and r.debug_version != r.debug_sent:
                    r.debug_sent = r.debug_version
                    try:
                        self.http.put(f"/api/ingest/cameras/{r.name}/frame", content=r.debug_jpeg,
                                      params={"view": "debug"}, headers={"Content-Type": "image/jpeg"},
                                      timeout=5.0)
                    except httpx.HTTPError:
                        pass

    def _final_state(self) -> None:
        body = [{"camera": r.name, "state": "offline", "fps": 0.0,
                 "detail": r.detail[:500]} for r in self.runs.values()]
        try:
            self.http.post("/api/ingest/cameras/state", json=body, timeout=5.0)
        except httpx.HTTPError:
            pass
