"""Git repositories, read and fetched through dulwich.

Repositories are created bare. The history of a repository is every commit
reachable from any ref (and HEAD), numbered the way ``git rev-list --all
--reverse --date-order`` lists them, which is how Kallithea numbers git
changesets. That list is computed once per set of ref values and kept on the
repository object, so asking again about an unchanged repository only costs a
read of its refs.

Bytes stop here: names, paths, messages and authors leave this module as
``str`` (UTF-8, undecodable bytes replaced).
"""

from __future__ import annotations

import bisect
import datetime
import heapq
import itertools
import os
import shutil
import stat
import threading
from collections.abc import Iterator, Mapping, Sequence, Set
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import dulwich.objects
from dulwich.client import default_urllib3_manager, get_transport_and_path
from dulwich.diff_tree import CHANGE_ADD, CHANGE_DELETE, tree_changes
from dulwich.object_store import BaseObjectStore, DiskObjectStore
from dulwich.objects import S_ISGITLINK, Commit, ShaFile, Tag
from dulwich.refs import DiskRefsContainer
from dulwich.repo import Repo

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

HEADS = b"refs/heads/"
TAGS = b"refs/tags/"
HEAD = b"HEAD"
# Remote ref listings name the object an annotated tag points at this way.
PEELED_SUFFIX = b"^{}"
# New repositories start on this branch, whatever the user's git config says.
DEFAULT_BRANCH = b"master"
# The text git and dulwich put in a new repository's description file.
PLACEHOLDER_DESCRIPTION = "Unnamed repository"
# An old way of deleting a repository: a marker next to its contents.
REMOVED_MARKER = "rm__.git"
# Numbers this long or longer are hash prefixes, not revision numbers.
REVISION_NUMBER_MAX_DIGITS = 11
MIN_PREFIX_LENGTH = 4
HEX_DIGITS = frozenset("0123456789abcdef")


def _text(value: bytes, encoding: str = "utf-8") -> str:
    """Decode ``value``, trying ``encoding`` first and UTF-8 as a fallback."""
    try:
        return value.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        return value.decode("utf-8", errors="replace")


def _is_hex(value: str) -> bool:
    return bool(value) and set(value) <= HEX_DIGITS


def _local_date(timestamp: int) -> datetime.datetime:
    """The naive local time of this server at ``timestamp``."""
    try:
        return datetime.datetime.fromtimestamp(timestamp)
    except (OverflowError, OSError, ValueError):
        # A date the platform cannot represent: show the epoch rather than
        # make the whole history unreadable.
        return datetime.datetime.fromtimestamp(0)


@contextmanager
def _vcs_errors(action: str, *, with_detail: bool = True) -> Iterator[None]:
    """Turn any failure inside the block into a VcsError about ``action``.

    ``with_detail=False`` keeps the original message out of the new one (it
    may quote a URL with credentials); it stays reachable as ``__cause__``.
    """
    try:
        yield
    except VcsError:
        raise
    except Exception as exc:
        detail = f": {exc}" if with_detail else ""
        raise VcsError(f"{action} failed ({type(exc).__name__}{detail})") from exc


def _wanted_refs(refs: Mapping[bytes, bytes | None]) -> dict[bytes, bytes]:
    """The branches and tags of a remote ref listing, by full ref name."""
    return {
        name: sha
        for name, sha in refs.items()
        if sha and name.startswith((HEADS, TAGS)) and not name.endswith(PEELED_SUFFIX)
    }


@dataclass(frozen=True)
class _Fetched:
    """What a fetch learnt about the source."""

    # Its branches and tags, by full ref name.
    refs: dict[bytes, bytes]
    # What its HEAD names, and the symbolic refs it told of (HEAD's branch).
    head: bytes | None
    symrefs: dict[bytes, bytes]


