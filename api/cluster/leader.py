"""Background jobs (deadline checks, dispatch timeouts) that run on exactly one api replica at a time.

The replica that holds the job's lease (`coordination.leases.Lease`) runs it; when that replica dies the
lease expires and another one takes over after at most `ttl_s`. When the store is unreachable the job
stops: missing a deadline check for a few seconds is harmless, running it twice is not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from coordination.leases import Lease, LeaseStore, default_holder_id

log = logging.getLogger(__name__)


class LeaderLoop:
    """Keep `factory()` (a long-running coroutine, e.g. the patrol jobs) running on exactly one replica.

    It starts when this replica takes lease `job:<name>` and is cancelled the moment the lease's local
    validity ends without a renewal (a store outage, a slow renewal, another holder), before the store
    could give the lease to another replica.
    """

    def __init__(self, store: LeaseStore, name: str, factory: Callable[[], Awaitable[Any]],
                 holder: str | None = None, ttl_s: float = 15.0) -> None:
        self.lease = Lease(store, "job:" + name, holder or default_holder_id("api"), ttl_s=ttl_s,
                           margin_s=ttl_s / 5)
        self.factory = factory

    async def run_forever(self) -> None:
        heartbeat = self.lease.ttl_s / 4
        task: asyncio.Task[Any] | None = None
        try:
            while True:
                refresh = asyncio.ensure_future(asyncio.to_thread(self.lease.refresh))
                if task is not None:
                    # Wait for the renewal no longer than the lease stays valid.
                    done, _ = await asyncio.wait({refresh},
                                                 timeout=max(0.0, self.lease.valid_until - time.monotonic()))
                    if not done:
                        log.warning("lease %s renewal too slow: stopping the job", self.lease.name)
                        await _cancel(task)
                        task = None
                try:
                    ok = await refresh
                except Exception as exc:  # noqa: BLE001 - store outage
                    log.warning("lease store unreachable for %s: %s", self.lease.name, exc)
                    ok = False
                if task is not None and not (ok and self.lease.held):
                    log.warning("lease %s lost: stopping the job", self.lease.name)
                    await _cancel(task)
                    task = None
                if task is not None and task.done():
                    if not task.cancelled() and task.exception() is not None:
                        log.error("job %s stopped: %r; restarting it", self.lease.name, task.exception())
                    task = None
                if ok and self.lease.held and task is None:
                    log.info("%s runs %s", self.lease.holder, self.lease.name)
                    task = asyncio.ensure_future(self.factory())
                if task is not None:
                    until = self.lease.valid_until - time.monotonic()
                    await asyncio.wait({task}, timeout=max(0.0, min(heartbeat, until)))
                else:
                    await asyncio.sleep(heartbeat)
        finally:
            if task is not None:
                await _cancel(task)
            await asyncio.to_thread(self.lease.release)


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# ------------------------------------------------------------------------------------- camera pools
