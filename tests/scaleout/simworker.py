"""A worker process for the fault and load test: simulated cameras instead of the vision pipeline.

Everything else is the real scale-out path: it joins a camera pool (`coordination.leases.CameraPool`), keeps
every
event step in a durable SQLite outbox, and sends them in order through the signed Redis stream
(`worker.stream.StreamProducer`), deleting a batch only once the api has stored it. Each produced step is
also written, in the same transaction as the outbox row, to a `produced` table the test reads afterwards.

    python -m tests.scaleout.simworker --name w1 --key KEY --pool north --cameras 50 --outbox w1.db \
        --redis redis://127.0.0.1:6379/0 --lease-url redis://... --period 20 --stop-file STOP
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sqlite3
import threading
import time
from pathlib import Path

from coordination.leases import CameraPool, lease_store_from_url
from vision.events import EventMessage
from worker.stream import StreamProducer, StreamRefused, StreamUnavailable

log = logging.getLogger("simworker")


class Outbox:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS outbox (n INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS produced (id TEXT, seq INTEGER, camera TEXT, worker TEXT,"
                        " wall_time REAL, PRIMARY KEY (id, seq))")
        self.lock = threading.Lock()

    def put(self, msg: EventMessage, worker: str) -> None:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("INSERT INTO outbox (body) VALUES (?)", (msg.model_dump_json(),))
            self.db.execute("INSERT INTO produced VALUES (?, ?, ?, ?, ?)", (msg.id, msg.seq, msg.camera,
                                                                            worker, msg.wall_time))
            self.db.execute("COMMIT")

    def peek(self, limit: int) -> list[tuple[int, EventMessage]]:
        with self.lock:
            rows = self.db.execute("SELECT n, body FROM outbox ORDER BY n LIMIT ?", (limit,)).fetchall()
        return [(n, EventMessage.model_validate_json(body)) for n, body in rows]

    def delete_upto(self, n: int) -> None:
        with self.lock:
            self.db.execute("DELETE FROM outbox WHERE n <= ?", (n,))


def drop(open_events: dict[str, object], camera: str) -> None:
    open_events.pop(camera, None)  # a camera handed over: its open event stays without an end


def sender(outbox: Outbox, producer: StreamProducer, stop: threading.Event) -> None:
    delay = 0.2
    while True:
        batch = outbox.peek(200)
        if not batch:
            if stop.is_set():
                return
            time.sleep(0.05)
            continue
        try:
            producer.send([m for _, m in batch])
            outbox.delete_upto(batch[-1][0])
            delay = 0.2
        except (StreamUnavailable, StreamRefused) as exc:
            log.warning("outbox keeps %d+ steps: %s", len(batch), exc)
            time.sleep(delay)
            delay = min(delay * 2, 3.0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--cameras", type=int, default=50)
    ap.add_argument("--outbox", type=Path, required=True)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--lease-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--period", type=float, default=20.0, help="mean seconds between events per camera")
    ap.add_argument("--stop-file", type=Path, required=True,
                    help="when it exists: stop producing, drain, exit")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO,
                        format=f"%(asctime)s {args.name} %(levelname)s %(name)s: %(message)s")

    outbox = Outbox(args.outbox)
    cameras = [f"sim{i:02d}" for i in range(args.cameras)]
    pool = CameraPool(lease_store_from_url(args.lease_url), args.pool, cameras,
                      worker_id=f"{args.name}:{os.getpid()}", ttl_s=15.0, heartbeat_s=3.0)
    producer = StreamProducer(args.redis, args.name, args.key, pool=args.pool, shards=args.shards,
                              timeout_s=8)
    stop = threading.Event()
    send_thread = threading.Thread(target=sender, args=(outbox, producer, stop), daemon=True)
    send_thread.start()

    rng = random.Random(os.getpid())
    instance = f"{args.name}.{os.getpid()}"
    counter = 0
    next_event: dict[str, float] = {}
    open_events: dict[str, tuple[EventMessage, float]] = {}
    next_tick = 0.0
    active: set[str] = set()
    while not args.stop_file.exists():
        now = time.time()
        if time.monotonic() >= next_tick:
            active = pool.tick(stop=lambda cam: drop(open_events, cam))  # type: ignore[arg-type]
            next_tick = time.monotonic() + pool.heartbeat_s
        for cam in sorted(active):
            pending = open_events.get(cam)
            if pending is not None and now >= pending[1]:
                msg = pending[0].model_copy(update={"lifecycle": "end", "seq": 1,
                                                    "end_s": pending[0].start_s + 2,
                                                    "wall_time": now})
                outbox.put(msg, args.name)
                del open_events[cam]
            if cam not in next_event:
                next_event[cam] = now + rng.uniform(0, args.period)
            if pending is None and now >= next_event[cam]:
                counter += 1
                msg = EventMessage(id=f"{cam}-{instance}-{counter}", lifecycle="new", seq=0, camera=cam,
                                   zone=f"z{counter % 3}", event="loitering", rule="presence", label="person",
                                   track_id=counter, first_seen_s=0.0, start_s=3.0, max_score=0.7,
                                   bbox=[10, 20, 30, 40], wall_time=now)
                outbox.put(msg, args.name)
                open_events[cam] = (msg, now + 2.0)
                next_event[cam] = now + rng.expovariate(1 / args.period)
        time.sleep(0.1)
    # End the open events so every event is complete, then drain the outbox and leave the pool.
    for _cam, (msg, _) in list(open_events.items()):
        outbox.put(msg.model_copy(update={"lifecycle": "end", "seq": 1, "wall_time": time.time()}), args.name)
    stop.set()
    send_thread.join()
    pool.leave()
    print(json.dumps({"worker": args.name, "drained": True}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
