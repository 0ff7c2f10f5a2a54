"""The git backend, on real repositories written with dulwich.

Commits are built object by object with fixed authors, times and time zones,
so their hashes below are always the same.
"""

from __future__ import annotations

import datetime
import gc
import threading
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from dulwich.objects import Blob, Commit, Tag, Tree
from dulwich.repo import Repo
from dulwich.server import DictBackend
from dulwich.web import make_wsgi_chain

from kallithead.vcs.base import (
    Changeset,
    EmptyRepository,
    FileChanges,
    Refs,
    UnknownPath,
    UnknownRevision,
    VcsError,
)
from kallithead.vcs.base import Tree as Listing
from kallithead.vcs.git import BACKEND, GitRepository

# 2024-01-01T12:00:00 UTC
T0 = 1704110400
HOUR = 3600
ADMIN = b"Admin <admin@example.com>"

# The history most tests below read (see build_history):
#
#   A --- B ------- M      master (B tagged v1)
#    \             /
#     `--- C -----'        feature (C tagged v2, annotated)
#
# A at T0, C an hour later, B two hours later, M three hours later.
A = "c9a27dbb16e28e7bb1fcbaa4232592835b4c4cfd"
B = "8b0fdb94bc421a336839214ec804f43e7c351107"
C = "a48b3b8b77440cf4483f0151ed37df4596e7d310"
M = "79a66547177da803c50b5435f92f1186afe935c8"


class Submodule:
    """A gitlink entry (a submodule at a commit) for write_tree."""

    def __init__(self, commit: bytes) -> None:
        self.commit = commit


class Symlink:
    """A symlink entry for write_tree."""

    def __init__(self, target: bytes) -> None:
        self.target = target


Entry = bytes | Submodule | Symlink


def write_tree(repo: Repo, files: Mapping[str, Entry]) -> bytes:
    """Store a tree holding ``files`` ("/"-separated paths) and return its id."""
    store = repo.object_store
    nested: dict[str, Any] = {}
    for path, content in files.items():
        *dirs, name = path.split("/")
        level = nested
        for part in dirs:
            level = level.setdefault(part, {})
        level[name] = content

    def store_level(level: dict[str, Any]) -> bytes:
        tree = Tree()
        for name, value in level.items():
            if isinstance(value, dict):
                tree.add(name.encode(), 0o040000, store_level(value))
            elif isinstance(value, Submodule):
                tree.add(name.encode(), 0o160000, value.commit)
            elif isinstance(value, Symlink):
                blob = Blob.from_string(value.target)
                store.add_object(blob)
                tree.add(name.encode(), 0o120000, blob.id)
            else:
                blob = Blob.from_string(value)
                store.add_object(blob)
                tree.add(name.encode(), 0o100644, blob.id)
        store.add_object(tree)
        return tree.id

    return store_level(nested)


def commit(
    repo: Repo,
    files: Mapping[str, Entry],
    *,
    message: bytes,
    time: int,
    parents: tuple[str, ...] = (),
    author: bytes = ADMIN,
    author_time: int | None = None,
    branch: str | None = None,
    encoding: bytes | None = None,
) -> str:
    """Store a commit (and move ``branch`` to it); return its hex id."""
    new = Commit()
    new.tree = write_tree(repo, files)
    new.parents = [parent.encode() for parent in parents]
    new.author = author
    new.committer = ADMIN
    new.author_time = time if author_time is None else author_time
    new.commit_time = time
    new.author_timezone = new.commit_timezone = 0
    new.message = message
    if encoding is not None:
        new.encoding = encoding
    repo.object_store.add_object(new)
    if branch is not None:
        repo.refs[b"refs/heads/" + branch.encode()] = new.id
    return new.id.decode()


def annotated_tag(repo: Repo, name: str, target: str) -> None:
    tag = Tag()
    tag.name = name.encode()
    tag.object = (Commit, target.encode())
    tag.tagger = ADMIN
    tag.tag_time = T0
    tag.tag_timezone = 0
    tag.message = b"release\n"
    repo.object_store.add_object(tag)
    repo.refs[b"refs/tags/" + name.encode()] = tag.id


FILES_A = {
    "README.rst": b"hello\n",
    "docs/index.rst": b"index\n",
    "docs/api/api.rst": b"api\n",
}
FILES_B = {**FILES_A, "README.rst": b"hello again\n"}
FILES_C = {
    "README.rst": b"hello\n",
    "docs/api/api.rst": b"api\n",
    "feature.txt": b"feature\n",
}
FILES_M = {
    "README.rst": b"hello again\n",
    "docs/api/api.rst": b"api\n",
    "feature.txt": b"feature\n",
}


