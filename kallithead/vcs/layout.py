"""Where repositories live on disk, and which names may live there.

Every repository is a folder below one repositories root: ``grp/sub/repo``
lives at ``<root>/grp/sub/repo``, repository groups are plain folders. A name
is checked here before anything touches the file system (DESIGN.md section
3): nothing that could leave the root, nothing hidden, nothing reserved.
"""

from __future__ import annotations

import datetime
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from kallithead.vcs.base import Backend

# Characters Kallithea turns into "-" when it makes a name a "slug": a name
# holding any of them is not a valid repository or group name.
_SLUG_BREAKERS = set("`?=[]\\;'\"<>,~!@#$%^&*()+{}|: ")
_ARCHIVED = re.compile(r"rm__\d{8}_\d{6}_\d{6}_")
# First path segments that mean something else in URLs.
_RESERVED_FIRST = re.compile(r"(?:_admin|_static|_\d+)\Z")
MAX_NAME_LENGTH = 255
# A new repository is built in a hidden folder next to where it goes, then
# renamed into place: ``.kallithead-new-<repo_id>-<random>``.
TEMPORARY_PREFIX = ".kallithead-new-"


def build_folder_name(repo_id: int, token: str) -> str:
    return f"{TEMPORARY_PREFIX}{repo_id}-{token}"


def build_folder_repo_id(folder_name: str) -> int | None:
    """The id of the repository row a build folder is for (None if the name
    does not say)."""
    number = folder_name[len(TEMPORARY_PREFIX) :].partition("-")[0]
    return int(number) if number.isdigit() else None


class InvalidName(ValueError):
    """The name cannot be used for a repository or a repository group."""


def check_segment(segment: str) -> None:
    """Raise InvalidName unless ``segment`` may be one part of a name."""
    if not segment or segment in (".", ".."):
        raise InvalidName("empty, '.' or '..' part")
    if segment.startswith("."):
        raise InvalidName("hidden part")
    if segment.startswith("rm__"):
        raise InvalidName("reserved prefix rm__")
    if "--" in segment:
        # Kallithea's slug collapses runs of "-": the name would not be its
        # own slug.
        raise InvalidName("repeated '-'")
    for char in segment:
        if char in _SLUG_BREAKERS or char == "/":
            raise InvalidName(f"character {char!r}")
        if unicodedata.category(char)[0] in ("C", "Z"):
            raise InvalidName("control or space character")


def check_name(name: object) -> str:
    """The name itself if it is a valid full repository or group name."""
    if not isinstance(name, str) or not name:
        raise InvalidName("empty name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName("too long")
    if name != unicodedata.normalize("NFC", name):
        raise InvalidName("not in Unicode normal form C")
    segments = name.split("/")
    for segment in segments:
        check_segment(segment)
    if _RESERVED_FIRST.match(segments[0]):
        raise InvalidName("reserved name")
    return name


def parent_of(name: str) -> str:
    """The group path of a full name ("" at the top level)."""
    return name.rpartition("/")[0]


def short_name(name: str) -> str:
    return name.rpartition("/")[2]


def archive_name(short: str, now: datetime.datetime, group: bool = False) -> str:
    """The name a deleted repository (or group) is moved aside to."""
    stamp = now.strftime("%Y%m%d_%H%M%S_%f")
    return f"rm__{stamp}_GROUP_{short}" if group else f"rm__{stamp}__{short}"


@dataclass(frozen=True)
class Found:
    name: str
    alias: str


class RepositoryRoot:
    """The folder that holds every repository."""

    def __init__(self, path: Path, backends: Mapping[str, Backend]) -> None:
        self.path = path
        self._backends = backends

    def path_of(self, name: str) -> Path:
        """The folder of a (checked) full name; never outside the root."""
        check_name(name)
        target = self.path.joinpath(*name.split("/"))
        if os.path.commonpath([self.path, target]) != str(self.path):
            raise InvalidName("outside the repositories root")
        return target

    def detect(self, folder: Path) -> str | None:
        """Which kind of repository ``folder`` holds, if exactly one."""
        kinds = [a for a, b in self._backends.items() if b.is_repository(folder)]
        return kinds[0] if len(kinds) == 1 else None

    def scan(self, builds: list[Path] | None = None) -> Iterator[Found]:
        """Every repository below the root, by full name (API-SPEC.md 6.2).

        Symbolic links to folders are followed, as Kallithea follows them; a
        link back to a folder the walk is already inside is not (it would
        never end). The temporary folders of repositories being built (or
        left behind by a creation that was cut off) are added to ``builds``,
        if given.
        """
        try:
            top = os.stat(self.path)
        except OSError:
            return
        yield from self._scan(self.path, "", builds, {(top.st_dev, top.st_ino)})

    def _scan(
        self,
        folder: Path,
        prefix: str,
        builds: list[Path] | None,
        inside: set[tuple[int, int]],
    ) -> Iterator[Found]:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(TEMPORARY_PREFIX) and builds is not None:
                builds.append(Path(entry.path))
                continue
            if entry.name.startswith(".") or _ARCHIVED.match(entry.name):
                continue
            try:
                if not entry.is_dir():
                    continue
                identity = os.stat(entry.path)
            except OSError:
                continue
            if not os.access(entry.path, os.R_OK | os.X_OK):
                continue
            key = (identity.st_dev, identity.st_ino)
            if key in inside:
                continue
            child = Path(entry.path)
            name = f"{prefix}{entry.name}"
            alias = self.detect(child)
            if alias is not None:
                yield Found(name, alias)
            else:
                yield from self._scan(child, f"{name}/", builds, inside | {key})
