"""`sharpeyes worker`: runs the cameras of a config in one process and delivers what they see to the api.

One thread per camera (decode -> CameraPipeline -> events into the durable outbox), one sender thread
(outbox -> api, in order per camera, retries with capped backoff), one heartbeat thread (camera live state
every 2 s) and one thread pushing about two annotated frames per second per camera for the live view.
Nothing waits on the api: while it is down, events pile up in the outbox and leave when it is back.

Pool mode (`--pool NAME`, issue 7): instead of running every camera of the config, the worker joins a camera
pool (`coordination.leases.CameraPool`,
      leases in Redis or PostgreSQL) and runs only the cameras it holds a lease on.
A pool thread ticks every few seconds and starts or stops camera threads to match; a camera is stopped
(its thread joined) before its lease is released, so two workers never run it at once while the lease
store is reachable. A dead worker's leases expire after `ttl_s` (15 s) and the others claim its cameras on
their next tick (3 s). Events still go through the outbox; with `stream_url` they leave through the signed
Redis stream (`worker.stream.StreamProducer`) instead of `POST /api/ingest/events`, and are deleted from
the outbox only once an api replica has stored them, so a Redis outage only delays them.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from worker.delivery import CameraRun, Delivery
from worker.errors import WorkerError
from worker.live_config import LiveConfig, fetch_feed
from worker.outbox import Outbox
from worker.views import Views

log = logging.getLogger(__name__)
CLOSE_S = 12.0      # on SIGTERM, the longest the cameras get to close their sources (stream timeout + 1 s)
DRAIN_S = 15.0      # pool mode: on SIGTERM, how long to keep sending what the outbox holds


PipelineFactory = Callable[[str, Any, Path, Path], Any]
SourceFactory = Callable[..., Any]


def default_pipeline(name: str, camera: Any, config_path: Path, media_dir: Path) -> Any:
    """The real pipeline: the camera's detector, snapshots and clips written under `media_dir`."""
    from vision.detectors import create_detector
    from vision.pipeline import CameraPipeline

    detector = create_detector(camera.detector_section(), base_dir=config_path.resolve().parent)
    return CameraPipeline(name, camera, detector, media_dir=media_dir / name, config_path=config_path)


