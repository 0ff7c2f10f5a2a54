"""Rescanning the repositories root (API-SPEC.md 6.2).

Repositories found on disk but not in the database are added, owned by the
first admin; repositories in the database but not on disk are reported, and
removed from the database when asked. One rescan runs at a time, across all
the processes sharing the database: a request for another waits for the
running one and then starts its own; a periodic run finding another process
at work leaves the work to it.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from kallithead.db.locks import SharedLock
from kallithead.db.repos import STATE_CREATED, STATE_PENDING, RepoRecord, RepoStore
from kallithead.db.settings import SettingsStore, as_bool
from kallithead.repositories import Build, Repositories
from kallithead.vcs.layout import Found, InvalidName, check_name

log = Logger()

# A creation (its pending row, its build folder) still for this long was cut
# off: the process stopped between its steps. A rescan then finishes or
# undoes it.
PENDING_GRACE = datetime.timedelta(hours=1)


@dataclass
class Outcome:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class Scanner:
    def __init__(
        self,
        repositories: Repositories,
        settings: SettingsStore,
        first_admin: Callable[[], Awaitable[int]],
        shared_lock: SharedLock,
    ) -> None:
        self._repositories = repositories
        self._settings = settings
        self._first_admin = first_admin
        # One rescan at a time in this process, and across the processes
        # sharing the database.
        self._lock = defer.DeferredLock()
        self._shared_lock = shared_lock

    @property
    def store(self) -> RepoStore:
        return self._repositories.store

    async def rescan(self, remove_obsolete: bool = False) -> Outcome:
        """Rescan now, after any rescan running here or elsewhere."""
        outcome = await self._locked_rescan(remove_obsolete, wait=True)
        assert outcome is not None
        return outcome

    async def rescan_unless_busy(self) -> Outcome | None:
        """Rescan unless another process sharing the database is rescanning
        (then None: that one does the work)."""
        return await self._locked_rescan(False, wait=False)

    @asynccontextmanager
    async def held_off(self) -> AsyncIterator[None]:
        """No rescan runs, here or in another process sharing the database,
        during the ``async with`` body: for work that changes folders and
        rows in two steps (a repository group's rename), which a rescan
        must not see half-done."""
        await self._lock.acquire()
        try:
            async with self._shared_lock.held(wait=True):
                yield
        finally:
            self._lock.release()

    async def _locked_rescan(self, remove_obsolete: bool, wait: bool) -> Outcome | None:
        await self._lock.acquire()
        try:
            async with self._shared_lock.held(wait) as held:
                if not held:
                    return None
                return await self._rescan(remove_obsolete)
        finally:
            self._lock.release()

    async def _rescan(self, remove_obsolete: bool) -> Outcome:
        scan = await self._repositories.scan()
        known = {repo.repo_name: repo for repo in await self.store.list()}
        outcome = Outcome()

        on_disk = set()
        new: list[Found] = []
        for repository in scan.found:
            # A repository already registered under a name kallithead would
            # not give (one taken over from Kallithea, say) is still there.
            on_disk.add(repository.name)
            if repository.name in known:
                continue
            try:
                check_name(repository.name)
            except InvalidName:
                log.warn(
                    "Rescan skips {name}: not a valid repository name",
                    name=repository.name,
                )
                continue
            new.append(repository)
        if new:
            outcome.added = await self._add(new)

        pending = {n: r for n, r in known.items() if r.repo_state == STATE_PENDING}
        await self._recover(pending, on_disk, scan.builds)
        outcome.removed = [
            name for name in known if name not in on_disk and name not in pending
        ]
        if remove_obsolete:
            for name in outcome.removed:
                try:
                    await self.store.forget(known[name].repo_id)
                except Exception:
                    log.failure("Rescan could not remove {name}", name=name)
        return outcome

    async def _recover(
        self,
        pending: dict[str, RepoRecord],
        on_disk: set[str],
        builds: list[Build],
    ) -> None:
        """Finish or undo the creations that a stopped process left half-way.

        Rows and build folders are left alone while anything about them is
        younger than PENDING_GRACE: a creation (a long clone, say) may still
        be under way. After that, a row whose folder is in place is marked
        created; a row without one is deleted, and so is a build folder.
        """
        stale = datetime.datetime.now() - PENDING_GRACE
        quiet_since = time.time() - PENDING_GRACE.total_seconds()
        building = {b.repo_id for b in builds if b.active_at >= quiet_since}
        for name, record in pending.items():
            if record.created_on >= stale or record.repo_id in building:
                continue
            try:
                if name in on_disk:
                    log.info("Rescan finishes creating {name}", name=name)
                    await self._repositories.finish(record)
                else:
                    log.info("Rescan removes the unfinished {name}", name=name)
                    await self.store.forget(record.repo_id)
            except Exception:
                log.failure("Rescan could not recover {name}", name=name)
        abandoned = [b for b in builds if b.active_at < quiet_since]
        for build in abandoned:
            log.info("Rescan removes the abandoned {path}", path=str(build.path))
        if abandoned:
            await self._repositories.remove_builds(abandoned)

    async def _add(self, new: list[Found]) -> list[str]:
        """Register repositories found on disk: one pass over them on a VCS
        thread (description and tip), one transaction for all their rows."""
        repositories = self._repositories
        details = await repositories.pool.run(repositories.describe_found, new)
        defaults = await self._settings.all()
        owner_id = await self._first_admin()
        entries = []
        for found, (description, tip) in zip(new, details, strict=True):
            if not description or description == "unknown":
                description = f"{found.name} repository"
            entries.append(
                {
                    "repo_name": found.name,
                    "repo_type": found.alias,
                    "repo_state": STATE_CREATED,
                    "user_id": owner_id,
                    "description": description,
                    "private": as_bool(defaults.get("default_repo_private")),
                    "clone_uri": None,
                    "landing_revision": "rev:tip",
                    "statistics": as_bool(
                        defaults.get("default_repo_enable_statistics")
                    ),
                    "downloads": as_bool(defaults.get("default_repo_enable_downloads")),
                    "enable_locking": as_bool(
                        defaults.get("default_repo_enable_locking")
                    ),
                    "changeset_cache": (
                        json.dumps(tip.summary) if tip.summary is not None else None
                    ),
                    "updated_on": tip.date,
                }
            )
        return await self.store.adopt_many(entries, owner_id)


class RescanTimer:
    """Rescans every ``interval`` seconds; runs never overlap, and a failed
    run is logged and the next one happens anyway."""

    def __init__(self, scanner: Scanner, interval: float, clock: IReactorTime) -> None:
        self._scanner = scanner
        self._interval = interval
        self._loop = LoopingCall(lambda: defer.Deferred.fromCoroutine(self._run()))
        self._loop.clock = clock
        # Runs started and finished (successfully or not), for observers.
        self.runs = 0
        self.finished = 0
        # Runs left to another process that was rescanning at the time.
        self.skipped = 0

    def start(self) -> None:
        if self._interval > 0:
            self._loop.start(self._interval, now=False)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    async def _run(self) -> None:
        self.runs += 1
        try:
            outcome = await self._scanner.rescan_unless_busy()
        except Exception:
            log.failure(
                "Periodic rescan failed; the next one is in {s} s", s=self._interval
            )
            return
        finally:
            self.finished += 1
        if outcome is None:
            self.skipped += 1
            log.info("Periodic rescan skipped: another process is rescanning")
            return
        if outcome.added:
            log.info("Rescan added {names}", names=", ".join(outcome.added))
