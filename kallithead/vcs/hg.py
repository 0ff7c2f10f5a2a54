"""The Mercurial backend, on the ``mercurial`` library.

Mercurial speaks bytes; this module converts at its edge so that everything
above it speaks ``str``. Repository objects are opened per operation: they
are not safe to share between threads.
"""

from __future__ import annotations

import datetime
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mercurial import context as hgcontext
from mercurial import error as hgerror
from mercurial import exchange, hg, scmutil
from mercurial import ui as uimod

try:
    # Mercurial 7 registers bundle2 part handlers, revset predicates and the
    # like from here; without it a pull cannot even receive a changegroup.
    from mercurial import initialization
except ImportError:  # older Mercurial registers them on import
    initialization = None

from kallithead.vcs import hg_store
from kallithead.vcs.base import (
    NETWORK_TIMEOUT,
    Backend,
    Changeset,
    EmptyRepository,
    FileChanges,
    Refs,
    Repository,
    Tree,
    UnknownPath,
    UnknownRevision,
    VcsError,
)

if initialization is not None:
    initialization.init()


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _s(data: bytes) -> str:
    return data.decode("utf-8", "replace")


_base_ui: Any = None
_base_ui_lock = threading.Lock()


def _ui() -> Any:
    """A quiet, non-interactive ui that reads no user or system hgrc.

    Only Mercurial's own bundled defaults are loaded (some of them are needed
    to exchange changesets at all). Parsing them costs about a millisecond,
    so they are parsed once and every caller gets its own copy.
    """
    global _base_ui
    with _base_ui_lock:
        if _base_ui is None:
            ui = uimod.ui()
            for resource in uimod.rcutil.default_rc_resources():
                ui.read_resource_config(resource, trust=True)
            ui.setconfig(b"ui", b"interactive", b"false")
            ui.setconfig(b"ui", b"quiet", b"true")
            ui.setconfig(b"ui", b"paginate", b"false")
            ui.setconfig(b"progress", b"disable", b"true")
            # A remote that stops answering must not hold a VCS thread
            # for ever.
            ui.setconfig(b"http", b"timeout", str(NETWORK_TIMEOUT).encode())
            _base_ui = ui
        return _base_ui.copy()


_HG_ERRORS = (hgerror.Abort, hgerror.RepoError, hgerror.StorageError, OSError)


def serving_ui() -> Any:
    """The ui hgweb serves with: kallithead has authorised the request
    already, so hgweb lets it push, over plain HTTP too."""
    ui = _ui()
    ui.setconfig(b"web", b"allow-push", b"*")
    ui.setconfig(b"web", b"push_ssl", b"false")
    return ui


def walk_paths(paths: Iterable[str], root: str) -> Tree:
    """Directories and files below ``root`` among ``paths`` (file paths).

    Directories are visited top-down, each one's entries sorted by name, the
    way ``get_repo_nodes`` lists them.
    """
    prefix = f"{root}/" if root else ""
    children: dict[str, tuple[set[str], list[str]]] = {root: (set(), [])}
    found = not root
    for path in paths:
        if root and path == root:
            raise UnknownPath(f"{root} is a file")
        if not path.startswith(prefix):
            continue
        found = True
        parent = root
        parts = path[len(prefix) :].split("/")
        for part in parts[:-1]:
            child = f"{parent}/{part}" if parent else part
            children[parent][0].add(child)
            children.setdefault(child, (set(), []))
            parent = child
        children[parent][1].append(path)
    if not found:
        raise UnknownPath(f"no such directory: {root}")

    dirs: list[str] = []
    files: list[str] = []
    pending = [root]
    while pending:
        current = pending.pop()
        subdirs, own_files = children[current]
        ordered = sorted(subdirs)
        dirs.extend(ordered)
        files.extend(sorted(own_files))
        pending.extend(reversed(ordered))
    return Tree(dirs=tuple(dirs), files=tuple(files))