def build_history(repo: Repo) -> dict[str, str]:
    """Write the history drawn above into ``repo``; return its raw ids."""
    a = commit(repo, FILES_A, message=b"first\n", time=T0, branch="master")
    b = commit(repo, FILES_B, message=b"second\n", time=T0 + 2 * HOUR, parents=(a,))
    c = commit(
        repo,
        FILES_C,
        message=b"feature work\n",
        time=T0 + HOUR,
        parents=(a,),
        branch="feature",
    )
    m = commit(
        repo,
        FILES_M,
        message=b"Merge feature\n",
        time=T0 + 3 * HOUR,
        parents=(b, c),
        branch="master",
    )
    repo.refs[b"refs/tags/v1"] = b.encode()
    annotated_tag(repo, "v2", c)
    return {"A": a, "B": b, "C": c, "M": m}


@pytest.fixture
def history_path(tmp_path: Path) -> Path:
    path = tmp_path / "history"
    BACKEND.create(path)
    with Repo(str(path)) as repo:
        build_history(repo)
    return path


@pytest.fixture
def history(history_path: Path) -> Iterator[GitRepository]:
    with BACKEND.open(history_path) as repo:
        yield repo


def make_source(path: Path, *, bare: bool) -> None:
    """A repository holding the history drawn above, bare or not."""
    repo = (
        Repo.init_bare(str(path), mkdir=True)
        if bare
        else Repo.init(str(path), mkdir=True)
    )
    with repo:
        repo.refs.set_symbolic_ref(b"HEAD", b"refs/heads/master")
        build_history(repo)


# Creating and recognising repositories


def test_create_makes_an_empty_bare_repository(tmp_path: Path) -> None:
    path = tmp_path / "new"
    BACKEND.create(path)

    assert (path / "HEAD").read_text() == "ref: refs/heads/master\n"
    assert (path / "objects").is_dir()
    assert (path / "refs").is_dir()
    assert not (path / ".git").exists()
    with Repo(str(path)) as repo:
        assert repo.bare
    assert BACKEND.is_repository(path)


def test_create_needs_the_parent_folder(tmp_path: Path) -> None:
    with pytest.raises(VcsError) as caught:
        BACKEND.create(tmp_path / "missing" / "new")
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_create_refuses_an_existing_folder(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")

    with pytest.raises(VcsError):
        BACKEND.create(tmp_path / "taken")
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    assert not BACKEND.is_repository(tmp_path / "taken")


def test_is_repository_accepts_a_working_copy(tmp_path: Path) -> None:
    Repo.init(str(tmp_path / "work"), mkdir=True).close()
    assert (tmp_path / "work" / ".git").is_dir()
    assert BACKEND.is_repository(tmp_path / "work")


def test_is_repository_refuses_what_is_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "HEAD").write_text("ref: refs/heads/master\n")
    (tmp_path / "file").write_text("x")
    (tmp_path / "hg" / ".hg").mkdir(parents=True)

    assert not BACKEND.is_repository(tmp_path / "plain")
    assert not BACKEND.is_repository(tmp_path / "file")
    assert not BACKEND.is_repository(tmp_path / "hg")
    assert not BACKEND.is_repository(tmp_path / "nowhere")


def test_is_repository_refuses_a_folder_marked_removed(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "old")
    (tmp_path / "old" / "rm__.git").mkdir()
    Repo.init(str(tmp_path / "work"), mkdir=True).close()
    (tmp_path / "work" / "rm__.git").write_text("")

    assert not BACKEND.is_repository(tmp_path / "old")
    assert not BACKEND.is_repository(tmp_path / "work")


