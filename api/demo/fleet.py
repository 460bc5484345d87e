"""The demo's simulated sensor fleet (docs/sensors.md), so a newcomer sees each kind within minutes:

- three 关爱 households with remote water meters and four weeks of daily routine behind them:
  王奶奶 (ordinary days), 李爷爷 (no water for 13 h in his usual hours: an elderly-care incident at the first
  check) and 张奶奶 (water running without a stop for 5 h: a leak incident at her next reading);
- a smoke detector in building 2 that raises an alarm a minute after the start (a top-severity incident);
- a gas detector that only reports (its health on GET /api/sensors/devices);
- a simulated parking zone whose count drifts, for the free spaces in the control room.
Everything goes through the same service as real devices (`Sensors.accept`), with real timestamps.
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import datetime, timedelta
from typing import Any

from api.db.models import utcnow
from api.db.sensor_models import Device, Occupancy
from api.errors import DomainError

log = logging.getLogger(__name__)
KEY = "demo-device-key-not-secret"
HOUSEHOLDS = [  # id, name, place, contact, phone, story
    ("b1-0302", "王奶奶", "b1_stair", "王小明（儿子）", "13800000001", "ordinary"),
    ("b2-0601", "李爷爷", "b2_stair", "刘网格（网格员）", "13800000002", "silent"),
    ("b3-1101", "张奶奶", "b3_stair", "张丽（女儿）", "13800000003", "leak"),
]
PARKING = ("demo_parking", "north_lot", 12)   # camera id, zone, capacity (simulated)


def _routine(hour: int, story: str, hours_ago: float) -> float:
    """Litres in one hour of a household's day (relative to the demo's start, so each story shows at any
    time of day): water in 14 of every 24 hours, none in the other 10."""
    rel = int(hours_ago) % 24
    if story == "silent" and hours_ago < 13:
        return 0.0
    if rel >= 14:   # its night, 14-24 h before the same hour of the start
        return 0.0
    return 4.0 + (hour * 7 + rel * 3) % 17


class SensorFleet:
    def __init__(self, ctx: Any, every_s: float = 30.0, days: int = 28) -> None:
        self.ctx = ctx
        self.days = days
        self.every_s = every_s
        self.stop_event = threading.Event()
        self.index: dict[str, float] = {}
        self.rng = random.Random(14)
        self._thread: threading.Thread | None = None
        self.count = 7

    def _send(self, device: str, kind: str, at: datetime, value: float | None = None, **kw: Any) -> None:
        body: dict[str, object] = {"key": KEY, "time": at.isoformat(), **kw}
        if value is not None:
            body["value"] = round(value, 2)
        try:
            self.ctx.sensors.accept(device, kind, body)
        except DomainError as exc:
            log.debug("demo fleet: %s", exc)

    def seed(self) -> None:
        """Households, devices and their history (once: a restarted demo keeps what it has)."""
        with self.ctx.sessions() as s:
            if s.get(Device, "smoke-b2-kitchen") is not None:   # seeded before: go on from the meters' index
                for hid, *_ in HOUSEHOLDS:
                    dev = s.get(Device, f"wm-{hid}")
                    if dev is not None and dev.last_value is not None:
                        self.index[hid] = dev.last_value
                return
        now = utcnow()
        for hid, name, place, contact, phone, story in HOUSEHOLDS:
            self.ctx.sensors.add_household(hid, name, place, True, contact, phone)
            self.ctx.sensors.add_device(f"wm-{hid}", "water_meter", place, hid, key=KEY)
            index, t = 1000.0, now - timedelta(days=self.days)
            step = timedelta(hours=1)
            while t <= now:
                hours_ago = (now - t).total_seconds() / 3600
                if story == "leak" and hours_ago <= 5:
                    step = timedelta(minutes=15)
                    index += 2.5
                else:
                    index += _routine(t.hour, story, hours_ago) * step / timedelta(hours=1)
                self._send(f"wm-{hid}", "reading", t, index, battery=90)
                t += step
            self.index[hid] = index
        self.ctx.sensors.add_device("smoke-b2-kitchen", "smoke", "b2_stair", "b2-0601", key=KEY)
        self.ctx.sensors.add_device("gas-b1-boiler", "gas", "b1_stair", key=KEY)

    def tick(self, first: bool) -> None:
        now = utcnow()
        for hid, _, _, _, _, story in HOUSEHOLDS:
            if hid not in self.index:
                continue
            if story == "leak":
                self.index[hid] += 2.5
            elif story == "ordinary" and self.rng.random() < 0.3:
                self.index[hid] += self.rng.uniform(1, 8)
            self._send(f"wm-{hid}", "reading", now, self.index[hid], battery=89)
        self._send("smoke-b2-kitchen", "reading", now, 0.0, unit="%/m", battery=76)
        self._send("gas-b1-boiler", "reading", now, 0.5, unit="%LEL", battery=64)
        if first:
            self._send("smoke-b2-kitchen", "alarm", now, 12.0, unit="%/m", battery=76)
        self.count = max(0, min(PARKING[2], self.count + self.rng.choice([-1, 0, 0, 1, 1])))
        with self.ctx.sessions() as s:   # simulated: no camera behind it
            s.add(Occupancy(camera_id=PARKING[0], zone=PARKING[1], at=now, count=self.count,
                            capacity=PARKING[2]))
            s.commit()

    def _run(self) -> None:
        try:
            self.seed()
            first = True
            while not self.stop_event.wait(60.0 if first else self.every_s):
                self.tick(first)
                first = False
        except Exception:   # the demo goes on without its fleet
            log.exception("demo sensor fleet stopped")

    def start(self) -> SensorFleet:
        self._thread = threading.Thread(target=self._run, name="demo-fleet", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
