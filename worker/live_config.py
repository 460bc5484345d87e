"""Cameras from the api (`sharpeyes worker --from-api`): the configs the cameras page stores, applied live.

The worker polls `GET /api/camera-configs/feed` every `POLL_S` seconds. A camera whose revision moved is
restarted alone: its thread is stopped (its source closed, its pipeline's `finish()` ends every running
event cleanly, so an event of a changed zone gets its `end`), then it starts again with the new config.
A camera that is gone or disabled is stopped; a new one is started. The other cameras never notice.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from worker.delivery import CameraRun
from worker.errors import WorkerError

log = logging.getLogger(__name__)
POLL_S = 2.0
FEED = "/api/camera-configs/feed"


def fetch_feed(http: httpx.Client, wait_s: float = 0.0) -> dict[str, Any] | None:
    """The api's feed, or None when it cannot be read now; keeps trying for `wait_s` seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            resp = http.get(FEED, timeout=5.0)
            if resp.status_code == 200:
                body = resp.json()
                return body if isinstance(body, dict) else None
            if resp.status_code in (401, 403):
                raise WorkerError(f"the api refused the worker key for the camera feed: {resp.text[:300]}")
            log.warning("camera feed: %d %s", resp.status_code, resp.text[:200])
        except httpx.HTTPError as exc:
            log.debug("camera feed not reachable: %s", exc)
        if time.monotonic() >= deadline:
            return None
        time.sleep(1.0)


def feed_config(feed: dict[str, Any], path: Path) -> tuple[Any, dict[str, int]]:
    """The feed as a checked SharpEyesConfig (written to `path` too, for a person to read) and the cameras'
    revisions. A camera the contract refuses (the api checked it, so only after a version skew) is left out
    and logged, never stopping the others."""
    from vision.config import parse_config
    from vision.errors import ConfigError

    cams = {name: c["config"] for name, c in (feed.get("cameras") or {}).items()}
    revisions = {name: int(c["revision"]) for name, c in (feed.get("cameras") or {}).items()}
    good: dict[str, Any] = {}
    for name, cam in cams.items():
        try:
            parse_config({"cameras": {name: cam}}, path)
            good[name] = cam
        except ConfigError as exc:
            log.error("camera %s not run: %s", name, exc)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"cameras": good}, sort_keys=False), encoding="utf-8")
    if not good:
        return None, {}
    return parse_config({"cameras": good}, path), {n: revisions[n] for n in good}


class LiveConfig:
    """The part of `Worker` that follows the api's camera configs; Worker provides the thread handling."""

    runs: dict[str, CameraRun]
    retired: dict[str, CameraRun]
    http: httpx.Client
    stop: threading.Event
    config_path: Path
    threads: dict[str, threading.Thread]
    registered: bool

    revisions: dict[str, int]
    restarts: dict[str, int]

    def _start_camera(self, name: str) -> None:
        raise NotImplementedError

    def _stop_camera(self, name: str) -> None:
        raise NotImplementedError

    def apply_feed(self, feed: dict[str, Any]) -> list[str]:
        """Restart, stop or start the cameras whose config changed; the names touched."""
        from vision.config import resolve_source

        config, revisions = feed_config(feed, self.config_path)
        touched: list[str] = []
        for name in sorted(set(self.revisions) - set(revisions)):          # removed or disabled
            self._stop_camera(name)
            self.retired[name] = self.runs[name]
            self.runs = {n: r for n, r in self.runs.items() if n != name}
            del self.revisions[name]
            touched.append(name)
            log.info("camera %s stopped: disabled or removed in the api", name)
        for name, rev in sorted(revisions.items()):
            if self.revisions.get(name) == rev:
                continue
            old = self.revisions.get(name)
            if old is not None:
                self._stop_camera(name)     # its pipeline's finish() ends the running events cleanly
                self.restarts[name] = self.restarts.get(name, 0) + 1
            cam = config.cameras[name]
            run = CameraRun(name, cam, resolve_source(self.config_path, cam.analysed_source()))
            self.runs = {**self.runs, name: run}
            self.retired.pop(name, None)
            self.revisions[name] = rev
            self._start_camera(name)
            touched.append(name)
            log.info("camera %s %s (config revision %s)", name, "restarted" if old is not None else "started",
                     rev)
        if touched:
            self.registered = False      # the api hears the new zones and cameras at the next send
        return touched

    def _follow_api(self) -> None:
        while not self.stop.wait(POLL_S):
            try:
                feed = fetch_feed(self.http)
                if feed is not None:
                    self.apply_feed(feed)
            except WorkerError as exc:
                log.error("%s", exc)
            except Exception:  # noqa: BLE001 - the config thread must not die silently
                log.exception("applying the api's camera configs failed; trying again")