def _client_for(source: str) -> tuple[Any, str]:
    """A dulwich client for ``source`` and the path to ask it for; over
    HTTP(S) with NETWORK_TIMEOUT."""
    pool_manager = None
    if source.lower().startswith(("http://", "https://")):
        pool_manager = default_urllib3_manager(None, timeout=NETWORK_TIMEOUT)
    return get_transport_and_path(source, pool_manager=pool_manager)


def _fetch(repo: Repo, source: str) -> _Fetched:
    """Fetch every branch and tag of ``source`` into ``repo``, then point the
    repository's own branches and tags where the source's are, moving them if
    needed. Branches and tags the source does not have are left alone.
    """
    store = repo.object_store

    def determine_wants(
        refs: Mapping[bytes, bytes | None], depth: int | None = None
    ) -> list[bytes]:
        missing = {sha for sha in _wanted_refs(refs).values() if sha not in store}
        return sorted(missing)

    client, remote_path = _client_for(source)
    result = client.fetch(remote_path, repo, determine_wants=determine_wants)
    remote_refs = _wanted_refs(result.refs)

    current = repo.refs.as_dict()
    for name, sha in sorted(remote_refs.items()):
        if sha not in store:
            raise VcsError(f"the source did not send {sha.decode()} for {_text(name)}")
        if current.get(name) != sha:
            repo.refs[name] = sha
    return _Fetched(
        refs=remote_refs, head=result.refs.get(HEAD), symrefs=dict(result.symrefs)
    )


def _default_branch(fetched: _Fetched) -> bytes | None:
    """The branch a copy of a remote should have as HEAD, if one can be told."""
    target = fetched.symrefs.get(HEAD)
    if target is not None and target.startswith(HEADS):
        return target

    branches = sorted(name for name in fetched.refs if name.startswith(HEADS))
    if not branches:
        return None
    # Without a symbolic HEAD, guess as git does: a branch at HEAD's commit,
    # preferring the default one.
    candidates = [name for name in branches if fetched.refs[name] == fetched.head]
    candidates = candidates or branches
    if HEADS + DEFAULT_BRANCH in candidates:
        return HEADS + DEFAULT_BRANCH
    return candidates[0]


@dataclass(frozen=True)
class _History:
    """Everything derived from one set of ref values."""

    changesets: tuple[Changeset, ...]
    # raw id -> revision
    revisions: dict[str, int]
    # every raw id, sorted, to look up hash prefixes
    sorted_ids: tuple[str, ...]
    branches: dict[str, str]
    tags: dict[str, str]


@dataclass(frozen=True)
class _CommitInfo:
    parents: tuple[bytes, ...]
    commit_time: int
    message: str
    author: str


def _commit_info(commit: Commit, *, cut: bool = False) -> _CommitInfo:
    encoding = _text(commit.encoding) if commit.encoding else "utf-8"
    return _CommitInfo(
        parents=() if cut else tuple(commit.parents),
        commit_time=commit.commit_time,
        message=_text(commit.message, encoding),
        author=_text(commit.author, encoding),
    )


def _date_order(
    commits: Mapping[bytes, _CommitInfo], starts: Sequence[bytes]
) -> list[bytes]:
    """Order ``commits`` like ``git rev-list --reverse --date-order``.

    git lists newest first: it keeps the commits all of whose children are
    already listed in a queue, takes the one with the latest commit time
    (the earliest queued on a tie) and lists it; the starting points enter
    the queue first, newest first. The result here is that list reversed, so
    parents always come before their children.
    """
    children = dict.fromkeys(commits, 0)
    for info in commits.values():
        for parent in info.parents:
            if parent in children:
                children[parent] += 1

    counter = itertools.count()
    queue: list[tuple[int, int, bytes]] = []
    # sorted() is stable: starting points with the same time keep ref order.
    for sha in sorted(starts, key=lambda sha: -commits[sha].commit_time):
        if children[sha] == 0:
            heapq.heappush(queue, (-commits[sha].commit_time, next(counter), sha))

    newest_first: list[bytes] = []
    while queue:
        sha = heapq.heappop(queue)[2]
        newest_first.append(sha)
        for parent in commits[sha].parents:
            if parent not in children:
                continue
            children[parent] -= 1
            if children[parent] == 0:
                entry = (-commits[parent].commit_time, next(counter), parent)
                heapq.heappush(queue, entry)

    newest_first.reverse()
    return newest_first