class MercurialRepository(Repository):
    alias = "hg"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            self._repo = hg.repository(_ui(), os.fsencode(path))
        except _HG_ERRORS as e:
            raise VcsError(f"cannot open Mercurial repository {path}: {e}") from e

    def refresh(self) -> None:
        self._repo.invalidate()
        self._repo.invalidatevolatilesets()

    def _changeset(self, ctx: Any, *, with_refs: bool = True) -> Changeset:
        timestamp = ctx.date()[0]
        return Changeset(
            raw_id=_s(ctx.hex()),
            revision=ctx.rev(),
            message=_s(ctx.description()),
            author=_s(ctx.user()),
            date=datetime.datetime.fromtimestamp(timestamp),
            branch=_s(ctx.branch()),
            # Reading the tags means reading .hgtags and the tags cache.
            tags=tuple(_s(tag) for tag in ctx.tags()) if with_refs else (),
            bookmarks=tuple(_s(mark) for mark in ctx.bookmarks()) if with_refs else (),
            parents=tuple(_s(p.hex()) for p in ctx.parents() if p.rev() != -1),
        )

    def tip(self, *, with_refs: bool = True) -> Changeset | None:
        """The newest changeset; without its tags and bookmarks if
        ``with_refs`` is false (cheaper, and all a summary needs)."""
        # The last changeset that is not hidden (len() counts hidden ones).
        rev = self._repo.changelog.tiprev()
        if rev < 0:
            return None
        return self._changeset(self._repo[rev], with_refs=with_refs)

    def _ctx(self, revision: str) -> Any:
        if not len(self._repo):
            raise EmptyRepository("the repository has no changesets")
        try:
            return scmutil.revsymbol(self._repo, _b(revision))
        except (hgerror.RepoLookupError, hgerror.LookupError, hgerror.ParseError) as e:
            raise UnknownRevision(f"unknown revision {revision}") from e
        except _HG_ERRORS as e:
            raise VcsError(str(e)) from e

    def changeset(self, revision: str) -> Changeset:
        return self._changeset(self._ctx(revision))

    def changesets(self) -> Sequence[Changeset]:
        repo = self._repo
        return [self._changeset(repo[rev]) for rev in repo.changelog]

    def file_changes(self, raw_id: str) -> FileChanges:
        ctx = self._ctx(raw_id)
        status = self._repo.status(ctx.p1().node(), ctx.node())
        return FileChanges(
            added=tuple(sorted(_s(p) for p in status.added)),
            changed=tuple(sorted(_s(p) for p in status.modified)),
            removed=tuple(sorted(_s(p) for p in status.removed)),
        )

    def tree(self, raw_id: str, path: str) -> Tree:
        ctx = self._ctx(raw_id)
        root = path.strip("/")
        return walk_paths((_s(p) for p in ctx.manifest()), root)

    def refs(self) -> Refs:
        repo = self._repo
        branches, closed = {}, {}
        for name, tip, _active, is_open in repo.branchmap().branches_info(repo):
            (branches if is_open else closed)[_s(name)] = _s(repo[tip].hex())
        tags = {_s(name): _s(repo[node].hex()) for name, node in repo.tags().items()}
        bookmarks = {
            _s(name): _s(repo[node].hex()) for name, node in repo._bookmarks.items()
        }
        return Refs(
            branches=branches, closed_branches=closed, tags=tags, bookmarks=bookmarks
        )

    def pull(self, source: str) -> list[str]:
        repo = self._repo
        before = len(repo)
        try:
            other = hg.peer(repo.ui, {}, _b(source))
            try:
                exchange.pull(repo, other)
            finally:
                other.close()
        except _HG_ERRORS as e:
            raise VcsError(f"cannot pull from {source}: {e}") from e
        fresh = self._repo.unfiltered()
        return [_s(fresh[rev].hex()) for rev in range(before, len(fresh))]

    def description(self) -> str | None:
        text = self._repo.ui.config(b"web", b"description")
        return _s(text) if text else None


def create_with_files(
    path: Path, files: Sequence[tuple[str, bytes]], author: str, message: str
) -> None:
    """Create a repository at ``path`` whose first changeset adds ``files``
    (name, content) by ``author``; with no files it stays empty.

    The changeset is made in memory: the working folder stays empty.
    """
    try:
        repo = hg.repository(_ui(), os.fsencode(path), create=True)
        if not files:
            return
        contents = {_b(name): data for name, data in files}

        def file_context(repo: Any, changeset: Any, name: bytes) -> Any:
            return hgcontext.memfilectx(repo, changeset, name, contents[name])

        changeset = hgcontext.memctx(
            repo,
            (None, None),
            _b(message),
            list(contents),
            file_context,
            user=_b(author),
        )
        with repo.wlock(), repo.lock():
            repo.commitctx(changeset)
    except _HG_ERRORS as e:
        raise VcsError(f"cannot create {path}: {e}") from e


class MercurialBackend(Backend):
    alias = "hg"

    def create(self, path: Path) -> None:
        try:
            hg.repository(_ui(), os.fsencode(path), create=True)
        except _HG_ERRORS as e:
            raise VcsError(f"cannot create {path}: {e}") from e

    def clone(self, source: str, path: Path) -> None:
        try:
            hg.clone(_ui(), {}, _b(source), os.fsencode(path), update=False)
        except _HG_ERRORS as e:
            raise VcsError(f"cannot clone {source}: {e}") from e

    def check_remote(self, source: str) -> None:
        # Making a peer of a URL asks the server for its capabilities; a
        # server that is no Mercurial repository fails that.
        try:
            hg.peer(_ui(), {}, _b(source)).close()
        except _HG_ERRORS as e:
            raise VcsError(f"{source} is not a Mercurial repository: {e}") from e

    def is_repository(self, path: Path) -> bool:
        return (path / ".hg").is_dir() and not (path / "rm__.hg").exists()

    def open(self, path: Path) -> Repository:
        return MercurialRepository(path)

    def describe(self, path: Path) -> tuple[str | None, Changeset | None]:
        # Opening a repository with the library costs about a millisecond, most
        # of a rescan's time over many repositories; the store and the hgrc
        # tell the same in a fraction of that for all but unusual ones.
        control = path / ".hg"
        try:
            tip = hg_store.read_tip(control)
        except hg_store.NeedsLibrary:
            repository = MercurialRepository(path)
            return repository.description(), repository.tip(with_refs=False)
        return _configured_description(control, path), tip


def _configured_description(control: Path, path: Path) -> str | None:
    """``web.description`` from the repository's own configuration files,
    read the way an opened repository reads them."""
    files = [control / name for name in ("hgrc", "hgrc-not-shared")]
    files = [file for file in files if file.exists()]
    if not files:
        return None
    ui = _ui()
    for file in files:
        try:
            ui.readconfig(os.fsencode(file), root=os.fsencode(path))
        except _HG_ERRORS as e:
            raise VcsError(f"cannot read {file}: {e}") from e
    text = ui.config(b"web", b"description")
    return _s(text) if text else None


BACKEND = MercurialBackend()
