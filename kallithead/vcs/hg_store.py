"""The tip of a Mercurial repository read from its store alone.

Opening a repository with the library sets up far more than a rescan needs
(requirements, configuration, extensions, filters): about a millisecond
each, most of a rescan's time over many repositories. The changelog itself
is cheap to read with the library's own revlog classes over the store
folder. That is only the same answer as the opened repository's when no
changeset can be hidden and the formats are ones this module knows; for
anything else it says so and the caller opens the repository.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from mercurial import changelog
from mercurial import vfs as vfsmod

from kallithead.vcs.base import Changeset

# Requirements that change nothing about which changeset is the tip or how
# the changelog is read through the revlog classes. Anything else (revlog v2,
# changelog v2, internal or archived phases, narrow clones, shares, ...)
# sends the caller to the library.
_KNOWN_REQUIREMENTS = frozenset(
    {
        "bookmarksinstore",
        "dirstate-v2",
        "dotencode",
        "exp-dirstate-v2",
        "fncache",
        "generaldelta",
        "largefiles",
        "persistent-nodemap",
        "revlog-compression-zstd",
        "revlogv1",
        "share-safe",
        "sparserevlog",
        "store",
        "treemanifest",
    }
)


class NeedsLibrary(Exception):
    """The repository must be opened with the library to answer."""


def _requirements(path: Path) -> set[str]:
    try:
        return set(path.read_text("ascii").split())
    except FileNotFoundError:
        return set()
    except (OSError, UnicodeDecodeError) as e:
        raise NeedsLibrary(f"unreadable {path}") from e


def _check_plain(control: Path) -> Path:
    """The store folder of a repository whose tip the changelog alone tells;
    NeedsLibrary for any other."""
    if (control / "sharedpath").exists():
        raise NeedsLibrary("a share")
    store = control / "store"
    required = _requirements(control / "requires") | _requirements(store / "requires")
    if "store" not in required or not required <= _KNOWN_REQUIREMENTS:
        raise NeedsLibrary(f"requirements {sorted(required - _KNOWN_REQUIREMENTS)}")
    try:
        markers = (store / "obsstore").stat().st_size
    except FileNotFoundError:
        markers = 0
    if markers:
        # Obsolescence markers may hide changesets, the tip among them.
        raise NeedsLibrary("obsolescence markers")
    return store


def read_tip(control: Path) -> Changeset | None:
    """The newest changeset of the repository whose ``.hg`` folder is
    ``control`` (without tags and bookmarks), None if it has none.

    Raises NeedsLibrary when only the opened repository can tell.
    """
    store = _check_plain(control)
    try:
        log = changelog.changelog(vfsmod.vfs(os.fsencode(store), audit=False))
        rev = len(log) - 1
        if rev < 0:
            return None
        node = log.node(rev)
        entry = log.changelogrevision(rev)
        parents = [log.node(parent) for parent in log.parentrevs(rev) if parent >= 0]
    except Exception as e:
        # Whatever the revlog classes could not read, the opened repository
        # reports properly (or reads, through a path this module avoids).
        raise NeedsLibrary(f"changelog not read: {e!r}") from e
    return Changeset(
        raw_id=node.hex(),
        revision=rev,
        message=_text(entry.description),
        author=_text(entry.user),
        date=datetime.datetime.fromtimestamp(entry.date[0]),
        branch=_text(entry.branchinfo[0]),
        parents=tuple(parent.hex() for parent in parents),
    )


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")