def _peel(store: BaseObjectStore, sha: bytes) -> Commit | None:
    """The commit a ref value names, through tags; None if it names
    something else or an object that is missing (a broken ref, which git
    ignores too)."""
    try:
        obj: ShaFile = store[sha]
        while isinstance(obj, Tag):
            obj = store[obj.object[1]]
    except KeyError:
        return None
    return obj if isinstance(obj, Commit) else None


def _build_history(
    refs: Mapping[bytes, bytes], store: BaseObjectStore, shallow: Set[bytes]
) -> _History:
    """The numbered history of the commits reachable from ``refs`` (by full
    name, HEAD among them), ``shallow`` the commits a shallow copy was cut at."""
    # Where the walk starts: every ref in name order, then HEAD, as
    # `git rev-list --all` takes them.
    names = sorted(name for name in refs if name.startswith(b"refs/"))
    if HEAD in refs:
        names.append(HEAD)
    starts: list[bytes] = []
    loaded: dict[bytes, Commit] = {}
    branches: dict[str, str] = {}
    tags: dict[str, str] = {}
    for name in names:
        commit = _peel(store, refs[name])
        if commit is None:
            continue
        if commit.id not in loaded:
            loaded[commit.id] = commit
            starts.append(commit.id)
        if name.startswith(HEADS):
            branches[_text(name[len(HEADS) :])] = commit.id.decode()
        elif name.startswith(TAGS):
            tags[_text(name[len(TAGS) :])] = commit.id.decode()

    # Read every reachable commit once, keeping only what is needed. The
    # commits where a shallow copy was cut off count as having no parents.
    commits: dict[bytes, _CommitInfo] = {}
    pending = list(starts)
    while pending:
        sha = pending.pop()
        if sha in commits:
            continue
        commit = loaded.get(sha)
        if commit is None:
            obj = store[sha]
            if not isinstance(obj, Commit):
                raise VcsError(f"{sha.decode()} is a parent but not a commit")
            commit = obj
        info = _commit_info(commit, cut=sha in shallow)
        commits[sha] = info
        pending.extend(parent for parent in info.parents if parent not in commits)

    tags_by_commit: dict[str, list[str]] = {}
    for tag_name, raw_id in sorted(tags.items()):
        tags_by_commit.setdefault(raw_id, []).append(tag_name)

    changesets = []
    for revision, sha in enumerate(_date_order(commits, starts)):
        info = commits[sha]
        raw_id = sha.decode()
        changesets.append(
            Changeset(
                raw_id=raw_id,
                revision=revision,
                message=info.message,
                author=info.author,
                # Kallithea shows a git changeset's commit (committer)
                # time, not its author time.
                date=_local_date(info.commit_time),
                branch=None,
                tags=tuple(tags_by_commit.get(raw_id, ())),
                parents=tuple(parent.decode() for parent in info.parents),
            )
        )

    revisions = {changeset.raw_id: changeset.revision for changeset in changesets}
    return _History(
        changesets=tuple(changesets),
        revisions=revisions,
        sorted_ids=tuple(sorted(revisions)),
        branches=dict(sorted(branches.items())),
        tags=dict(sorted(tags.items())),
    )


