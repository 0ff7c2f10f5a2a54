"""The Mercurial backend on real repositories made with the library."""

from __future__ import annotations

import datetime

import pytest

from kallithead.vcs.base import EmptyRepository, UnknownPath, UnknownRevision, VcsError
from kallithead.vcs.hg import BACKEND, walk_paths
from tests.hgutil import HgWorkdir

T0 = 1_700_000_000


@pytest.fixture
def history(tmp_path):
    work = HgWorkdir(tmp_path / "work")
    first = work.commit(
        {"README.rst": "hello\n", "docs/index.rst": "x\n", "docs/api/api.rst": "y\n"},
        "first commit",
        T0,
    )
    second = work.commit({"README.rst": "hello again\n"}, "second: ünïcode", T0 + 60)
    third = work.commit(
        {"docs/index.rst": None, "src/main.py": "print()\n"}, "third", T0 + 120
    )
    return work, [first, second, third]


def test_create_makes_an_empty_repository(tmp_path):
    target = tmp_path / "new"
    BACKEND.create(target)
    assert BACKEND.is_repository(target)
    repo = BACKEND.open(target)
    assert repo.tip() is None
    assert repo.changesets() == []
    with pytest.raises(EmptyRepository):
        repo.changeset("tip")


def test_is_repository_is_false_for_plain_folders(tmp_path):
    assert not BACKEND.is_repository(tmp_path)
    with pytest.raises(VcsError):
        BACKEND.open(tmp_path)


def test_tip_is_the_newest_changeset(history):
    work, ids = history
    tip = BACKEND.open(work.path).tip()
    assert tip.raw_id == ids[2]
    assert tip.short_id == ids[2][:12]
    assert tip.revision == 2
    assert tip.message == "third"
    assert tip.author == "Test Author <author@example.com>"
    assert tip.date == datetime.datetime.fromtimestamp(T0 + 120)
    assert tip.branch == "default"
    assert tip.parents == (ids[1],)
    assert "tip" in tip.tags


@pytest.mark.parametrize("form", ["full", "short", "number", "tip", "branch"])
def test_changeset_lookup_forms(history, form):
    work, ids = history
    revision = {
        "full": ids[1],
        "short": ids[1][:8],
        "number": "1",
        "tip": "tip",
        "branch": "default",
    }[form]
    expected = ids[2] if form in ("tip", "branch") else ids[1]
    assert BACKEND.open(work.path).changeset(revision).raw_id == expected


@pytest.mark.parametrize("revision", ["nope", "deadbeef" * 5, "99"])
def test_unknown_revisions(history, revision):
    work, _ids = history
    with pytest.raises(UnknownRevision):
        BACKEND.open(work.path).changeset(revision)


def test_unicode_message_survives(history):
    work, ids = history
    assert BACKEND.open(work.path).changeset(ids[1]).message == "second: ünïcode"


def test_changesets_in_revision_order(history):
    work, ids = history
    changesets = BACKEND.open(work.path).changesets()
    assert [c.raw_id for c in changesets] == ids
    assert [c.revision for c in changesets] == [0, 1, 2]


def test_file_changes(history):
    work, ids = history
    repo = BACKEND.open(work.path)
    first = repo.file_changes(ids[0])
    assert first.added == ("README.rst", "docs/api/api.rst", "docs/index.rst")
    assert first.changed == first.removed == ()
    second = repo.file_changes(ids[1])
    assert (second.added, second.changed, second.removed) == ((), ("README.rst",), ())
    third = repo.file_changes(ids[2])
    assert third.added == ("src/main.py",)
    assert third.removed == ("docs/index.rst",)


def test_tree_from_the_root(history):
    work, ids = history
    tree = BACKEND.open(work.path).tree(ids[0], "/")
    assert tree.dirs == ("docs", "docs/api")
    assert tree.files == ("README.rst", "docs/index.rst", "docs/api/api.rst")


def test_tree_of_a_subdirectory(history):
    work, ids = history
    tree = BACKEND.open(work.path).tree(ids[0], "docs")
    assert tree.dirs == ("docs/api",)
    assert tree.files == ("docs/index.rst", "docs/api/api.rst")


