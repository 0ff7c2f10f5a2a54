"""Repository group operations across the database and the disk.

A group is a row and a plain folder below the repositories root. Creating
makes the row, then the folder (the row goes again if the folder cannot be
made); renaming moves the folder, then rewrites the rows (the folder moves
back if they cannot be); deleting moves the folder aside to
``rm__<timestamp>_GROUP_<short name>``, then deletes the rows (the folder
comes back if they cannot be). Rescans are held off while a rename or a
delete is half-way, so they never register a moved repository as new.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

from twisted.logger import Logger

from kallithead.db.repogroups import (
    GroupNotEmpty,
    RepoGroupRecord,
    RepoGroupStore,
)
from kallithead.repositories import Repositories
from kallithead.tasks.rescan import Scanner
from kallithead.vcs.base import VcsError
from kallithead.vcs.layout import archive_name, check_name

log = Logger()


class RepoGroups:
    def __init__(
        self, store: RepoGroupStore, repositories: Repositories, scanner: Scanner
    ) -> None:
        self.store = store
        self._repositories = repositories
        self._scanner = scanner

    # -- disk steps, on the VCS threads ------------------------------------

    def _path(self, name: str) -> Path:
        return self._repositories.root.path_of(name)

    def _check_free(self, name: str) -> None:
        if os.path.lexists(self._path(name)):
            raise VcsError(f"{self._path(name)} exists already")

    def _make_folder(self, name: str) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir()

    def _move(self, old: str, new: str) -> bool:
        """Move a group's folder; False if it had none (nothing moved)."""
        source, target = self._path(old), self._path(new)
        if os.path.lexists(target):
            raise VcsError(f"{target} exists already")
        if not source.is_dir():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)
        return True

    def _forget_open(self, names: list[str]) -> None:
        for name in names:
            self._repositories.forget_open(name)

    def _archive(self, group: RepoGroupRecord) -> Path | None:
        source = self._path(group.group_name)
        if not source.is_dir():
            return None
        target = source.parent / archive_name(
            group.short_name, datetime.datetime.now(), group=True
        )
        os.rename(source, target)
        return target

    def _restore(self, archived: Path, name: str) -> None:
        os.rename(archived, self._path(name))

    # -- whole operations ----------------------------------------------------

    async def create(
        self,
        full_name: str,
        parent_id: int | None,
        description: str,
        owner_id: int,
        owner_is_admin: bool,
        copy_permissions: bool,
    ) -> RepoGroupRecord:
        check_name(full_name)
        pool = self._repositories.pool
        await pool.run(self._check_free, full_name)
        group = await self.store.insert(
            full_name,
            parent_id,
            description,
            owner_id,
            owner_is_admin,
            copy_permissions,
        )
        try:
            await pool.run(self._make_folder, full_name)
        except BaseException:
            await self.store.delete(group.group_id)
            raise
        return group

    async def update(
        self,
        group: RepoGroupRecord,
        new_name: str,
        parent_id: int | None,
        changes: dict[str, Any],
    ) -> RepoGroupRecord:
        """Change a group; a new full name (a rename or a move) moves its
        folder and renames everything inside it."""
        if new_name == group.group_name:
            renamed = await self.store.update(
                group.group_id, new_name, parent_id, changes
            )
            return renamed.group
        check_name(new_name)
        pool = self._repositories.pool
        async with self._scanner.held_off():
            moved = await pool.run(self._move, group.group_name, new_name)
            try:
                renamed = await self.store.update(
                    group.group_id, new_name, parent_id, changes
                )
            except BaseException:
                if moved:
                    await pool.run(self._move, new_name, group.group_name)
                raise
        # Repositories kept open under their old paths are stale now.
        if renamed.repositories:
            await pool.run(self._forget_open, [old for old, _ in renamed.repositories])
        return renamed.group

    async def delete(self, group: RepoGroupRecord) -> None:
        """Delete an empty group: its folder goes aside, then its rows."""
        if group.repositories or group.holds_groups:
            raise GroupNotEmpty(group.group_id)
        pool = self._repositories.pool
        async with self._scanner.held_off():
            archived = await pool.run(self._archive, group)
            try:
                await self.store.delete(group.group_id)
            except BaseException:
                if archived is not None:
                    await pool.run(self._restore, archived, group.group_name)
                raise
