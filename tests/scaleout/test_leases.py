"""Leases on the real Redis and PostgreSQL: one holder at a time, expiry, takeover, camera pools."""

from __future__ import annotations

import asyncio
import time

import pytest

from coordination.leases import CameraPool, Lease, PostgresLeaseStore, RedisLeaseStore, preferred_owner

pytestmark = pytest.mark.slow


@pytest.fixture(params=["redis", "postgres"])
def store(request: pytest.FixtureRequest, unique: str):  # type: ignore[no-untyped-def]
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        return RedisLeaseStore(url, prefix=f"sharpeyes:{unique}:lease:")
    return PostgresLeaseStore(request.getfixturevalue("pg_url"))


def test_one_holder_at_a_time_and_takeover_after_expiry(store, unique) -> None:  # type: ignore[no-untyped-def]
    name = unique + "-job"
    a = Lease(store, name, "a", ttl_s=1.0, margin_s=0.3)
    b = Lease(store, name, "b", ttl_s=1.0, margin_s=0.3)
    assert a.refresh() and a.held
    first_token = a.token
    assert not b.refresh() and not b.held
    assert a.refresh() and a.token == first_token  # renew keeps the token
    time.sleep(0.8)
    assert not a.held  # a trusts its lease less long than the store keeps it
    assert not b.refresh()  # ...and the store still refuses b
    time.sleep(0.4)
    assert b.refresh() and b.held
    assert b.token is not None and first_token is not None and b.token > first_token  # fencing token grows
    assert not a.refresh()  # a lost it
    b.release()
    assert a.refresh()
    a.release()


def test_holders_lists_only_live_leases(store, unique) -> None:  # type: ignore[no-untyped-def]
    store.acquire(unique + ":x:1", "w1", 5)
    store.acquire(unique + ":x:2", "w2", 0.3)
    store.acquire(unique + "_y", "w3", 5)  # '_' must not act as a LIKE wildcard
    time.sleep(0.5)
    assert store.holders(unique + ":x:") == {unique + ":x:1": "w1"}
    store.release(unique + ":x:1", "w1")
    assert store.holders(unique + ":x:") == {}


def test_camera_pool_spreads_and_fails_over(store, unique) -> None:  # type: ignore[no-untyped-def]
    cameras = [f"cam{i:02d}" for i in range(12)]
    pools = [CameraPool(store, unique, cameras, worker_id=f"w{i}", ttl_s=1.5,
                        heartbeat_s=0.2) for i in range(3)]
    for _ in range(3):
        for p in pools:
            p.tick()
    owned = [p.active() for p in pools]
    assert set().union(*owned) == set(cameras)
    assert sum(len(o) for o in owned) == len(cameras)  # no camera twice
    members = {p.worker_id for p in pools}
    for p, mine in zip(pools, owned, strict=True):
        assert all(preferred_owner(c, members) == p.worker_id for c in mine)
    # w0 dies without a word: its cameras move to the others once its leases expire.
    dead, alive = pools[0], pools[1:]
    t0 = time.monotonic()
    while True:
        for p in alive:
            p.tick()
        now = [p.active() for p in alive]
        assert not (now[0] & now[1])
        if set().union(*now) == set(cameras):
            break
        assert time.monotonic() - t0 < 5
        time.sleep(0.2)
    assert time.monotonic() - t0 >= 1.0  # not before the dead worker's lease ran out
    assert dead.active() == set()  # had it lived on without ticking, its own view expired first
    # A clean leave hands over at once.
    alive[0].leave()
    for _ in range(2):
        alive[1].tick()
    assert alive[1].active() == set(cameras)
    alive[1].leave()


def test_camera_pool_keeps_cameras_while_store_is_down(redis_url, unique) -> None:  # type: ignore[no-untyped-def]
    store = RedisLeaseStore(redis_url, prefix=f"sharpeyes:{unique}:lease:")
    pool = CameraPool(store, unique, ["a", "b"], worker_id="w", ttl_s=1.0, heartbeat_s=0.2)
    pool.tick()
    assert pool.active() == {"a", "b"}
    broken = RedisLeaseStore("redis://127.0.0.1:1/0")  # nothing listens there
    pool.store = broken
    for lease in pool.leases.values():
        lease.store = broken
    time.sleep(1.1)
    assert pool.tick() == {"a", "b"} and not pool.store_ok
    pool.keep_on_store_error = False
    assert pool.tick() == set()


def test_leader_loop_keeps_one_long_job_running_and_stops_it_when_the_store_goes(store, unique) -> None:  # type: ignore[no-untyped-def]
    from api.cluster.leader import LeaderLoop

    running: set[str] = set()
    most = [0]

    def factory_for(replica: str):  # type: ignore[no-untyped-def]
        async def job() -> None:
            running.add(replica)
            most[0] = max(most[0], len(running))
            try:
                await asyncio.sleep(3600)
            finally:
                running.discard(replica)
        return job

    async def main() -> None:
        loops = [LeaderLoop(store, unique, factory_for(f"r{i}"), holder=f"r{i}", ttl_s=1.2) for i in range(3)]
        tasks = [asyncio.create_task(lp.run_forever()) for lp in loops]
        await asyncio.sleep(1.0)
        assert len(running) == 1
        leader = int(next(iter(running))[1:])
        tasks[leader].cancel()
        await asyncio.gather(tasks[leader], return_exceptions=True)
        await asyncio.sleep(1.0)
        assert len(running) == 1 and f"r{leader}" not in running
        # The store becomes unreachable for everyone: the job must stop before the lease could move.
        broken = RedisLeaseStore("redis://127.0.0.1:1/0")
        for lp in loops:
            lp.lease.store = broken
        await asyncio.sleep(1.2)
        assert running == set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    assert most[0] == 1


def test_a_database_the_api_never_migrated_is_named_with_what_to_do(pg_url: str, unique: str) -> None:
    """The lease table is one of the api's migrations: a worker pointed at a bare database is told so."""
    from sqlalchemy import create_engine, text

    from coordination.leases import LeaseStoreError

    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    name = f"sharpeyes_bare_{unique.replace('-', '_')[:20]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    store = PostgresLeaseStore(pg_url.rsplit("/", 1)[0] + "/" + name)
    try:
        with pytest.raises(LeaseStoreError, match="no table sharpeyes_leases.*sharpeyes serve --db"):
            store.acquire("job:x", "a", 5.0)
    finally:
        store.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
