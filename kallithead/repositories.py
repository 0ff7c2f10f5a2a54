"""Repositories as a whole: rows in the database and folders on disk.

Creating, forking, deleting, pulling and rescanning each take a database step
and a disk step. They are ordered, and undone on failure, so that neither an
orphan row nor an orphan folder stays behind:

- create / fork: reserve the row (state pending: the unique name decides a
  race), build the repository in a hidden temporary folder and rename it into
  place, mark the row created. A failed disk step deletes the row; a failed
  last step moves the folder aside and deletes the row.
- delete: move the folder aside (``rm__<stamp>__<name>``), then delete the
  rows; if that fails, the folder is moved back.

Disk work runs on the VCS thread pool, database work on the database pool.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from twisted.logger import Logger

from kallithead.db.repos import RepoRecord, RepoStore, Reservation
from kallithead.threads import WorkerPool
from kallithead.vcs.base import Backend, Repository, Tree, VcsError
from kallithead.vcs.layout import (
    Found,
    RepositoryRoot,
    archive_name,
    build_folder_name,
    build_folder_repo_id,
    check_name,
    parent_of,
    short_name,
)
from kallithead.vcs.summary import changeset_summary

log = Logger()

# How many shareable repositories stay open between operations.
KEPT_OPEN = 256
KEPT_OPEN_PER_THREAD = 32
# How many listed trees (get_repo_nodes) are remembered.
KEPT_TREES = 128
# How often a creation tries to build when its group folder vanishes under it.
BUILD_ATTEMPTS = 3
_FULL_ID = re.compile(r"[0-9a-f]{40}\Z")


class BadCloneUri(ValueError):
    """A clone URI that may not be used: only http(s) URLs may."""


def check_clone_uri(uri: str) -> str:
    """The URI itself if the server may clone or pull from it.

    Local paths and other schemes are refused for everyone: they would let
    API callers read the server's disk.
    """
    parts = urlsplit(uri)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadCloneUri(uri)
    return uri


@dataclass(frozen=True)
class Build:
    """The folder a repository is being built in (or was, by a creation cut
    off half-way): for which row, and when anything in it was last written."""

    path: Path
    repo_id: int | None
    active_at: float


@dataclass(frozen=True)
class Scan:
    """What a scan of the repositories root found."""

    found: list[Found]
    builds: list[Build]


def _last_written(folder: Path) -> float | None:
    """The newest modification time of ``folder`` and of anything in it;
    None if it is gone (renamed into place since it was seen)."""
    try:
        newest = folder.stat().st_mtime
    except OSError:
        return None
    for parent, dirs, files in os.walk(folder):
        for entry in (*dirs, *files):
            try:
                newest = max(newest, os.lstat(os.path.join(parent, entry)).st_mtime)
            except OSError:
                continue
    return newest


@dataclass(frozen=True)
class Tip:
    summary: dict[str, Any] | None
    date: datetime.datetime | None


class Repositories:
    """Everything that touches a repository's folder, with its rows."""

    def __init__(
        self,
        store: RepoStore,
        root: RepositoryRoot,
        backends: Mapping[str, Backend],
        pool: WorkerPool,
    ) -> None:
        self.store = store
        self.root = root
        self.backends = backends
        self.pool = pool
        self._kept: OrderedDict[Path, Repository] = OrderedDict()
        self._trees: OrderedDict[tuple[str, str, str], Tree] = OrderedDict()
        self._local = threading.local()
        # Bumped when a folder is moved away: kept objects for it are stale.
        self._generations: dict[Path, int] = {}
        self._open_lock = threading.Lock()

    # -- disk steps, on the VCS threads ------------------------------------

    def _open(self, name: str, alias: str) -> Repository:
        """Open a repository; shareable ones stay open for the next call
        (a Git repository keeps its computed history between calls)."""
        backend = self.backends[alias]
        path = self.root.path_of(name)
        if not backend.shareable:
            return self._open_for_thread(backend, path)
        with self._open_lock:
            repository = self._kept.get(path)
            if repository is not None and not backend.is_repository(path):
                # The folder went away (or was replaced) behind our back.
                del self._kept[path]
                repository = None
            if repository is None or repository.alias != alias:
                repository = backend.open(path)
                self._kept[path] = repository
                while len(self._kept) > KEPT_OPEN:
                    self._kept.popitem(last=False)
            self._kept.move_to_end(path)
            return repository

    def _open_for_thread(self, backend: Backend, path: Path) -> Repository:
        """Repositories that may not be shared are kept open per thread, and
        refreshed before each reuse (cheaper than opening them again)."""
        kept: OrderedDict[Path, tuple[int, Repository]] = (
            self._local.__dict__.setdefault("kept", OrderedDict())
        )
        generation = self._generations.get(path, 0)
        entry = kept.get(path)
        if (
            entry is not None
            and entry[0] == generation
            and entry[1].alias == backend.alias
        ):
            kept.move_to_end(path)
            entry[1].refresh()
            return entry[1]
        repository = backend.open(path)
        kept[path] = (generation, repository)
        while len(kept) > KEPT_OPEN_PER_THREAD:
            kept.popitem(last=False)
        return repository

    def forget_open(self, name: str) -> None:
        path = self.root.path_of(name)
        with self._open_lock:
            self._kept.pop(path, None)
            self._generations[path] = self._generations.get(path, 0) + 1

    def _tip(self, name: str, alias: str) -> Tip:
        tip = self._open(name, alias).tip()
        return Tip(changeset_summary(tip), tip.date if tip else None)

    def _build(self, record: RepoRecord, source: str | None) -> Tip:
        """Make the folder of a new repository, empty or cloned from source."""
        name, alias = record.repo_name, record.repo_type
        target = self.root.path_of(name)
        for attempt in range(BUILD_ATTEMPTS):
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                raise VcsError(f"{target} exists already")
            try:
                self._build_at(target, record, source)
                break
            except BaseException:
                # A failed creation next door removes the group folders it
                # made once they are empty; this one may have been caught
                # between making its folder and building in it. Try again.
                if target.parent.is_dir() or attempt + 1 == BUILD_ATTEMPTS:
                    raise
        return self._tip(name, alias)

    def _build_at(self, target: Path, record: RepoRecord, source: str | None) -> None:
        """Build in a hidden folder next to ``target``, then rename it there."""
        temporary = target.parent / build_folder_name(record.repo_id, uuid.uuid4().hex)
        backend = self.backends[record.repo_type]
        try:
            if source is None:
                backend.create(temporary)
            else:
                backend.clone(source, temporary)
            os.rename(temporary, target)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise

    def _remove_group_folders(self, names: list[str]) -> None:
        """Remove the folders of deleted repository groups that are empty
        (children come first in ``names``)."""
        for name in names:
            try:
                os.rmdir(self.root.path_of(name))
            except OSError:
                continue

    def _archive(self, name: str) -> Path | None:
        """Move a repository's folder aside; its new path (None if absent)."""
        self.forget_open(name)
        source = self.root.path_of(name)
        if not source.exists():
            return None
        target = source.parent / archive_name(short_name(name), datetime.datetime.now())
        os.rename(source, target)
        return target

    def _restore(self, archived: Path, name: str) -> None:
        os.rename(archived, self.root.path_of(name))

    # -- whole operations ----------------------------------------------------

    async def create(
        self,
        fields: Mapping[str, Any],
        owner_id: int,
        source: str | None,
        copy_group_permissions: bool = False,
        copy_from_repo: int | None = None,
    ) -> RepoRecord:
        """Create (or fork, when ``copy_from_repo``/``source`` say so) a
        repository; ``fields`` are its column values."""
        name = check_name(fields["repo_name"])
        reservation = await self.store.reserve(
            fields,
            parent_of(name),
            owner_id,
            copy_group_permissions=copy_group_permissions,
            copy_from_repo=copy_from_repo,
        )
        record = reservation.record
        try:
            tip = await self.pool.run(self._build, record, source)
        except BaseException:
            await self._undo(reservation)
            raise
        try:
            return await self.store.mark_created(record, tip.summary, tip.date)
        except BaseException:
            archived = await self.pool.run(self._archive, name)
            log.warn(
                "Could not finish creating {name}; its folder went to {archived}",
                name=name,
                archived=str(archived),
            )
            await self._undo(reservation)
            raise

    async def _undo(self, reservation: Reservation) -> None:
        """Delete a failed creation's row, and the repository groups made
        for it (rows, and folders left empty)."""
        dropped = await self.store.forget_reservation(reservation)
        if dropped:
            await self.pool.run(self._remove_group_folders, dropped)

    def path_of(self, record: RepoRecord) -> Path:
        return self.root.path_of(record.repo_name)

    async def delete(self, record: RepoRecord) -> None:
        """Move the folder aside, then delete the rows (forks get detached)."""
        archived = await self.pool.run(self._archive, record.repo_name)
        try:
            await self.store.forget(record.repo_id)
        except BaseException:
            if archived is not None:
                await self.pool.run(self._restore, archived, record.repo_name)
            raise

    async def refresh_tip(self, record: RepoRecord) -> bool:
        """Re-read the tip and store its summary; False if it had not moved."""
        tip = await self.pool.run(self._tip, record.repo_name, record.repo_type)
        return await self.store.set_changeset_cache(
            record.repo_id, tip.summary, tip.date
        )

    def _move(self, old: str, new: str) -> None:
        self.forget_open(old)
        source, target = self.root.path_of(old), self.root.path_of(new)
        if target.exists():
            raise VcsError(f"{target} exists already")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)

    async def update(
        self, record: RepoRecord, changes: Mapping[str, Any]
    ) -> RepoRecord:
        """Change a repository's row; a new name moves its folder first, and
        back again if the row cannot be changed."""
        new_name = changes.get("repo_name", record.repo_name)
        if new_name == record.repo_name:
            return await self.store.update(record, changes)
        check_name(new_name)
        await self.pool.run(self._move, record.repo_name, new_name)
        try:
            return await self.store.update(record, changes)
        except BaseException:
            await self.pool.run(self._move, new_name, record.repo_name)
            raise

    async def nodes(self, record: RepoRecord, revision: str, path: str) -> Tree:
        """The tree below ``path`` at ``revision``.

        A tree at a given changeset never changes, so trees are remembered
        by (repository folder, raw id, path). ``tip`` means the stored tip,
        the way Kallithea serves it until the repository's caches are
        invalidated.
        """
        folder = str(self.path_of(record))
        root = path.strip("/")
        raw_id = None
        if revision == "tip" and record.changeset_json:
            raw_id = (record.changeset_cache or {}).get("raw_id")
        elif _FULL_ID.match(revision):
            raw_id = revision
        if raw_id is not None:
            with self._open_lock:
                kept = self._trees.get((folder, raw_id, root))
                if kept is not None:
                    self._trees.move_to_end((folder, raw_id, root))
                    return kept

        def walk() -> tuple[str, Tree]:
            repository = self._open(record.repo_name, record.repo_type)
            resolved = repository.changeset(revision).raw_id
            return resolved, repository.tree(resolved, root)

        resolved, tree = await self.pool.run(walk)
        with self._open_lock:
            self._trees[(folder, resolved, root)] = tree
            while len(self._trees) > KEPT_TREES:
                self._trees.popitem(last=False)
        return tree

    async def invalidate(self, record: RepoRecord) -> None:
        """Tell every process to rebuild what it cached for the repository,
        and re-read its tip."""
        await self.store.deactivate_caches(record.repo_name)
        await self.pool.run(self.forget_open, record.repo_name)
        await self.refresh_tip(record)

    async def pull(self, record: RepoRecord, source: str) -> list[str]:
        def pull_on_disk() -> list[str]:
            self.forget_open(record.repo_name)
            repository = self._open(record.repo_name, record.repo_type)
            return repository.pull(source)

        arrived = await self.pool.run(pull_on_disk)
        # New changesets: every process rebuilds what it cached (API-SPEC.md
        # 3.3 step 4), as after invalidate_cache.
        await self.store.deactivate_caches(record.repo_name)
        await self.refresh_tip(record)
        return arrived

    async def check_remote(self, alias: str, uri: str) -> None:
        """Raise VcsError unless ``uri`` answers as a repository of kind
        ``alias`` (it is asked over the network, on a VCS thread)."""
        await self.pool.run(self.backends[alias].check_remote, uri)

    async def read(self, record: RepoRecord, fn: Any, *args: Any) -> Any:
        """Run ``fn(repository, *args)`` on a VCS thread and return its result."""

        def reading() -> Any:
            return fn(self._open(record.repo_name, record.repo_type), *args)

        return await self.pool.run(reading)

    async def scan(self) -> Scan:
        return await self.pool.run(self._scan)

    def _scan(self) -> Scan:
        paths: list[Path] = []
        found = list(self.root.scan(paths))
        builds = []
        for path in paths:
            active_at = _last_written(path)
            if active_at is not None:
                builds.append(Build(path, build_folder_repo_id(path.name), active_at))
        return Scan(found, builds)

    def _remove_builds(self, builds: list[Build]) -> None:
        for build in builds:
            shutil.rmtree(build.path, ignore_errors=True)

    async def remove_builds(self, builds: list[Build]) -> None:
        """Remove the build folders of creations that were cut off."""
        await self.pool.run(self._remove_builds, builds)

    async def finish(self, record: RepoRecord) -> RepoRecord:
        """Finish a creation that was cut off after its folder was in place:
        read the tip and mark the row created."""
        tip = await self.pool.run(self._tip, record.repo_name, record.repo_type)
        return await self.store.mark_created(record, tip.summary, tip.date)

    def describe_found(self, found: list[Found]) -> list[tuple[str | None, Tip]]:
        """Description and tip of each repository found by a scan (runs on a
        VCS thread). A repository that cannot be read gets neither."""
        described = []
        for repository in found:
            try:
                description, tip = self.backends[repository.alias].describe(
                    self.root.path_of(repository.name)
                )
                described.append(
                    (
                        description,
                        Tip(changeset_summary(tip), tip.date if tip else None),
                    )
                )
            except VcsError:
                log.warn("Rescan cannot read {name}", name=repository.name)
                described.append((None, Tip(None, None)))
        return described
