"""The interface both version control backends implement.

Everything here speaks ``str``: the Mercurial backend converts its bytes at
its own edge. All of it is synchronous and slow (it reads repositories on
disk): callers run it on the VCS thread pool (kallithead.vcs.pool), never on
the reactor thread.

Changesets are described by plain dataclasses. ``revision`` is the integer
index of a changeset in the repository's history: Mercurial's revision
number; for Git the position in the list of all commits reachable from any
ref, oldest first, ordered like ``git rev-list --all --reverse --date-order``
(parents before children, older commit dates first), as Kallithea numbers
them.
"""

from __future__ import annotations

import abc
import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

EMPTY_RAW_ID = "0" * 40


class VcsError(Exception):
    """A repository operation failed (bad revision, missing path, I/O...)."""


class UnknownRevision(VcsError):
    pass


class UnknownPath(VcsError):
    pass


class EmptyRepository(VcsError):
    pass


@dataclass(frozen=True)
class Changeset:
    raw_id: str
    revision: int
    message: str
    # The full author string, "Name <email>".
    author: str
    # Naive local time of this server, as Kallithea shows commit dates.
    date: datetime.datetime
    branch: str | None = None
    tags: tuple[str, ...] = ()
    bookmarks: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()

    @property
    def short_id(self) -> str:
        return self.raw_id[:12]


@dataclass(frozen=True)
class FileChanges:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tree:
    """The directories and files below a path, depth first, names sorted."""

    dirs: tuple[str, ...] = ()
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refs:
    branches: dict[str, str] = field(default_factory=dict)
    # Mercurial branches whose every head is closed (git has none).
    closed_branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    bookmarks: dict[str, str] = field(default_factory=dict)


class Repository(abc.ABC):
    """One repository on disk, opened for reading (and pulling)."""

    alias: str  # "hg" or "git"

    def __init__(self, path: Path) -> None:
        self.path = path

    def refresh(self) -> None:  # noqa: B027 - most backends have nothing to forget
        """Forget what was read from disk, before reusing a kept object."""

    @abc.abstractmethod
    def tip(self) -> Changeset | None:
        """The newest changeset (Kallithea's tip), None when empty."""

    @abc.abstractmethod
    def changeset(self, revision: str) -> Changeset:
        """A changeset by hash, short hash, number, branch, tag or ``tip``."""

    @abc.abstractmethod
    def changesets(self) -> Sequence[Changeset]:
        """Every changeset, by revision number (oldest first)."""

    @abc.abstractmethod
    def file_changes(self, raw_id: str) -> FileChanges:
        """The files a changeset added, changed and removed."""

    @abc.abstractmethod
    def tree(self, raw_id: str, path: str) -> Tree:
        """Everything below ``path`` (relative, "" for the root) at ``raw_id``."""

    @abc.abstractmethod
    def refs(self) -> Refs:
        """Branches, tags and bookmarks, by name, with the raw id they name."""

    @abc.abstractmethod
    def pull(self, source: str) -> list[str]:
        """Fetch every changeset of ``source`` (a URL or a local path).

        Returns the raw ids that arrived (may be empty).
        """

    @abc.abstractmethod
    def description(self) -> str | None:
        """The description the repository itself holds, if any."""


# Seconds a remote may stay silent (while connecting, or between two reads)
# before a clone, pull or check gives up on it.
NETWORK_TIMEOUT = 120.0


class Backend(abc.ABC):
    """Creating, cloning, recognising and opening one kind of repository."""

    alias: str
    # Whether one opened Repository may be kept and used from several
    # threads (then callers keep it open between operations).
    shareable: bool = False

    @abc.abstractmethod
    def create(self, path: Path) -> None:
        """Make a new, empty repository at ``path`` (its parent must exist).

        Git repositories are created bare, Mercurial ones with a working
        directory left empty.
        """

    @abc.abstractmethod
    def clone(self, source: str, path: Path) -> None:
        """Make ``path`` a full copy of ``source`` (a URL or a local path)."""

    @abc.abstractmethod
    def check_remote(self, source: str) -> None:
        """Ask ``source`` (a URL) what it holds; raise VcsError unless it
        answers as a repository of this kind."""

    @abc.abstractmethod
    def is_repository(self, path: Path) -> bool:
        """Whether ``path`` holds a repository of this kind."""

    @abc.abstractmethod
    def open(self, path: Path) -> Repository:
        """Open the repository at ``path``; raises VcsError if there is none."""

    def describe(self, path: Path) -> tuple[str | None, Changeset | None]:
        """The description and the tip of the repository at ``path``, for a
        rescan; backends may answer without opening it fully, and the tip
        may lack its tags and bookmarks (a summary does not show them)."""
        repository = self.open(path)
        return repository.description(), repository.tip()
