"""`sharpeyes worker`: runs the cameras of a config in one process and delivers what they see to the api.

One thread per camera (decode -> CameraPipeline -> events into the durable outbox), one sender thread
(outbox -> api, in order per camera, retries with capped backoff), one heartbeat thread (camera live state
every 2 s) and one thread pushing about two annotated frames per second per camera for the live view.
Nothing waits on the api: while it is down, events pile up in the outbox and leave when it is back.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx

from api.errors import ApiError
from api.outbox import Item, Outbox

log = logging.getLogger(__name__)
HEARTBEAT_S = 2.0
FRAME_PUSH_S = 0.5
MAX_BACKOFF_S = 3.0
PERMANENT = {400, 404, 409, 413, 415, 422}   # the api will never take these as they are


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


PipelineFactory = Callable[[str, Any, Path, Path], Any]
SourceFactory = Callable[..., Any]


def default_pipeline(name: str, camera: Any, config_path: Path, media_dir: Path) -> Any:
    """The real pipeline: the camera's detector, snapshots and clips written under `media_dir`."""
    from vision.detectors import create_detector
    from vision.pipeline import CameraPipeline

    detector = create_detector(camera.detector or None, base_dir=config_path.resolve().parent)
    return CameraPipeline(name, camera, detector, media_dir=media_dir / name, config_path=config_path)