class GitRepository(Repository):
    """A git repository on disk (bare or not).

    One object may be used from several threads: its operations take turns.
    Call close() (or use it as a context manager) to release its pack files.
    """

    alias = "git"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        with _vcs_errors(f"opening {path}"):
            self._repo = Repo(str(path))
        self._lock = threading.RLock()
        self._history_key: tuple[tuple[bytes, bytes], ...] | None = None
        self._history_value: _History | None = None

    def close(self) -> None:
        """Release the files dulwich keeps open (packs)."""
        with self._lock:
            self._repo.close()

    def __del__(self) -> None:
        # Callers that know only the Repository interface never call close();
        # without this dulwich would keep the pack files open until a garbage
        # collection, and warn.
        repo = getattr(self, "_repo", None)
        if repo is not None:
            try:
                repo.close()
            except Exception:
                pass

    def __enter__(self) -> GitRepository:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _operation(self, action: str, *, with_detail: bool = True) -> Iterator[None]:
        with (
            self._lock,
            _vcs_errors(f"{action} in {self.path}", with_detail=with_detail),
        ):
            yield

    # History

    def _history(self) -> _History:
        """The numbered history for the refs as they are now (cached)."""
        key = tuple(sorted(self._repo.get_refs().items()))
        if self._history_value is None or key != self._history_key:
            repo = self._repo
            self._history_value = _build_history(
                dict(key), repo.object_store, repo.get_shallow()
            )
            self._history_key = key
        return self._history_value

    def _resolve(self, revision: str) -> Changeset:
        history = self._history()
        changesets = history.changesets
        if not changesets:
            raise EmptyRepository(f"{self.path} has no changesets yet")

        # The names Kallithea's git backend takes for the newest changeset.
        if revision in ("", "tip", "HEAD", "head"):
            return changesets[-1]

        if (
            revision.isascii()
            and revision.isdigit()
            and len(revision) <= REVISION_NUMBER_MAX_DIGITS
        ):
            number = int(revision)
            if number < len(changesets):
                return changesets[number]
            raise UnknownRevision(f"no revision {number} in {self.path}")

        # A tag wins over a branch of the same name, as in git.
        for names in (history.tags, history.branches):
            if revision in names:
                return changesets[history.revisions[names[revision]]]

        text = revision.lower()
        if _is_hex(text) and MIN_PREFIX_LENGTH <= len(text) <= 40:
            ids = history.sorted_ids
            start = bisect.bisect_left(ids, text)
            # Ids with this prefix sit together from ``start``; two are enough
            # to tell a unique prefix from an ambiguous one.
            matches = [
                raw_id for raw_id in ids[start : start + 2] if raw_id.startswith(text)
            ]
            if len(matches) == 1:
                return changesets[history.revisions[matches[0]]]
            if len(matches) > 1:
                raise UnknownRevision(f"{revision} is ambiguous in {self.path}")

        raise UnknownRevision(f"unknown revision {revision!r} in {self.path}")

    def _commit(self, raw_id: str) -> Commit:
        """The commit ``raw_id`` names: a full hash of any commit in the
        object store (the quick way), or any revision changeset() accepts."""
        text = raw_id.lower()
        if len(text) == 40 and _is_hex(text):
            try:
                obj = self._repo.object_store[text.encode()]
            except KeyError:
                obj = None
            if isinstance(obj, Commit):
                return obj
        commit = self._repo.object_store[self._resolve(raw_id).raw_id.encode()]
        assert isinstance(commit, Commit)
        return commit

    # The Repository interface

    def tip(self) -> Changeset | None:
        with self._operation("reading the tip"):
            changesets = self._history().changesets
            return changesets[-1] if changesets else None

    def changeset(self, revision: str) -> Changeset:
        with self._operation(f"looking up {revision!r}"):
            return self._resolve(revision)

    def changesets(self) -> Sequence[Changeset]:
        with self._operation("reading the history"):
            return self._history().changesets

    def file_changes(self, raw_id: str) -> FileChanges:
        """What ``raw_id`` changed against each of its parents together, as
        Kallithea's git backend counts it: a merge lists what differs from
        either side, and a path may then be both added and changed."""
        with self._operation(f"comparing {raw_id!r} with its parents"):
            store = self._repo.object_store
            commit = self._commit(raw_id)
            parent_trees: list[bytes | None] = []
            for parent_id in commit.parents:
                # The parents of a shallow copy's oldest commits are absent.
                parent = store[parent_id] if parent_id in store else None
                if isinstance(parent, Commit):
                    parent_trees.append(parent.tree)
            if not parent_trees:
                parent_trees.append(None)

            added: set[str] = set()
            changed: set[str] = set()
            removed: set[str] = set()
            for parent_tree in parent_trees:
                # A file replaced by a symlink or a submodule is "changed"; a
                # file replaced by a directory is removed and its contents
                # added.
                for change in tree_changes(
                    store, parent_tree, commit.tree, change_type_same=True
                ):
                    if change.type == CHANGE_ADD:
                        assert change.new is not None and change.new.path is not None
                        added.add(_text(change.new.path))
                    elif change.type == CHANGE_DELETE:
                        assert change.old is not None and change.old.path is not None
                        removed.add(_text(change.old.path))
                    else:
                        assert change.new is not None and change.new.path is not None
                        changed.add(_text(change.new.path))
            return FileChanges(
                added=tuple(sorted(added)),
                changed=tuple(sorted(changed)),
                removed=tuple(sorted(removed)),
            )

    def tree(self, raw_id: str, path: str) -> Tree:
        with self._operation(f"listing {path!r} at {raw_id!r}"):
            store = self._repo.object_store
            commit = self._commit(raw_id)
            tree_id = commit.tree
            parts = [part for part in path.strip("/").split("/") if part]
            for depth, part in enumerate(parts):
                tree = store[tree_id]
                assert isinstance(tree, dulwich.objects.Tree)
                try:
                    mode, tree_id = tree[part.encode("utf-8")]
                except KeyError:
                    missing = "/".join(parts[: depth + 1])
                    raise UnknownPath(
                        f"no {missing!r} at {commit.id.decode()}"
                    ) from None
                if not stat.S_ISDIR(mode):
                    where = "/".join(parts[: depth + 1])
                    raise UnknownPath(f"{where!r} is not a directory")

            # Depth first: a directory lists its subdirectories and files
            # (names sorted), then each subdirectory is visited in turn.
            dirs: list[str] = []
            files: list[str] = []
            start = "/".join(parts)
            pending: list[tuple[str, bytes]] = [(start, tree_id)]
            while pending:
                prefix, tree_id = pending.pop()
                tree = store[tree_id]
                assert isinstance(tree, dulwich.objects.Tree)
                subdirs: list[tuple[str, bytes]] = []
                for entry in sorted(tree.iteritems(), key=lambda entry: entry.path):
                    assert entry.path is not None and entry.mode is not None
                    name = _text(entry.path)
                    full = f"{prefix}/{name}" if prefix else name
                    if stat.S_ISDIR(entry.mode):
                        dirs.append(full)
                        assert entry.sha is not None
                        subdirs.append((full, entry.sha))
                    elif not S_ISGITLINK(entry.mode):
                        # Files and symlinks; a submodule is neither a file
                        # nor a folder here, and Kallithea lists it as neither.
                        files.append(full)
                pending.extend(reversed(subdirs))
            return Tree(dirs=tuple(dirs), files=tuple(files))

    def refs(self) -> Refs:
        with self._operation("reading refs"):
            history = self._history()
            return Refs(branches=dict(history.branches), tags=dict(history.tags))

    def pull(self, source: str) -> list[str]:
        with self._operation("pulling", with_detail=False):
            known = self._history().revisions
            _fetch(self._repo, source)
            after = self._history().changesets
            return [cs.raw_id for cs in after if cs.raw_id not in known]

    def description(self) -> str | None:
        with self._operation("reading the description"):
            return _read_description(Path(self._repo.controldir()))