class Worker(Delivery, LiveConfig):
    """A config's cameras (or a pool's share of them), their threads, and the run until they end."""

    def __init__(
        self,
        config_path: Path | None,
        api: str,
        key: str,
        outbox: Path,
        *,
        cameras: list[str] | None = None,
        loop: bool = False,
        realtime: bool | None = None,
        pipeline_factory: PipelineFactory | None = None,
        source_factory: SourceFactory | None = None,
        media_dir: Path | None = None,
        journal: Path | None = None,
        pool: str | None = None,
        lease_url: str | None = None,
        stream_url: str | None = None,
        shards: int = 8,
        worker_id: str | None = None,
        pool_ttl_s: float = 15.0,
        pool_heartbeat_s: float = 3.0,
        upper: Any = None,
        from_api: bool = False,
    ) -> None:
        from vision.config import load_config, resolve_source

        self.from_api = from_api
        self.revisions: dict[str, int] = {}
        self.retired: dict[str, CameraRun] = {}
        self.restarts: dict[str, int] = {}
        if from_api:   # the cameras come from the api's feed (worker/live_config.py), applied live
            if pool or cameras:
                raise WorkerError("--from-api runs every enabled camera of the api: no --pool or --camera")
            self.config_path = Path(outbox).parent / "api-cameras.yaml"
            self.runs: dict[str, CameraRun] = {}
            names: list[str] = []
        else:
            if config_path is None:
                raise WorkerError("no camera config: give --config CFG.yaml, or --from-api")
            self.config_path = Path(config_path)
            config = load_config(self.config_path)
            names = cameras or list(config.cameras)
            unknown = [n for n in names if n not in config.cameras]
            if unknown:
                raise WorkerError(
                    f"{config_path}: no camera {unknown[0]!r} (cameras: {', '.join(config.cameras)})"
                )
            self.runs = {n: CameraRun(n, config.cameras[n], resolve_source(
                self.config_path, config.cameras[n].analysed_source())) for n in names}
        self.api = api.rstrip("/")
        headers = {"X-API-Key": key}
        if pool:
            headers["X-Worker-Pool"] = pool     # keys are bound to a pool: the api refuses another one
        self.http = httpx.Client(base_url=self.api, headers=headers, timeout=10.0)
        self.key = key
        self.pool_name = pool
        self.pool: Any = None
        if pool:
            from coordination.leases import CameraPool, default_holder_id, lease_store_from_url

            self.pool = CameraPool(lease_store_from_url(lease_url or "redis://127.0.0.1:6379/0"), pool, names,
                                   worker_id=worker_id or default_holder_id("worker"), ttl_s=pool_ttl_s,
                                   heartbeat_s=pool_heartbeat_s)
        self.stream_url = stream_url
        self.shards = shards
        self.producer: Any = None
        self.worker_name: str | None = None
        self.threads: dict[str, threading.Thread] = {}
        self.sources: dict[str, Any] = {}   # open sources by camera: a stop ends their wait for frames
        self._threads_lock = threading.Lock()
        self.outbox = Outbox(outbox)
        self.upper: Any = None    # worker.viid_upper.UpperPush: findings also go to an upper 视图库
        if upper is not None:
            from worker.viid_upper import UpperPush

            self.upper = UpperPush(upper, names, Path(outbox).with_name(Path(outbox).stem + "_viid.db"))
        self.loop = loop
        self.realtime = loop if realtime is None else realtime
        self.pipeline_factory = pipeline_factory or default_pipeline
        self.source_factory = source_factory
        self.media_dir = media_dir or Path(outbox).parent / "worker_media"
        self.stop = threading.Event()
        self.produced = (
            threading.Event()
        )  # every camera has stopped: the sender may end once the outbox is empty
        self.journal = journal.open("a", encoding="utf-8") if journal else None
        self._journal_lock = threading.Lock()
        self.fatal: WorkerError | None = None
        self.abandon = False   # Ctrl-C / SIGTERM: leave what is unsent in the outbox for the next start
        self.registered = False
        self.sent_events = 0
        self.sent_media = 0

    # --- cameras ----------------------------------------------------------------------------------------
    def _camera(self, run: CameraRun) -> None:
        from vision.sources import SourceState, open_source

        def on_state(s: SourceState) -> None:
            run.state, run.detail = s.live()
            run.fps = float(s.fps or 0.0)

        try:
            pipe = self.pipeline_factory(run.name, run.camera, self.config_path, self.media_dir)
            opener = self.source_factory or open_source
            src = opener(run.source, run.camera.analysis_fps(), realtime=self.realtime, loop=self.loop,
                         on_state=on_state)
            self.sources[run.name] = src
            t0 = time.time()
            views = Views()
            with src:
                for frame in src:
                    if self.stop.is_set() or run.halt.is_set():
                        break
                    if frame.wall_time is None:
                        # a file plays as if it started when the worker did: event times stay those of the
                        # clip
                        frame.wall_time = t0 + frame.t
                    run.state = "online"
                    self._enqueue(run, views.timed(pipe.process, frame), views.samples(pipe))
                    views.render(run, pipe, frame)
            self._enqueue(run, pipe.finish())
            run.state, run.detail = "offline", "source ended"
        except Exception as exc:  # one camera failing must not stop the others
            log.exception("camera %s stopped", run.name)
            run.state, run.error, run.detail = "offline", str(exc), f"stopped: {exc}"
        finally:
            self.sources.pop(run.name, None)
            run.finished = True

    def _enqueue(self, run: CameraRun, messages: list[Any], samples: list[Any] | None = None) -> None:
        items: list[tuple[str, dict[str, Any]]] = [("occupancy", s) for s in samples or []]   # parking zones
        for m in messages:
            items.append(("event", m.model_dump(mode="json")))
            run.last_event_at = m.wall_time or time.time()
            for kind in ("snapshot", "clip"):
                path = getattr(m, kind)
                if path and (m.id, kind) not in run.media_seen and Path(path).is_file():
                    run.media_seen.add((m.id, kind))
                    items.append(("media", {"event_id": m.id, "kind": kind, "path": str(path)}))
        self.outbox.put(run.name, items)
        if self.upper is not None:
            self.upper.offer(run.name, messages)
        if self.journal is not None and messages:
            with self._journal_lock:
                for m in messages:
                    self.journal.write(m.model_dump_json() + "\n")
                self.journal.flush()

    def _start_upper(self) -> None:
        if self.upper is not None:
            self.upper.start()

    def _reporting(self) -> list[CameraRun]:
        """Cameras whose live state this worker reports: all of them, or in pool mode those it runs."""
        if self.pool is None and not self.from_api:
            return list(self.runs.values())
        with self._threads_lock:
            return [self.runs[n] for n in self.threads]

    # --- pool mode --------------------------------------------------------------------------------------
    def _start_camera(self, name: str) -> None:
        run = self.runs[name]
        run.halt = threading.Event()
        run.finished, run.error = False, None
        if self.upper is not None:      # a camera the api's feed added: an APE id for the upper 视图库
            self.upper.add_cameras([name])
        t = threading.Thread(target=self._camera, args=(run,), name=f"camera-{name}", daemon=True)
        with self._threads_lock:
            self.threads[name] = t
        t.start()
        log.info("pool %s: camera %s started", self.pool_name or "-", name)

    def _stop_camera(self, name: str) -> None:
        """Stop a camera and wait for its thread (before its lease is released: no two workers at once)."""
        with self._threads_lock:
            t = self.threads.pop(name, None)
        if t is None:
            return
        self.runs[name].halt.set()
        self._end_source(name)  # a stream that is down sends no frame that would let the thread see `halt`
        t.join(30.0)
        if t.is_alive():
            log.error("camera %s did not stop within 30 s", name)
        log.info("pool %s: camera %s stopped", self.pool_name or "-", name)

    def _end_source(self, name: str) -> None:
        src = self.sources.get(name)
        stop = getattr(src, "stop", None)
        if stop is not None:
            stop()

    def _pool_loop(self) -> None:
        pool = self.pool
        try:
            while not self.stop.is_set():
                active = pool.tick(stop=self._stop_camera)
                with self._threads_lock:
                    running = set(self.threads)
                for name in sorted(running - active):
                    self._stop_camera(name)
                for name in sorted(active - running):
                    self._start_camera(name)
                self.stop.wait(pool.heartbeat_s)
        except Exception:  # noqa: BLE001 - the pool thread must not die silently
            log.exception("pool thread failed; stopping the worker")
            self.stop.set()
        finally:
            self._stop_all_cameras()
            pool.leave()

    def _live_loop(self) -> None:
        """--from-api: the api's cameras now, then every change to them, until the worker stops."""
        try:
            first = fetch_feed(self.http, wait_s=60.0)
            if first is None:
                raise WorkerError(f"no camera feed from {self.api} within 60 s: is the api running?")
            self.apply_feed(first)
            self._follow_api()
        except WorkerError as exc:
            log.error("%s", exc)
            self.fatal = exc
            self.stop.set()
        finally:
            self._stop_all_cameras()

    def _stop_all_cameras(self) -> None:
        with self._threads_lock:
            names = list(self.threads)
        for name in names:
            self._stop_camera(name)

    def _run_pool(self) -> int:
        sender = threading.Thread(target=self._sender, name="sender", daemon=True)
        self._start_upper()
        control = self._live_loop if self.from_api else self._pool_loop
        helpers = [threading.Thread(target=control, name="control", daemon=True),
                   threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True),
                   threading.Thread(target=self._frames, name="frames", daemon=True)]
        for t in [sender, *helpers]:
            t.start()
        try:
            while not self.stop.is_set():
                self.stop.wait(0.5)
        except KeyboardInterrupt:
            log.info("stopping; leaving pool %s", self.pool_name or "-")
        self.stop.set()
        helpers[0].join(40.0)       # cameras stopped and leases released: the others take over at once
        self.produced.set()
        # a clean stop (rolling restart) delivers what is left for a while; the rest waits for the next start
        deadline = time.monotonic() + DRAIN_S
        while sender.is_alive() and self.outbox.pending() and time.monotonic() < deadline:
            sender.join(0.2)
        self.abandon = True
        sender.join(5.0)
        log.info("%d item(s) stay in the outbox for the next start", self.outbox.pending())
        self.outbox.close()
        if self.upper is not None:
            self.upper.close()
        self.http.close()
        if self.journal is not None:
            self.journal.close()
        return 0

    def run(self) -> int:
        if self.pool is not None or self.from_api:
            return self._run_pool()
        cams = [threading.Thread(target=self._camera, args=(r,), name=f"camera-{r.name}", daemon=True)
                for r in self.runs.values()]
        sender = threading.Thread(target=self._sender, name="sender", daemon=True)
        helpers = [threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True),
                   threading.Thread(target=self._frames, name="frames", daemon=True)]
        self._start_upper()
        for t in [*cams, sender, *helpers]:
            t.start()
        try:
            for t in cams:
                while t.is_alive():
                    t.join(0.5)
            # sources ended (files without --loop): report them offline, deliver what is left, then stop
            self._final_state()
            self.stop.set()
            self.produced.set()
            while sender.is_alive():
                sender.join(0.5)
            while self.upper is not None and self.upper.outbox.pending():   # the upper 视图库's share too
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stop.set()
            self.abandon = True
            # each camera closes its source: a thread still inside FFmpeg when Python exits aborts the process
            # ("FATAL: exception not rethrown", exit 134). Not Thread.join: interrupted by the signal, it
            # marks
            # the thread stopped while it still runs (Python 3.11), so wait on the cameras' own flag.
            for name in list(self.sources):
                self._end_source(name)
            deadline = time.monotonic() + CLOSE_S
            while not all(r.finished for r in self.runs.values()) and time.monotonic() < deadline:
                time.sleep(0.05)
            log.info("stopping; %d item(s) stay in the outbox for the next start", self.outbox.pending())
        self.stop.set()
        sender.join(5.0)
        self.outbox.close()
        if self.upper is not None:
            self.upper.close()
        self.http.close()
        if self.journal is not None:
            self.journal.close()
        failed = [r for r in self.runs.values() if r.error]
        return 1 if failed and len(failed) == len(self.runs) else 0