class Worker:
    def __init__(self, config_path: Path, api: str, key: str, outbox: Path, *, cameras: list[str] | None = None,
                 loop: bool = False, realtime: bool | None = None, pipeline_factory: PipelineFactory | None = None,
                 source_factory: SourceFactory | None = None, media_dir: Path | None = None,
                 journal: Path | None = None) -> None:
        from vision.config import load_config, resolve_source

        self.config_path = Path(config_path)
        config = load_config(self.config_path)
        names = cameras or list(config.cameras)
        unknown = [n for n in names if n not in config.cameras]
        if unknown:
            raise ApiError(f"{config_path}: no camera {unknown[0]!r} (cameras: {', '.join(config.cameras)})")
        self.runs = {n: CameraRun(n, config.cameras[n], resolve_source(self.config_path, config.cameras[n].source))
                     for n in names}
        self.api = api.rstrip("/")
        self.http = httpx.Client(base_url=self.api, headers={"X-API-Key": key}, timeout=10.0)
        self.outbox = Outbox(outbox)
        self.loop = loop
        self.realtime = loop if realtime is None else realtime
        self.pipeline_factory = pipeline_factory or default_pipeline
        self.source_factory = source_factory
        self.media_dir = media_dir or Path(outbox).parent / "worker_media"
        self.stop = threading.Event()
        self.journal = journal.open("a", encoding="utf-8") if journal else None
        self._journal_lock = threading.Lock()
        self.abandon = False   # Ctrl-C / SIGTERM: leave what is unsent in the outbox for the next start
        self.registered = False
        self.sent_events = 0
        self.sent_media = 0

    # --- cameras ----------------------------------------------------------------------------------------
    def _camera(self, run: CameraRun) -> None:
        from vision.sources import SourceState, open_source

        def on_state(s: SourceState) -> None:
            run.state = {"online": "online", "connecting": "reconnecting", "reconnecting": "reconnecting"}.get(
                s.status, "offline")
            run.fps = float(s.fps or 0.0)
            run.detail = s.error or ("" if s.status != "reconnecting" else f"retry in {s.retry_in_s or 0:.0f} s")

        try:
            pipe = self.pipeline_factory(run.name, run.camera, self.config_path, self.media_dir)
            opener = self.source_factory or open_source
            src = opener(run.source, run.camera.detect.fps, realtime=self.realtime, loop=self.loop, on_state=on_state)
            t0 = time.time()
            last_push = 0.0
            with src:
                for frame in src:
                    if self.stop.is_set():
                        break
                    if frame.wall_time is None:
                        # a file plays as if it started when the worker did: event times stay those of the clip
                        frame.wall_time = t0 + frame.t
                    run.state = "online"
                    self._enqueue(run, pipe.process(frame))
                    now = time.monotonic()
                    if now - last_push >= FRAME_PUSH_S:
                        last_push = now
                        ok, buf = cv2.imencode(".jpg", pipe.annotate(frame), [cv2.IMWRITE_JPEG_QUALITY, 70])
                        if ok:
                            run.jpeg, run.jpeg_version = buf.tobytes(), run.jpeg_version + 1
            self._enqueue(run, pipe.finish())
            run.state, run.detail = "offline", "source ended"
        except Exception as exc:  # one camera failing must not stop the others
            log.exception("camera %s stopped", run.name)
            run.state, run.error, run.detail = "offline", str(exc), f"stopped: {exc}"
        finally:
            run.finished = True

    def _enqueue(self, run: CameraRun, messages: list[Any]) -> None:
        items: list[tuple[str, dict[str, Any]]] = []
        for m in messages:
            items.append(("event", m.model_dump(mode="json")))
            run.last_event_at = m.wall_time or time.time()
            for kind in ("snapshot", "clip"):
                path = getattr(m, kind)
                if path and (m.id, kind) not in run.media_seen and Path(path).is_file():
                    run.media_seen.add((m.id, kind))
                    items.append(("media", {"event_id": m.id, "kind": kind, "path": str(path)}))
        self.outbox.put(run.name, items)
        if self.journal is not None and messages:
            with self._journal_lock:
                for m in messages:
                    self.journal.write(m.model_dump_json() + "\n")
                self.journal.flush()

    # --- delivery ---------------------------------------------------------------------------------------
    def _register(self) -> bool:
        body = [{"id": r.name, "name": r.name,
                 "place": r.camera.location.node if r.camera.location else None,
                 "zones": {z: zone.model_dump(mode="json") for z, zone in r.camera.zones.items()}}
                for r in self.runs.values()]
        try:
            resp = self.http.post("/api/ingest/cameras", json=body)
        except httpx.HTTPError as exc:
            log.warning("api not reachable (%s); retrying", exc)
            return False
        if resp.status_code == 401:
            log.error("the api refused the worker key: %s", resp.text)
            return False
        if resp.status_code >= 400:
            raise ApiError(f"the api refused the camera list: {resp.status_code} {resp.text}")
        self.registered = True
        return True

    def _send(self, run: CameraRun, items: list[Item]) -> bool:
        """Send one head batch; True when the outbox moved on (sent or given up)."""
        try:
            if items[0].kind == "event":
                resp = self.http.post("/api/ingest/events", json=[i.body for i in items])
            else:
                b = items[0].body
                path = Path(b["path"])
                if not path.is_file():
                    self.outbox.dead(items, f"file {path} is gone")
                    return True
                with path.open("rb") as fh:
                    ctype = "video/mp4" if b["kind"] == "clip" else "image/jpeg"
                    resp = self.http.post("/api/ingest/media", data={"event_id": b["event_id"], "kind": b["kind"]},
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
        if resp.status_code == 404 and "unknown camera" in resp.text:
            self.registered = False    # the api lost our cameras (a new database): register again
            return False
        if resp.status_code in PERMANENT:
            log.error("api refused %d %s item(s) of %s for good: %s", len(items), items[0].kind, run.name, resp.text)
            self.outbox.dead(items, f"{resp.status_code} {resp.text[:500]}")
            return True
        return False      # 401 (key), 429, 5xx: keep the items, try again later

    def _sender(self) -> None:
        while True:
            if self.stop.is_set() and (self.abandon or self.outbox.pending() == 0):
                return
            if not self.registered and not self._register():
                time.sleep(1.0)
                continue
            moved = False
            now = time.monotonic()
            for name in self.outbox.cameras():
                run = self.runs.get(name)
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
            body = [{"camera": r.name, "state": r.state, "fps": round(r.fps, 2), "detail": r.detail[:500]}
                    for r in self.runs.values()]
            try:
                self.http.post("/api/ingest/cameras/state", json=body, timeout=5.0)
            except httpx.HTTPError:
                pass

    def _frames(self) -> None:
        while not self.stop.wait(FRAME_PUSH_S):
            if not self.registered:
                continue
            for r in self.runs.values():
                if r.jpeg is not None and r.jpeg_version != r.sent_version:
                    r.sent_version = r.jpeg_version
                    try:
                        self.http.put(f"/api/ingest/cameras/{r.name}/frame", content=r.jpeg,
                                      headers={"Content-Type": "image/jpeg"}, timeout=5.0)
                    except httpx.HTTPError:
                        pass

    def run(self) -> int:
        cams = [threading.Thread(target=self._camera, args=(r,), name=f"camera-{r.name}", daemon=True)
                for r in self.runs.values()]
        sender = threading.Thread(target=self._sender, name="sender", daemon=True)
        helpers = [threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True),
                   threading.Thread(target=self._frames, name="frames", daemon=True)]
        for t in [*cams, sender, *helpers]:
            t.start()
        try:
            for t in cams:
                while t.is_alive():
                    t.join(0.5)
            # sources ended (files without --loop): report them offline, deliver what is left, then stop
            self._final_state()
            self.stop.set()
            while sender.is_alive():
                sender.join(0.5)
        except KeyboardInterrupt:
            self.stop.set()
            self.abandon = True
            log.info("stopping; %d item(s) stay in the outbox for the next start", self.outbox.pending())
        self.stop.set()
        sender.join(5.0)
        self.outbox.close()
        self.http.close()
        if self.journal is not None:
            self.journal.close()
        failed = [r for r in self.runs.values() if r.error]
        return 1 if failed and len(failed) == len(self.runs) else 0

    def _final_state(self) -> None:
        body = [{"camera": r.name, "state": "offline", "fps": 0.0, "detail": r.detail[:500]} for r in self.runs.values()]
        try:
            self.http.post("/api/ingest/cameras/state", json=body, timeout=5.0)
        except httpx.HTTPError:
            pass


def run_worker(config: Path, api: str, key: str, *, outbox: Path, cameras: list[str] | None = None,
               loop: bool = False, realtime: bool | None = None, journal: Path | None = None) -> int:
    worker = Worker(config, api, key, outbox, cameras=cameras, loop=loop, realtime=realtime, journal=journal)

    def _term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    print(f"worker: {len(worker.runs)} camera(s) -> {api} (outbox {outbox}, {worker.outbox.pending()} pending)",
          flush=True)
    rc = worker.run()
    print(f"worker: sent {worker.sent_events} event steps and {worker.sent_media} media files", flush=True)
    return rc