def _read_description(control: Path) -> str | None:
    """The text of a repository's ``description`` file, unless it is
    missing, empty or git's placeholder."""
    try:
        raw = (control / "description").read_bytes()
    except FileNotFoundError:
        return None
    text = _text(raw).strip()
    if not text or text.startswith(PLACEHOLDER_DESCRIPTION):
        return None
    return text


def _has_no_refs(control: Path) -> bool:
    """Whether a repository's control folder holds no ref at all and a
    symbolic HEAD: then it has no commits to read."""
    if (control / "HEAD").read_bytes()[:5] != b"ref: ":
        return False
    packed = control / "packed-refs"
    if packed.exists() and packed.stat().st_size:
        return False
    for _folder, _subfolders, files in os.walk(control / "refs"):
        if files:
            return False
    return True


class GitBackend(Backend):
    shareable = True
    """Creating, cloning, recognising and opening git repositories."""

    alias = "git"

    def create(self, path: Path) -> None:
        with _vcs_errors(f"creating a git repository at {path}"):
            path.mkdir()
            try:
                Repo.init_bare(str(path), default_branch=DEFAULT_BRANCH).close()
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise

    def clone(self, source: str, path: Path) -> None:
        with _vcs_errors(f"cloning into {path}", with_detail=False):
            path.mkdir()
            try:
                repo = Repo.init_bare(str(path), default_branch=DEFAULT_BRANCH)
                try:
                    branch = _default_branch(_fetch(repo, source))
                    if branch is not None:
                        repo.refs.set_symbolic_ref(HEAD, branch)
                finally:
                    repo.close()
            except BaseException:
                # Leave nothing half made behind: the folder was ours.
                shutil.rmtree(path, ignore_errors=True)
                raise

    def check_remote(self, source: str) -> None:
        with _vcs_errors(f"asking {source} for its refs", with_detail=False):
            client, remote_path = _client_for(source)
            client.get_refs(remote_path)

    def is_repository(self, path: Path) -> bool:
        try:
            if not path.is_dir() or (path / REMOVED_MARKER).exists():
                return False
            if (path / ".git").is_dir():
                return True
            # What git itself requires of a bare repository.
            return (
                (path / "HEAD").is_file()
                and (path / "objects").is_dir()
                and (path / "refs").is_dir()
            )
        except OSError:
            return False

    def open(self, path: Path) -> GitRepository:
        if not self.is_repository(path):
            raise VcsError(f"{path} is not a git repository")
        return GitRepository(path)

    def describe(self, path: Path) -> tuple[str | None, Changeset | None]:
        # A repository without refs has no commits: its description is all
        # a rescan needs, and it is one file. Otherwise the refs and the
        # object store are enough, without the rest of what opening a
        # repository with dulwich sets up (a third of the cost for a short
        # history), unless the folder is laid out in a way only that handles.
        control = path / ".git" if (path / ".git").is_dir() else path
        try:
            if _has_no_refs(control):
                return _read_description(control), None
            plain = self.is_repository(path) and _is_plain(control)
        except OSError:
            plain = False
        if not plain:
            with self.open(path) as repository:
                return repository.description(), repository.tip()
        with _vcs_errors(f"reading the tip of {path}"):
            store = DiskObjectStore(str(control / "objects"))
            try:
                refs = DiskRefsContainer(str(control)).as_dict()
                changesets = _build_history(refs, store, _shallow(control)).changesets
            finally:
                store.close()
            return _read_description(control), changesets[-1] if changesets else None


def _is_plain(control: Path) -> bool:
    """Whether the refs and objects in ``control`` are the whole repository:
    not a linked worktree (commondir) and no repository format extensions
    (which dulwich checks when it opens a repository)."""
    if (control / "commondir").exists():
        return False
    try:
        config = (control / "config").read_bytes()
    except FileNotFoundError:
        return True
    return b"[extensions" not in config.lower()


def _shallow(control: Path) -> set[bytes]:
    """The commits a shallow copy was cut at, from its ``shallow`` file."""
    try:
        lines = (control / "shallow").read_bytes().split()
    except FileNotFoundError:
        return set()
    return set(lines)


BACKEND = GitBackend()
