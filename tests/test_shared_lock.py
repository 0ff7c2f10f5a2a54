"""Locks across the processes sharing a database, and the rescans using them.

Another process is played by another session on the same database: a second
Database object, or a plain connection of the test's own engine. Those cases
need PostgreSQL or MariaDB (``KALLITHEAD_TEST_DB_URL``, as `.ci/run` sets
it); on SQLite, which is never shared between processes, the lock is always
free.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import defer, reactor, task

from kallithead.config import Settings
from kallithead.db.locks import SharedLock, lock_key
from kallithead.db.pool import Database
from kallithead.tasks.rescan import RescanTimer
from kallithead.vcs.hg import BACKEND as HG


def _backend(settings: Settings) -> str:
    return sa.engine.make_url(settings.database.url).get_backend_name()


@pytest.fixture
def server_database(settings: Settings) -> Settings:
    if _backend(settings) not in ("postgresql", "mysql"):
        pytest.skip("needs a database server (KALLITHEAD_TEST_DB_URL)")
    return settings


@pytest_twisted.async_yield_fixture
async def gateways(settings: Settings) -> AsyncIterator[tuple[Database, Database]]:
    """Two gateways on the test database, as two processes would have."""
    first = Database.from_url(settings.database.url, 2, reactor)
    second = Database.from_url(settings.database.url, 2, reactor)
    first.start()
    second.start()
    yield first, second
    first.stop()
    second.stop()


@contextmanager
def held_elsewhere(engine: sa.Engine, name: str) -> Iterator[sa.Connection]:
    """Hold the lock ``name`` from a session of the test's own, with the
    database's own statements; yields that session's connection."""
    connection = engine.connect()
    try:
        if engine.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(name)}
            )
        else:
            got = connection.execute(
                sa.text("SELECT GET_LOCK(:n, 5)"), {"n": f"kallithead.{name}"}
            ).scalar()
            assert got == 1
        connection.commit()
        yield connection
    finally:
        # End the session (returned to the pool, it would keep the lock).
        connection.invalidate()
        connection.close()


def release_elsewhere(connection: sa.Connection, name: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)}
        )
    else:
        connection.execute(
            sa.text("SELECT RELEASE_LOCK(:n)"), {"n": f"kallithead.{name}"}
        )
    connection.commit()


async def _pause(seconds: float) -> None:
    await task.deferLater(reactor, seconds, lambda: None)


# --- the lock itself -------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_on_sqlite_the_lock_is_always_free(settings, gateways):
    if _backend(settings) != "sqlite":
        pytest.skip("SQLite only")
    first, second = gateways
    one = SharedLock(first, "job", reactor)
    other = SharedLock(second, "job", reactor)
    assert not one.enforced
    async with one.held(wait=False) as got_one:
        async with other.held(wait=False) as got_other:
            assert (got_one, got_other) == (True, True)


def test_lock_keys_are_stable_and_distinct():
    assert lock_key("rescan") == lock_key("rescan")
    assert lock_key("rescan") != lock_key("mirror-pulls")
    assert 0 <= lock_key("rescan") < 2**63


@pytest_twisted.ensureDeferred
async def test_a_held_lock_is_refused_to_another_session(server_database, gateways):
    first, second = gateways
    one = SharedLock(first, "job", reactor)
    other = SharedLock(second, "job", reactor)
    assert one.enforced
    async with one.held(wait=False) as got_one:
        assert got_one is True
        async with other.held(wait=False) as got_other:
            assert got_other is False
    async with other.held(wait=False) as got_after:
        assert got_after is True


@pytest_twisted.ensureDeferred
async def test_locks_of_other_names_are_independent(server_database, gateways):
    first, second = gateways
    async with SharedLock(first, "job", reactor).held(wait=False) as got_one:
        async with SharedLock(second, "other", reactor).held(wait=False) as got:
            assert (got_one, got) == (True, True)


@pytest_twisted.ensureDeferred
async def test_a_waiting_caller_gets_the_lock_once_it_is_released(
    server_database, gateways, engine
):
    first, _ = gateways
    order: list[str] = []

    async def wait_for_it() -> None:
        async with SharedLock(first, "job", reactor).held(wait=True) as got:
            order.append(f"got {got}")

    with held_elsewhere(engine, "job") as holder:
        waiting = defer.Deferred.fromCoroutine(wait_for_it())
        await _pause(0.6)
        assert order == [] and not waiting.called
        order.append("released")
        release_elsewhere(holder, "job")
        await waiting
    assert order == ["released", "got True"]


@pytest_twisted.ensureDeferred
async def test_the_lock_is_free_once_its_holders_session_ends(
    server_database, gateways, engine
):
    first, _ = gateways
    lock = SharedLock(first, "job", reactor)
    with held_elsewhere(engine, "job"):
        async with lock.held(wait=False) as got:
            assert got is False
    # The holder's session ended without unlocking, like a process that died.
    async with lock.held(wait=False) as got:
        assert got is True


@pytest_twisted.ensureDeferred
async def test_the_lock_is_released_when_the_body_fails(server_database, gateways):
    first, second = gateways
    with pytest.raises(RuntimeError):
        async with SharedLock(first, "job", reactor).held(wait=False):
            raise RuntimeError("the work failed")
    async with SharedLock(second, "job", reactor).held(wait=False) as got:
        assert got is True


# --- rescans across processes ------------------------------------------------------


async def _settle(timer: RescanTimer, runs: int) -> None:
    for _ in range(3000):
        if timer.finished >= runs:
            return
        await _pause(0.01)
    raise AssertionError(f"{runs} rescan(s) did not finish in 30 s")


async def _names(server) -> list[str]:
    return [r["repo_name"] for r in (await server.call("get_repos")).result]


@pytest_twisted.ensureDeferred
async def test_a_periodic_rescan_is_left_to_a_process_already_rescanning(
    server_database, server, engine
):
    clock = task.Clock()
    timer = RescanTimer(server.service.scanner, 60, clock)
    HG.create(server.service.settings.vcs.repos_root / "dropped")
    timer.start()
    try:
        with held_elsewhere(engine, "rescan"):
            clock.advance(60)
            await _settle(timer, 1)
            assert (timer.runs, timer.skipped) == (1, 1)
            assert await _names(server) == []
        clock.advance(60)
        await _settle(timer, 2)
        assert (timer.runs, timer.skipped) == (2, 1)
        assert await _names(server) == ["dropped"]
    finally:
        timer.stop()


@pytest_twisted.ensureDeferred
async def test_rescan_repos_waits_for_a_rescan_in_another_process(
    server_database, server, engine
):
    HG.create(server.service.settings.vcs.repos_root / "dropped")
    with held_elsewhere(engine, "rescan") as holder:
        call = defer.Deferred.fromCoroutine(server.call("rescan_repos"))
        await _pause(0.6)
        assert not call.called
        release_elsewhere(holder, "rescan")
        reply = await call
    assert reply.result == {"added": ["dropped"], "removed": []}
