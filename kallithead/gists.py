"""Gists across the database and the disk (API-SPEC.md 2.8, 3.44, 3.45).

A gist is a row and a Mercurial repository at
``<repositories root>/.rc_gist_store/<access id>`` holding its files in one
changeset, with Kallithea's metadata file in its ``.hg`` folder. Creating
makes the row, then builds the repository in a hidden folder and renames it
into place (the row goes again if that fails); deleting moves the folder
aside, deletes the row (the folder comes back if that fails), then removes
the folder.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from kallithead.db.gists import GistRecord, GistStore
from kallithead.threads import WorkerPool
from kallithead.vcs import hg
from kallithead.vcs.base import VcsError

GIST_STORE = ".rc_gist_store"
METADATA_FILE = ".rc_gist_metadata"
_BUILDING = ".kallithead-new-"
_REMOVING = ".kallithead-rm-"


def commit_message(names: Sequence[str]) -> str:
    if len(names) == 1:
        return f"added file: {names[0]}"
    return "added files: " + ", ".join(names)


class Gists:
    def __init__(self, store: GistStore, repos_root: Path, pool: WorkerPool) -> None:
        self.store = store
        self._folder = repos_root / GIST_STORE
        self._pool = pool

    # -- disk steps, on the VCS threads ------------------------------------

    def _build(
        self, gist: GistRecord, files: Sequence[tuple[str, bytes]], author: str
    ) -> None:
        target = self._folder / gist.access_id
        if os.path.lexists(target):
            raise VcsError(f"{target} exists already")
        self._folder.mkdir(parents=True, exist_ok=True)
        temporary = self._folder / f"{_BUILDING}{gist.gist_id}-{uuid.uuid4().hex}"
        try:
            hg.create_with_files(
                temporary, files, author, commit_message([n for n, _ in files])
            )
            metadata = {
                "metadata_version": "1",
                "gist_db_id": gist.gist_id,
                "gist_access_id": gist.access_id,
                "gist_owner_id": gist.owner_id,
                "gist_type": gist.gist_type,
                "gist_expires": gist.expires,
                "gist_updated": time.time(),
            }
            (temporary / ".hg" / METADATA_FILE).write_text(json.dumps(metadata))
            os.rename(temporary, target)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise

    def _set_aside(self, gist: GistRecord) -> Path | None:
        source = self._folder / gist.access_id
        if not source.is_dir():
            return None
        aside = self._folder / f"{_REMOVING}{gist.gist_id}-{uuid.uuid4().hex}"
        os.rename(source, aside)
        return aside

    def _put_back(self, aside: Path, gist: GistRecord) -> None:
        os.rename(aside, self._folder / gist.access_id)

    # -- whole operations ----------------------------------------------------

    def path_of(self, gist: GistRecord) -> Path:
        return self._folder / gist.access_id

    async def create(
        self,
        files: Sequence[tuple[str, bytes]],
        author: str,
        owner_id: int,
        gist_type: str,
        expires: float,
        description: str,
    ) -> GistRecord:
        gist = await self.store.insert(description, owner_id, expires, gist_type)
        try:
            await self._pool.run(self._build, gist, files, author)
        except BaseException:
            await self.store.delete(gist.gist_id)
            raise
        return gist

    async def delete(self, gist: GistRecord) -> None:
        aside = await self._pool.run(self._set_aside, gist)
        try:
            await self.store.delete(gist.gist_id)
        except BaseException:
            if aside is not None:
                await self._pool.run(self._put_back, aside, gist)
            raise
        if aside is not None:
            await self._pool.run(shutil.rmtree, aside, True)
