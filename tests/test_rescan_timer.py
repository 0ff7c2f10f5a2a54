"""The periodic rescan, driven by a fake clock."""

from __future__ import annotations

import pytest_twisted
import sqlalchemy as sa
from twisted.internet import defer, reactor, task
from twisted.logger import globalLogPublisher

from kallithead.tasks.rescan import RescanTimer
from kallithead.vcs.hg import BACKEND as HG


async def _settle(timer: RescanTimer, runs: int) -> None:
    """Wait until ``runs`` rescans have finished (the work is on threads)."""
    for _ in range(3000):
        if timer.finished >= runs:
            return
        await task.deferLater(reactor, 0.01)
    raise AssertionError(f"{runs} rescan(s) did not finish in 30 s")


@pytest_twisted.ensureDeferred
async def test_timer_adds_repositories_found_on_disk(server):
    clock = task.Clock()
    timer = RescanTimer(server.service.scanner, 60, clock)
    timer.start()
    try:
        HG.create(server.service.settings.vcs.repos_root / "dropped")
        clock.advance(59)
        assert timer.runs == 0
        clock.advance(1)
        assert timer.runs == 1
        await _settle(timer, 1)
        names = [r["repo_name"] for r in (await server.call("get_repos")).result]
        assert names == ["dropped"]
    finally:
        timer.stop()


@pytest_twisted.ensureDeferred
async def test_runs_never_overlap(server):
    clock = task.Clock()
    timer = RescanTimer(server.service.scanner, 10, clock)
    timer.start()
    try:
        clock.advance(10)
        # The first run is still working on its threads: time passing does
        # not start a second one beside it.
        clock.advance(10)
        clock.advance(10)
        assert timer.runs == 1
        await _settle(timer, 1)
        clock.advance(10)
        assert timer.runs == 2
        await _settle(timer, 2)
    finally:
        timer.stop()


@pytest_twisted.ensureDeferred
async def test_failed_run_is_logged_and_the_next_one_happens(server, engine):
    clock = task.Clock()
    timer = RescanTimer(server.service.scanner, 30, clock)
    events = []
    globalLogPublisher.addObserver(events.append)
    timer.start()
    try:
        with engine.begin() as c:
            c.execute(sa.text("ALTER TABLE repositories RENAME TO repositories_away"))
        clock.advance(30)
        await _settle(timer, 1)
        with engine.begin() as c:
            c.execute(sa.text("ALTER TABLE repositories_away RENAME TO repositories"))
        failures = [e for e in events if e.get("log_failure") is not None]
        assert len(failures) == 1
        HG.create(server.service.settings.vcs.repos_root / "later")
        clock.advance(30)
        assert timer.runs == 2
        await _settle(timer, 2)
        names = [r["repo_name"] for r in (await server.call("get_repos")).result]
        assert names == ["later"]
    finally:
        globalLogPublisher.removeObserver(events.append)
        timer.stop()


@pytest_twisted.ensureDeferred
async def test_interval_zero_turns_the_timer_off(server):
    clock = task.Clock()
    timer = RescanTimer(server.service.scanner, 0, clock)
    timer.start()
    clock.advance(10_000)
    assert timer.runs == 0
    timer.stop()
    await defer.succeed(None)