@pytest.mark.parametrize("path", ["README.rst", "nowhere", "docs/index.rst/x"])
def test_tree_of_a_file_or_missing_path(history, path):
    work, ids = history
    with pytest.raises(UnknownPath):
        BACKEND.open(work.path).tree(ids[0], path)


def test_walk_lists_each_level_before_the_next_one_down():
    tree = walk_paths(["b/y/f", "a/x/f", "a/g", "top", "b/h"], "")
    assert tree.dirs == ("a", "b", "a/x", "b/y")
    assert tree.files == ("top", "a/g", "a/x/f", "b/h", "b/y/f")


def test_refs_branches_tags_and_bookmarks(history):
    work, ids = history
    work.update(ids[1])
    stable = work.commit({"stable.txt": "s\n"}, "on stable", T0 + 200, branch="stable")
    work.tag("v1.0", T0 + 300)
    tagged_at = stable
    work.bookmark("feature")
    refs = BACKEND.open(work.path).refs()
    tip = BACKEND.open(work.path).tip().raw_id
    assert refs.branches == {"default": ids[2], "stable": tip}
    assert refs.tags["v1.0"] == tagged_at
    assert refs.tags["tip"] == tip
    assert refs.bookmarks == {"feature": tip}


def test_clone_copies_the_history(history, tmp_path):
    work, ids = history
    target = tmp_path / "clone"
    BACKEND.clone(str(work.path), target)
    clone = BACKEND.open(target)
    assert [c.raw_id for c in clone.changesets()] == ids
    assert not (target / "README.rst").exists()


def test_pull_brings_new_changesets(history, tmp_path):
    work, ids = history
    target = tmp_path / "mirror"
    BACKEND.create(target)
    mirror = BACKEND.open(target)
    assert mirror.pull(str(work.path)) == ids
    fourth = work.commit({"new.txt": "n\n"}, "fourth", T0 + 400)
    assert BACKEND.open(target).pull(str(work.path)) == [fourth]
    assert BACKEND.open(target).pull(str(work.path)) == []


def test_pull_from_nowhere_fails(tmp_path):
    BACKEND.create(tmp_path / "r")
    with pytest.raises(VcsError):
        BACKEND.open(tmp_path / "r").pull(str(tmp_path / "absent"))


def test_description_from_the_repository_config(tmp_path):
    BACKEND.create(tmp_path / "r")
    assert BACKEND.open(tmp_path / "r").description() is None
    (tmp_path / "r" / ".hg" / "hgrc").write_text("[web]\ndescription = Büro\n")
    assert BACKEND.open(tmp_path / "r").description() == "Büro"


# What a rescan reads: description and tip, the quick way where it can.


def test_describe_an_empty_repository(tmp_path):
    BACKEND.create(tmp_path / "r")
    assert BACKEND.describe(tmp_path / "r") == (None, None)


def test_describe_an_empty_repository_with_a_description(tmp_path):
    BACKEND.create(tmp_path / "r")
    (tmp_path / "r" / ".hg" / "hgrc").write_text("[web]\ndescription = Büro\n")
    assert BACKEND.describe(tmp_path / "r") == ("Büro", None)


def test_describe_a_repository_with_history(history, tmp_path):
    work, (_first, _second, third) = history
    (work.path / ".hg" / "hgrc").write_text("[web]\ndescription = kept\n")
    description, tip = BACKEND.describe(work.path)
    assert (description, tip.raw_id, tip.revision) == ("kept", third, 2)


def test_describe_a_repository_with_history_and_no_hgrc(history):
    work, (_first, _second, third) = history
    assert not (work.path / ".hg" / "hgrc").exists()
    description, tip = BACKEND.describe(work.path)
    assert (description, tip.raw_id) == (None, third)


def test_describe_a_broken_repository_is_a_vcs_error(tmp_path):
    BACKEND.create(tmp_path / "r")
    (tmp_path / "r" / ".hg" / "requires").write_text("no-such-requirement\n")
    (tmp_path / "r" / ".hg" / "hgrc").write_text("[web]\ndescription = x\n")
    with pytest.raises(VcsError):
        BACKEND.describe(tmp_path / "r")