def run_worker(config: Path | None, api: str, key: str, *, outbox: Path, cameras: list[str] | None = None,
               loop: bool = False, realtime: bool | None = None, journal: Path | None = None,
               pool: str | None = None, lease_url: str | None = None, stream_url: str | None = None,
               shards: int = 8, upper: Any = None, from_api: bool = False) -> int:
    worker = Worker(config, api, key, outbox, cameras=cameras, loop=loop, realtime=realtime, journal=journal,
                    pool=pool, lease_url=lease_url, stream_url=stream_url, shards=shards, upper=upper,
                    from_api=from_api)

    def _term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    where = (
        f"pool {pool} ({len(worker.runs)} camera(s) in the config)"
        if pool
        else "the api's cameras, applied live" if from_api else f"{len(worker.runs)} camera(s)"
    )
    via = f"{api}, events via the Redis stream {stream_url}" if stream_url else api
    print(f"worker: {where} -> {via} (outbox {outbox}, {worker.outbox.pending()} pending)", flush=True)
    if worker.upper is not None:
        apes = ", ".join(f"{name}={ape}" for name, ape in worker.upper.apes.items())
        print(f"worker: findings also go to the upper 视图库 {upper.url} as device {upper.device_id}; "
              f"cameras as APEs: {apes}", flush=True)
    rc = worker.run()
    if worker.fatal is not None:
        raise worker.fatal
    print(f"worker: sent {worker.sent_events} event steps and {worker.sent_media} media files", flush=True)
    return rc
