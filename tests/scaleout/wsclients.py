"""Websocket clients for the fault and load test: each records every message it receives.

Each client connects to one replica and, when the connection drops (replica killed, resync after a fan-out
gap, slow client), reconnects to the next replica with capped backoff, as the pages do. Messages go to
OUT/<client>.jsonl as {"t": receive unix time, "topic", "payload", "conn": connection number}.

    python -m tests.scaleout.wsclients --out DIR --stop-file STOP --client NAME=TOKEN@PORT[,PORT...] ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import websockets


async def client(name: str, token: str, ports: list[int], out: Path, stop_file: Path) -> None:
    conn = 0
    delay = 0.1
    with (out / f"{name}.jsonl").open("a") as fh:
        while not stop_file.exists():
            port = ports[conn % len(ports)]
            conn += 1
            try:
                async with websockets.connect(f"ws://127.0.0.1:{port}/ws?token={token}", open_timeout=5,
                                              ping_interval=5, ping_timeout=5, max_size=None) as ws:
                    delay = 0.1
                    while not stop_file.exists():
                        try:
                            raw = await asyncio.wait_for(ws.recv(), timeout=1.0)
                        except TimeoutError:
                            continue
                        msg = json.loads(raw)
                        fh.write(json.dumps({"t": time.time(), "conn": conn, "port": port, **msg}) + "\n")
                        fh.flush()
            except Exception as exc:  # noqa: BLE001 - any drop: reconnect elsewhere
                fh.write(json.dumps({"t": time.time(), "conn": conn, "port": port, "topic": "_closed",
                                     "payload": {"why": repr(exc)[:200]}}) + "\n")
                fh.flush()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--stop-file", type=Path, required=True)
    ap.add_argument("--client", action="append", required=True, help="NAME=TOKEN@PORT,PORT,...")
    args = ap.parse_args()
    tasks = []
    for spec in args.client:
        name, rest = spec.split("=", 1)
        token, ports = rest.rsplit("@", 1)
        tasks.append(client(name, token, [int(p) for p in ports.split(",")], args.out, args.stop_file))
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main())