def test_open_refuses_a_plain_folder(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(VcsError):
        BACKEND.open(tmp_path / "plain")


def test_open_reads_a_working_copy(tmp_path: Path) -> None:
    make_source(tmp_path / "work", bare=False)
    with BACKEND.open(tmp_path / "work") as repo:
        assert repo.alias == "git"
        tip = repo.tip()
        assert tip is not None
        assert tip.raw_id == M


def test_a_repository_left_unclosed_releases_its_packs(tmp_path: Path) -> None:
    make_source(tmp_path / "source", bare=True)
    # A clone holds its objects in a pack file, which dulwich keeps open.
    BACKEND.clone(str(tmp_path / "source"), tmp_path / "copy")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        repo = BACKEND.open(tmp_path / "copy")
        assert repo.changeset("tip").raw_id == M
        del repo
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


# An empty repository


def test_empty_repository_has_no_tip_nor_changesets(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "empty")
    with BACKEND.open(tmp_path / "empty") as repo:
        assert repo.tip() is None
        assert list(repo.changesets()) == []
        assert repo.refs() == Refs(branches={}, tags={}, bookmarks={})


@pytest.mark.parametrize("revision", ["tip", "HEAD", "0", "master", A])
def test_empty_repository_has_no_changeset(tmp_path: Path, revision: str) -> None:
    BACKEND.create(tmp_path / "empty")
    with BACKEND.open(tmp_path / "empty") as repo, pytest.raises(EmptyRepository):
        repo.changeset(revision)


# Numbering


def test_revisions_follow_commit_dates_with_parents_first(
    history: GitRepository,
) -> None:
    changesets = history.changesets()

    assert [cs.raw_id for cs in changesets] == [A, C, B, M]
    assert [cs.revision for cs in changesets] == [0, 1, 2, 3]
    assert history.tip() == changesets[-1]


def test_parents_come_first_even_when_dated_later(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "skewed")
    with Repo(str(tmp_path / "skewed")) as writer:
        root = commit(writer, {"f": b"1"}, message=b"root\n", time=T0 + 10 * HOUR)
        child = commit(
            writer, {"f": b"2"}, message=b"child\n", time=T0, parents=(root,)
        )
        other = commit(writer, {"g": b"1"}, message=b"other\n", time=T0 + 5 * HOUR)
        writer.refs[b"refs/heads/master"] = child.encode()
        writer.refs[b"refs/heads/other"] = other.encode()

    with BACKEND.open(tmp_path / "skewed") as repo:
        # As git rev-list --all --reverse --date-order: git picks from the
        # newest end (other, then child, then root) and the list is reversed,
        # so other comes last although it is older than root.
        assert [cs.raw_id for cs in repo.changesets()] == [root, child, other]


def test_commits_with_equal_dates_are_numbered_like_git(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "ties")
    with Repo(str(tmp_path / "ties")) as writer:
        root = commit(writer, {"f": b"0"}, message=b"root\n", time=T0)
        one = commit(writer, {"f": b"1"}, message=b"one\n", time=T0, parents=(root,))
        two = commit(writer, {"f": b"2"}, message=b"two\n", time=T0, parents=(root,))
        writer.refs[b"refs/heads/a"] = one.encode()
        writer.refs[b"refs/heads/b"] = two.encode()

    with BACKEND.open(tmp_path / "ties") as repo:
        # Checked against git rev-list --all --reverse --date-order.
        assert [cs.raw_id for cs in repo.changesets()] == [root, two, one]


def test_history_includes_commits_only_a_tag_reaches(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "tagged")
    with Repo(str(tmp_path / "tagged")) as writer:
        root = commit(writer, {"f": b"0"}, message=b"root\n", time=T0, branch="master")
        loose = commit(
            writer, {"f": b"1"}, message=b"tagged\n", time=T0 + HOUR, parents=(root,)
        )
        annotated_tag(writer, "only-tag", loose)

    with BACKEND.open(tmp_path / "tagged") as repo:
        assert [cs.raw_id for cs in repo.changesets()] == [root, loose]
        assert repo.changeset("only-tag").raw_id == loose


def test_history_is_reread_when_refs_move(history_path: Path) -> None:
    with BACKEND.open(history_path) as repo:
        first = repo.changesets()
        assert repo.changesets() is first

        with Repo(str(history_path)) as writer:
            new = commit(
                writer,
                FILES_M,
                message=b"later\n",
                time=T0 + 4 * HOUR,
                parents=(M,),
                branch="master",
            )

        assert [cs.raw_id for cs in repo.changesets()] == [A, C, B, M, new]
        tip = repo.tip()
        assert tip is not None
        assert (tip.raw_id, tip.revision) == (new, 4)


def test_a_branch_naming_a_missing_object_is_ignored(history_path: Path) -> None:
    with Repo(str(history_path)) as writer:
        writer.refs[b"refs/heads/broken"] = b"d" * 40

    with BACKEND.open(history_path) as repo:
        assert [cs.raw_id for cs in repo.changesets()] == [A, C, B, M]
        assert "broken" not in repo.refs().branches


def test_a_missing_commit_is_a_vcs_error(history_path: Path) -> None:
    (history_path / "objects" / A[:2] / A[2:]).unlink()

    with BACKEND.open(history_path) as repo, pytest.raises(VcsError) as caught:
        repo.tip()
    assert isinstance(caught.value.__cause__, KeyError)


# Looking changesets up


@pytest.mark.parametrize(
    ("revision", "expected"),
    [
        (A, A),
        (B.upper(), B),
        (C[:12], C),
        (M[:4], M),
        ("0", A),
        ("1", C),
        ("3", M),
        ("tip", M),
        ("HEAD", M),
        ("head", M),
        ("", M),
        ("master", M),
        ("feature", C),
        ("v1", B),
        ("v2", C),
    ],
)
def test_changeset_accepts_every_kind_of_revision(
    history: GitRepository, revision: str, expected: str
) -> None:
    assert history.changeset(revision).raw_id == expected


@pytest.mark.parametrize(
    "revision",
    [
        "4",
        "-1",
        "nope",
        "refs/heads/master",
        "c9a",
        "0" * 40,
        "d" * 40,
        "c9a27dbb16e28e7bb1fcbaa4232592835b4c4cfe",
        "c9a27dbb16e28e7bb1fcbaa4232592835b4c4cfd0",
    ],
)
def test_changeset_refuses_unknown_revisions(
    history: GitRepository, revision: str
) -> None:
    with pytest.raises(UnknownRevision):
        history.changeset(revision)


def test_changeset_refuses_a_commit_no_ref_reaches(history_path: Path) -> None:
    with Repo(str(history_path)) as writer:
        dangling = commit(writer, FILES_A, message=b"dangling\n", time=T0)

    with BACKEND.open(history_path) as repo, pytest.raises(UnknownRevision):
        repo.changeset(dangling)


def test_changeset_refuses_an_ambiguous_prefix(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "twins")
    with Repo(str(tmp_path / "twins")) as writer:
        # Two commits whose ids both start with a3f1.
        first = commit(writer, {"x": b"x\n"}, message=b"root 33\n", time=T0)
        second = commit(writer, {"x": b"x\n"}, message=b"root 116\n", time=T0)
        writer.refs[b"refs/heads/one"] = first.encode()
        writer.refs[b"refs/heads/two"] = second.encode()

    assert (first, second) == (
        "a3f121d62361e3a08476a552a1cad9854f924f75",
        "a3f1fb1c4fbb79e810314a76ad4c54c615b5f4fd",
    )
    with BACKEND.open(tmp_path / "twins") as repo:
        with pytest.raises(UnknownRevision):
            repo.changeset("a3f1")
        assert repo.changeset("a3f12").raw_id == first
        assert repo.changeset("a3f1f").raw_id == second


def test_a_tag_wins_over_a_branch_of_the_same_name(history_path: Path) -> None:
    with Repo(str(history_path)) as writer:
        writer.refs[b"refs/heads/same"] = A.encode()
        writer.refs[b"refs/tags/same"] = B.encode()

    with BACKEND.open(history_path) as repo:
        assert repo.changeset("same").raw_id == B


# Changeset fields


def test_changeset_fields(history: GitRepository) -> None:
    assert history.changeset("v1") == Changeset(
        raw_id=B,
        revision=2,
        message="second\n",
        author="Admin <admin@example.com>",
        date=datetime.datetime.fromtimestamp(T0 + 2 * HOUR),
        branch=None,
        tags=("v1",),
        bookmarks=(),
        parents=(A,),
    )
    assert history.changeset("v1").short_id == "8b0fdb94bc42"


def test_merge_lists_both_parents_first_parent_first(history: GitRepository) -> None:
    merge = history.changeset(M)
    assert merge.parents == (B, C)
    assert merge.tags == ()
    assert history.changeset(A).parents == ()


def test_date_is_the_naive_local_commit_time(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "dated")
    with Repo(str(tmp_path / "dated")) as writer:
        raw_id = commit(
            writer,
            {"f": b"x"},
            message=b"rebased\n",
            time=T0 + 5 * HOUR,
            author_time=T0,
            branch="master",
        )

    with BACKEND.open(tmp_path / "dated") as repo:
        date = repo.changeset(raw_id).date
    assert date.tzinfo is None
    # Kallithea shows the committer's time, which a rebase moves on.
    assert date == datetime.datetime.fromtimestamp(T0 + 5 * HOUR)


def test_message_and_author_keep_what_git_stores(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "text")
    with Repo(str(tmp_path / "text")) as writer:
        raw_id = commit(
            writer,
            {"f": b"x"},
            message="Résumé ☃\n\nBody line.\n".encode(),
            time=T0,
            author="Jörg Müller <jorg@example.com>".encode(),
            branch="master",
        )

    with BACKEND.open(tmp_path / "text") as repo:
        changeset = repo.changeset(raw_id)
    assert changeset.message == "Résumé ☃\n\nBody line.\n"
    assert changeset.author == "Jörg Müller <jorg@example.com>"


def test_message_in_a_declared_legacy_encoding_is_decoded(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "latin")
    with Repo(str(tmp_path / "latin")) as writer:
        raw_id = commit(
            writer,
            {"f": b"x"},
            message="café\n".encode("iso-8859-1"),
            time=T0,
            author="Zoë <zoe@example.com>".encode("iso-8859-1"),
            encoding=b"ISO-8859-1",
            branch="master",
        )

    with BACKEND.open(tmp_path / "latin") as repo:
        changeset = repo.changeset(raw_id)
    assert changeset.message == "café\n"
    assert changeset.author == "Zoë <zoe@example.com>"


def test_undecodable_message_bytes_are_replaced(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "bad")
    with Repo(str(tmp_path / "bad")) as writer:
        raw_id = commit(
            writer, {"f": b"x"}, message=b"bad \xff byte\n", time=T0, branch="master"
        )

    with BACKEND.open(tmp_path / "bad") as repo:
        assert repo.changeset(raw_id).message == "bad \ufffd byte\n"


# File changes


def test_file_changes_of_a_root_commit_add_everything(history: GitRepository) -> None:
    assert history.file_changes(A) == FileChanges(
        added=("README.rst", "docs/api/api.rst", "docs/index.rst"),
        changed=(),
        removed=(),
    )


def test_file_changes_of_a_modification(history: GitRepository) -> None:
    assert history.file_changes(B) == FileChanges(changed=("README.rst",))


def test_file_changes_of_an_addition_and_a_deletion(history: GitRepository) -> None:
    assert history.file_changes(C) == FileChanges(
        added=("feature.txt",), removed=("docs/index.rst",)
    )


def test_file_changes_of_a_merge_count_what_differs_from_either_parent(
    history: GitRepository,
) -> None:
    # Against B the merge adds feature.txt and drops docs/index.rst; against
    # C it changes README.rst. Kallithea's git backend lists all three.
    assert history.file_changes(M) == FileChanges(
        added=("feature.txt",), changed=("README.rst",), removed=("docs/index.rst",)
    )


def test_file_changes_of_a_merge_may_list_a_path_twice(history_path: Path) -> None:
    # A merge that brings back docs/index.rst with new contents: added
    # against C, which dropped it, changed against B, which had it (and
    # feature.txt added against B, README.rst changed against C).
    files = {**FILES_M, "docs/index.rst": b"index, merged\n"}
    with Repo(str(history_path)) as writer:
        raw_id = commit(writer, files, message=b"merge\n", time=T0, parents=(B, C))
    with BACKEND.open(history_path) as repo:
        assert repo.file_changes(raw_id) == FileChanges(
            added=("docs/index.rst", "feature.txt"),
            changed=("README.rst", "docs/index.rst"),
        )


def test_file_changes_accept_any_revision(history: GitRepository) -> None:
    assert history.file_changes("v1") == history.file_changes(B)
    with pytest.raises(UnknownRevision):
        history.file_changes("nope")


def test_a_rename_is_a_removal_and_an_addition(history_path: Path) -> None:
    renamed = {
        "README.rst": b"hello again\n",
        "docs/api/reference.rst": b"api\n",
        "feature.txt": b"feature\n",
    }
    with Repo(str(history_path)) as writer:
        raw_id = commit(
            writer,
            renamed,
            message=b"rename\n",
            time=T0 + 4 * HOUR,
            parents=(M,),
            branch="master",
        )

    with BACKEND.open(history_path) as repo:
        assert repo.file_changes(raw_id) == FileChanges(
            added=("docs/api/reference.rst",), removed=("docs/api/api.rst",)
        )


def test_file_changes_through_type_changes(history_path: Path) -> None:
    files = {
        "README.rst": Symlink(b"docs/api/api.rst"),
        "docs/api": b"now a file\n",
        "feature.txt": b"feature\n",
    }
    with Repo(str(history_path)) as writer:
        raw_id = commit(
            writer,
            files,
            message=b"types\n",
            time=T0 + 4 * HOUR,
            parents=(M,),
            branch="master",
        )

    with BACKEND.open(history_path) as repo:
        assert repo.file_changes(raw_id) == FileChanges(
            added=("docs/api",),
            changed=("README.rst",),
            removed=("docs/api/api.rst",),
        )


# Trees


def test_tree_of_the_root(history: GitRepository) -> None:
    assert history.tree(A, "") == Listing(
        dirs=("docs", "docs/api"),
        files=("README.rst", "docs/index.rst", "docs/api/api.rst"),
    )
    assert history.tree(A, "/") == history.tree(A, "")


@pytest.mark.parametrize("path", ["docs", "/docs", "docs/", "/docs/"])
def test_tree_of_a_subdirectory(history: GitRepository, path: str) -> None:
    assert history.tree(A, path) == Listing(
        dirs=("docs/api",), files=("docs/index.rst", "docs/api/api.rst")
    )


def test_tree_of_a_leaf_directory(history: GitRepository) -> None:
    assert history.tree(A, "docs/api") == Listing(dirs=(), files=("docs/api/api.rst",))


def test_tree_accepts_any_revision(history: GitRepository) -> None:
    assert history.tree("master", "") == Listing(
        dirs=("docs", "docs/api"),
        files=("README.rst", "feature.txt", "docs/api/api.rst"),
    )


@pytest.mark.parametrize(
    "path", ["README.rst", "docs/index.rst", "nope", "docs/nope", "README.rst/x"]
)
def test_tree_refuses_files_and_missing_paths(
    history: GitRepository, path: str
) -> None:
    with pytest.raises(UnknownPath):
        history.tree(A, path)


def test_tree_refuses_an_unknown_revision(history: GitRepository) -> None:
    with pytest.raises(UnknownRevision):
        history.tree("nope", "")


def test_tree_lists_each_directory_before_descending(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "deep")
    files: dict[str, Entry] = {
        "top.txt": b"top",
        "a-b/one.txt": b"1",
        "a/x/deep.txt": b"deep",
        "a/one.txt": b"1",
        "b/two.txt": b"2",
        "link": Symlink(b"top.txt"),
        "sub": Submodule(b"e" * 40),
    }
    with Repo(str(tmp_path / "deep")) as writer:
        raw_id = commit(writer, files, message=b"deep\n", time=T0, branch="master")

    with BACKEND.open(tmp_path / "deep") as repo:
        # Names sorted plainly ("a" before "a-b", unlike git's own tree order);
        # symlinks are files, submodules are not listed (as in Kallithea).
        assert repo.tree(raw_id, "") == Listing(
            dirs=("a", "a-b", "b", "a/x"),
            files=(
                "link",
                "top.txt",
                "a/one.txt",
                "a/x/deep.txt",
                "a-b/one.txt",
                "b/two.txt",
            ),
        )
        with pytest.raises(UnknownPath):
            repo.tree(raw_id, "sub")


def test_non_ascii_paths(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "names")
    with Repo(str(tmp_path / "names")) as writer:
        first = commit(
            writer,
            {"naïve/café.txt": b"1", "日本.txt": b"2"},
            message=b"names\n",
            time=T0,
        )
        second = commit(
            writer,
            {"naïve/café.txt": b"changed", "über.txt": b"3"},
            message=b"more names\n",
            time=T0 + HOUR,
            parents=(first,),
            branch="master",
        )

    with BACKEND.open(tmp_path / "names") as repo:
        assert repo.tree(first, "") == Listing(
            dirs=("naïve",), files=("日本.txt", "naïve/café.txt")
        )
        assert repo.tree(first, "naïve") == Listing(files=("naïve/café.txt",))
        assert repo.file_changes(second) == FileChanges(
            added=("über.txt",), changed=("naïve/café.txt",), removed=("日本.txt",)
        )


# Refs and description


def test_refs_peel_annotated_tags(history: GitRepository) -> None:
    assert history.refs() == Refs(
        branches={"feature": C, "master": M},
        tags={"v1": B, "v2": C},
        bookmarks={},
    )


def test_description_of_a_new_repository_is_none(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "new")
    with BACKEND.open(tmp_path / "new") as repo:
        assert repo.description() is None


def test_description_reads_the_file(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "described")
    (tmp_path / "described" / "description").write_text("  Our tools — ünïcode\n")
    with BACKEND.open(tmp_path / "described") as repo:
        assert repo.description() == "Our tools — ünïcode"


@pytest.mark.parametrize(
    "content",
    [None, "", "\n", "Unnamed repository; edit this file 'description' to name it.\n"],
)
def test_description_placeholder_or_missing_is_none(
    tmp_path: Path, content: str | None
) -> None:
    BACKEND.create(tmp_path / "repo")
    description = tmp_path / "repo" / "description"
    if content is None:
        description.unlink()
    else:
        description.write_text(content)
    with BACKEND.open(tmp_path / "repo") as repo:
        assert repo.description() is None


def test_description_of_a_working_copy(tmp_path: Path) -> None:
    make_source(tmp_path / "work", bare=False)
    (tmp_path / "work" / ".git" / "description").write_text("working copy\n")
    with BACKEND.open(tmp_path / "work") as repo:
        assert repo.description() == "working copy"


# Cloning


def assert_same_history(source: Path, copy: Path) -> None:
    with BACKEND.open(source) as original, BACKEND.open(copy) as clone:
        assert clone.tip() == original.tip()
        assert clone.changesets() == original.changesets()
        assert clone.refs() == original.refs()


def test_clone_from_a_working_copy_makes_a_bare_repository(tmp_path: Path) -> None:
    make_source(tmp_path / "work", bare=False)
    BACKEND.clone(str(tmp_path / "work"), tmp_path / "copy")

    assert not (tmp_path / "copy" / ".git").exists()
    with Repo(str(tmp_path / "copy")) as copy:
        assert copy.bare
        assert copy.refs.get_symrefs() == {b"HEAD": b"refs/heads/master"}
    assert_same_history(tmp_path / "work", tmp_path / "copy")
    with BACKEND.open(tmp_path / "copy") as repo:
        assert repo.refs() == Refs(
            branches={"feature": C, "master": M}, tags={"v1": B, "v2": C}
        )


def test_clone_from_a_bare_repository_follows_its_head(tmp_path: Path) -> None:
    make_source(tmp_path / "bare", bare=True)
    with Repo(str(tmp_path / "bare")) as source:
        source.refs.set_symbolic_ref(b"HEAD", b"refs/heads/feature")

    BACKEND.clone(str(tmp_path / "bare"), tmp_path / "copy")

    with Repo(str(tmp_path / "copy")) as copy:
        assert copy.refs.get_symrefs() == {b"HEAD": b"refs/heads/feature"}
        # The annotated tag arrives as a tag object, not just its commit.
        assert isinstance(copy[copy.refs[b"refs/tags/v2"]], Tag)
    assert_same_history(tmp_path / "bare", tmp_path / "copy")


def test_clone_of_an_empty_repository_is_empty(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "empty")
    BACKEND.clone(str(tmp_path / "empty"), tmp_path / "copy")
    with BACKEND.open(tmp_path / "copy") as repo:
        assert repo.tip() is None


def test_clone_failure_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(VcsError):
        BACKEND.clone(str(tmp_path / "plain"), tmp_path / "copy")
    assert not (tmp_path / "copy").exists()


def test_clone_refuses_an_existing_folder(tmp_path: Path) -> None:
    make_source(tmp_path / "bare", bare=True)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")

    with pytest.raises(VcsError):
        BACKEND.clone(str(tmp_path / "bare"), tmp_path / "taken")
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["keep.txt"]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served_history(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The history, served over smart HTTP on localhost; yields (url, path)."""
    path = tmp_path / "served"
    make_source(path, bare=True)
    with Repo(str(path)) as source:
        source.refs.set_symbolic_ref(b"HEAD", b"refs/heads/feature")
        app = make_wsgi_chain(DictBackend({"/": source}))
        server: WSGIServer = make_server(
            "127.0.0.1", 0, app, handler_class=QuietHandler
        )
        thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), daemon=True
        )
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}/", path
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def test_clone_over_http(tmp_path: Path, served_history: tuple[str, Path]) -> None:
    url, path = served_history
    BACKEND.clone(url, tmp_path / "copy")

    with Repo(str(tmp_path / "copy")) as copy:
        assert copy.refs.get_symrefs() == {b"HEAD": b"refs/heads/feature"}
    assert_same_history(path, tmp_path / "copy")


# Pulling


def test_pull_brings_new_commits_oldest_first(tmp_path: Path) -> None:
    make_source(tmp_path / "source", bare=True)
    BACKEND.clone(str(tmp_path / "source"), tmp_path / "copy")
    with Repo(str(tmp_path / "source")) as writer:
        first = commit(
            writer, FILES_M, message=b"one\n", time=T0 + 4 * HOUR, parents=(M,)
        )
        second = commit(
            writer,
            {**FILES_M, "new.txt": b"new\n"},
            message=b"two\n",
            time=T0 + 5 * HOUR,
            parents=(first,),
            branch="master",
        )
        writer.refs[b"refs/tags/v3"] = second.encode()

    with BACKEND.open(tmp_path / "copy") as repo:
        assert repo.changesets()[-1].raw_id == M
        assert repo.pull(str(tmp_path / "source")) == [first, second]

        tip = repo.tip()
        assert tip is not None
        assert (tip.raw_id, tip.revision, tip.tags) == (second, 5, ("v3",))
        assert repo.refs().branches == {"feature": C, "master": second}
        assert repo.pull(str(tmp_path / "source")) == []


def test_pull_into_an_empty_repository(tmp_path: Path) -> None:
    make_source(tmp_path / "source", bare=True)
    BACKEND.create(tmp_path / "empty")

    with BACKEND.open(tmp_path / "empty") as repo:
        assert repo.pull(str(tmp_path / "source")) == [A, C, B, M]
        assert repo.refs() == Refs(
            branches={"feature": C, "master": M}, tags={"v1": B, "v2": C}
        )


def test_pull_moves_rewritten_branches_and_tags(tmp_path: Path) -> None:
    make_source(tmp_path / "source", bare=True)
    BACKEND.clone(str(tmp_path / "source"), tmp_path / "copy")
    with Repo(str(tmp_path / "source")) as writer:
        rewritten = commit(
            writer,
            FILES_C,
            message=b"feature work, rewritten\n",
            time=T0 + 6 * HOUR,
            parents=(A,),
            branch="feature",
        )
        writer.refs[b"refs/tags/v1"] = A.encode()

    with BACKEND.open(tmp_path / "copy") as repo:
        assert repo.pull(str(tmp_path / "source")) == [rewritten]
        refs = repo.refs()
        assert refs.branches["feature"] == rewritten
        assert refs.tags["v1"] == A
        # C is still reachable from master through the merge.
        assert repo.changeset(C).raw_id == C


def test_pull_over_http(tmp_path: Path, served_history: tuple[str, Path]) -> None:
    url, _ = served_history
    BACKEND.create(tmp_path / "copy")
    with BACKEND.open(tmp_path / "copy") as repo:
        assert repo.pull(url) == [A, C, B, M]
        assert repo.pull(url) == []


def test_pull_failure_is_a_vcs_error_that_hides_credentials(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "copy")
    with BACKEND.open(tmp_path / "copy") as repo:
        with pytest.raises(VcsError) as caught:
            repo.pull("http://user:s3cret@127.0.0.1:9/nothing")
        assert "s3cret" not in str(caught.value)
        assert caught.value.__cause__ is not None
        with pytest.raises(VcsError):
            repo.pull(str(tmp_path / "nowhere"))
        assert repo.tip() is None


# What a rescan reads: description and tip, the quick way where it can.


def test_describe_an_empty_repository(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "new")
    assert BACKEND.describe(tmp_path / "new") == (None, None)


def test_describe_an_empty_repository_with_a_description(tmp_path: Path) -> None:
    BACKEND.create(tmp_path / "new")
    (tmp_path / "new" / "description").write_text("Büro\n")
    assert BACKEND.describe(tmp_path / "new") == ("Büro", None)


def test_describe_a_repository_with_history(history_path: Path) -> None:
    (history_path / "description").write_text("kept\n")
    description, tip = BACKEND.describe(history_path)
    assert description == "kept"
    assert tip is not None and (tip.raw_id, tip.revision) == (M, 3)


def test_describe_a_repository_whose_refs_are_all_packed(
    history_path: Path,
) -> None:
    with Repo(str(history_path)) as repo:
        repo.refs.pack_refs(all=True)
    assert not any(p.is_file() for p in (history_path / "refs").rglob("*"))
    _description, tip = BACKEND.describe(history_path)
    assert tip is not None and tip.raw_id == M


def test_describe_a_repository_with_a_detached_head_only(tmp_path: Path) -> None:
    path = tmp_path / "detached"
    BACKEND.create(path)
    with Repo(str(path)) as repo:
        raw_ids = build_history(repo)
        for name in list(repo.refs.keys()):
            if name != b"HEAD":
                del repo.refs[name]
        repo.refs.remove_if_equals(b"HEAD", None)
        repo.refs[b"HEAD"] = raw_ids["B"].encode()
    assert (path / "HEAD").read_text().strip() == raw_ids["B"]
    _description, tip = BACKEND.describe(path)
    assert tip is not None and tip.raw_id == raw_ids["B"]


def test_describe_a_working_copy(tmp_path: Path) -> None:
    make_source(tmp_path / "work", bare=False)
    (tmp_path / "work" / ".git" / "description").write_text("working copy\n")
    description, tip = BACKEND.describe(tmp_path / "work")
    assert description == "working copy"
    assert tip is not None and tip.raw_id == M


def test_describe_an_empty_working_copy(tmp_path: Path) -> None:
    Repo.init(str(tmp_path / "work"), mkdir=True).close()
    (tmp_path / "work" / ".git" / "description").write_text("nothing yet\n")
    assert BACKEND.describe(tmp_path / "work") == ("nothing yet", None)


def test_describe_a_shallow_copy_agrees_with_opening_it(history_path: Path) -> None:
    # Cut the history at B: the merge's first parent is then a root, and A
    # (reachable only through B) is gone from the walk.
    (history_path / "shallow").write_text(B + "\n")
    with BACKEND.open(history_path) as repo:
        opened = repo.tip()
        numbered = [cs.raw_id for cs in repo.changesets()]
    _description, tip = BACKEND.describe(history_path)
    assert tip == opened
    assert tip is not None and tip.raw_id == M
    assert tip.revision == len(numbered) - 1


def test_describe_a_missing_commit_is_a_vcs_error(history_path: Path) -> None:
    (history_path / "objects" / A[:2] / A[2:]).unlink()
    with pytest.raises(VcsError):
        BACKEND.describe(history_path)


def test_describe_with_a_known_format_extension_reads_the_tip(
    history_path: Path,
) -> None:
    config = history_path / "config"
    config.write_text(
        config.read_text()
        + "[core]\n\trepositoryformatversion = 1\n"
        + "[extensions]\n\tworktreeconfig = true\n"
    )
    with BACKEND.open(history_path) as repo:
        opened = repo.tip()
    assert opened is not None
    assert BACKEND.describe(history_path)[1] == opened


def test_describe_refuses_an_unknown_format_extension(history_path: Path) -> None:
    # Only opening the repository checks extensions; describe must not
    # read around a repository that dulwich would refuse.
    config = history_path / "config"
    config.write_text(
        config.read_text()
        + "[core]\n\trepositoryformatversion = 1\n"
        + "[extensions]\n\tnoSuchThing = true\n"
    )
    with pytest.raises(VcsError):
        BACKEND.describe(history_path)
