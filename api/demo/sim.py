"""Simulated patrol leaders for `sharpeyes demo --simulate-teams`.

Each simulated leader signs in and uses the same HTTP api as the phone page: accepts a new task after a few
seconds, walks the site graph's path to the incident (positions sent as it goes, faster than real time),
arrives, and resolves with a photo and a note marked as simulated. Nothing here bypasses the api.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)
ACCEPT_AFTER_S = 4.0
WALK_S = 15.0          # the whole walk is shown in this many seconds, whatever its length
RESOLVE_AFTER_S = 6.0
TICK_S = 1.5
NOTE = "（模拟）已到场处置 / (simulated) handled on site"


@dataclass
class _Task:
    seen_at: float
    state: str
    walk: list[tuple[float, float]] = field(default_factory=list)
    walk_started: float = 0.0
    arrived_at: float = 0.0


def _photo(text: str) -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (640, 480), (60, 70, 90))
    d = ImageDraw.Draw(im)
    d.rectangle([20, 20, 620, 460], outline=(240, 160, 48), width=6)
    d.text((40, 220), text, fill=(255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _interpolate(points: list[tuple[float, float]], f: float) -> tuple[float, float]:
    if len(points) == 1 or f <= 0:
        return points[0]
    if f >= 1:
        return points[-1]
    lengths = [((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) ** 0.5 for a, b in zip(points, points[1:],
                                                                                strict=False)]
    goal = f * sum(lengths)
    for (a, b), seg in zip(zip(points, points[1:], strict=False), lengths, strict=False):
        if goal <= seg and seg > 0:
            r = goal / seg
            return (a[0] + (b[0] - a[0]) * r, a[1] + (b[1] - a[1]) * r)
        goal -= seg
    return points[-1]


class SimulatedLeader:
    def __init__(self, base_url: str, name: str, password: str, site: Any) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.name, self.password, self.site = name, password, site
        self.team_id: int | None = None
        self.tasks: dict[int, _Task] = {}

    def sign_in(self) -> None:
        r = self.http.post("/api/auth/login", json={"username": self.name, "password": self.password})
        r.raise_for_status()
        body = r.json()
        self.http.headers["Authorization"] = f"Bearer {body['access_token']}"
        self.team_id = body["user"]["team_id"]

    def _act(self, inc_id: int, action: str, reason: str = "") -> None:
        r = self.http.post(f"/api/incidents/{inc_id}/actions", json={"action": action, "reason": reason})
        if r.status_code >= 400:
            log.info("simulated %s: %s #%s refused: %s", self.name, action, inc_id, r.text[:200])

    def _position(self, xy: tuple[float, float]) -> None:
        self.http.patch(f"/api/teams/{self.team_id}/status", json={"position": [round(xy[0], 1),
                                                                                round(xy[1], 1)]})

    def _path(self, team: dict[str, Any], inc: dict[str, Any]) -> list[tuple[float, float]]:
        places = self.site.config.places if self.site is not None else {}
        start, goal = team.get("place"), inc.get("place")
        if self.site is not None and start in places and goal in places:
            try:
                return [tuple(p) for p in self.site.path_xy(start, goal)]  # type: ignore[misc]
            except Exception:  # noqa: BLE001 - no path: walk straight
                pass
        pts = [tuple(team["position"])] if team.get("position") else []
        if goal in places:
            pts.append(tuple(places[goal].xy))
        return pts or [(0.0, 0.0)]

    def tick(self) -> None:
        if self.team_id is None:
            self.sign_in()
        now = time.monotonic()
        tasks = self.http.get("/api/tasks").raise_for_status().json()
        for inc in tasks:
            t = self.tasks.setdefault(inc["id"], _Task(seen_at=now, state=inc["state"]))
            if inc["state"] != t.state:
                t.state, t.seen_at = inc["state"], now
            can = set(inc.get("allowed_actions", []))   # what the server lets this leader do now
            if "accept" in can and now - t.seen_at >= ACCEPT_AFTER_S:
                self._act(inc["id"], "accept")
            elif "arrive" in can:
                if not t.walk:
                    team = self.http.get(f"/api/teams/{self.team_id}").raise_for_status().json()
                    t.walk, t.walk_started = self._path(team, inc), now
                f = (now - t.walk_started) / WALK_S
                self._position(_interpolate(t.walk, f))
                if f >= 1:
                    self._act(inc["id"], "arrive")
            elif "resolve" in can and now - t.seen_at >= RESOLVE_AFTER_S:
                files = {"file": ("photo.jpg", _photo(f"SIMULATION #{inc['id']}"), "image/jpeg")}
                self.http.post(f"/api/incidents/{inc['id']}/photos", files=files, data={"note": NOTE})
                self._act(inc["id"], "resolve", NOTE)


class TeamSimulator:
    def __init__(self, base_url: str, leaders: list[Any]) -> None:
        site = None
        try:
            import patrol

            site = patrol.load_site(patrol.DEMO_SITE)
        except Exception:  # noqa: BLE001 - walk in straight lines without the site
            log.warning("simulator: demo site not loaded; teams walk in straight lines")
        self.leaders = [SimulatedLeader(base_url, a.name, a.password, site) for a in leaders]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="team-simulator", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()

    def _run(self) -> None:
        while not self.stopped.wait(TICK_S):
            for leader in self.leaders:
                try:
                    leader.tick()
                except httpx.HTTPError as exc:
                    log.info("simulator: %s: %s (retrying)", leader.name, exc)
                    leader.team_id = None
