"""Reading a Mercurial tip from the store alone gives what the opened
repository gives, and declines where only the opened repository can tell."""

from __future__ import annotations

import datetime
import os

import pytest
from mercurial import commands, hg, obsolete

from kallithead.vcs import hg_store
from kallithead.vcs.hg import BACKEND, MercurialRepository
from tests.hgutil import HgWorkdir

T0 = 1_700_000_000


def library_tip(path):
    return MercurialRepository(path).tip(with_refs=False)


def test_an_empty_repository_has_no_tip(tmp_path):
    BACKEND.create(tmp_path / "r")
    assert hg_store.read_tip(tmp_path / "r" / ".hg") is None


def test_the_tip_of_a_short_history(tmp_path):
    work = HgWorkdir(tmp_path / "w")
    first = work.commit({"a.txt": "1\n"}, "first", T0)
    second = work.commit(
        {"b.txt": "2\n"},
        "zweiter Stand: Übergrößen\n\nmit Text",
        T0 + 90,
        user="Jürgen Ø <j@example.com>",
        branch="stable ü",
    )
    tip = hg_store.read_tip(work.path / ".hg")
    assert tip.raw_id == second
    assert tip.revision == 1
    assert tip.message == "zweiter Stand: Übergrößen\n\nmit Text"
    assert tip.author == "Jürgen Ø <j@example.com>"
    assert tip.date == datetime.datetime.fromtimestamp(T0 + 90)
    assert tip.branch == "stable ü"
    assert tip.parents == (first,)
    assert tip == library_tip(work.path)


def test_the_tip_of_a_changelog_kept_apart_from_its_index(tmp_path):
    # Past about 128 KiB a changelog's data moves out of its index file
    # (00changelog.d), and most entries are stored as deltas.
    work = HgWorkdir(tmp_path / "w")
    filler = "".join(f"line {n} of a long message\n" for n in range(150))
    for number in range(40):
        last = work.commit(
            {"f.txt": f"{number}\n"}, f"commit {number}\n\n{filler}", T0 + number
        )
    assert (work.path / ".hg" / "store" / "00changelog.d").exists()
    tip = hg_store.read_tip(work.path / ".hg")
    assert (tip.raw_id, tip.revision) == (last, 39)
    assert tip.message.startswith("commit 39\n\nline 0 of")
    assert tip == library_tip(work.path)


def test_a_merge_has_both_parents(tmp_path):
    work = HgWorkdir(tmp_path / "w")
    base = work.commit({"a.txt": "1\n"}, "base", T0)
    left = work.commit({"a.txt": "2\n"}, "left", T0 + 1)
    work.update(base)
    right = work.commit({"b.txt": "3\n"}, "right", T0 + 2)
    commands.merge(work.repo.ui, work.repo, left.encode())
    merged = work.commit({}, "merge", T0 + 3)
    tip = hg_store.read_tip(work.path / ".hg")
    assert tip.raw_id == merged
    assert tip.parents == (right, left)
    assert tip == library_tip(work.path)


def test_obsolescence_markers_need_the_library(tmp_path):
    work = HgWorkdir(tmp_path / "w")
    kept = work.commit({"a.txt": "1\n"}, "kept", T0)
    work.commit({"a.txt": "2\n"}, "pruned", T0 + 1)
    work.update(kept)
    ui = work.repo.ui.copy()
    ui.setconfig(b"experimental", b"evolution", b"createmarkers")
    ui.setconfig(b"ui", b"username", b"Test Author <author@example.com>")
    repo = hg.repository(ui, os.fsencode(work.path))
    with repo.lock(), repo.transaction(b"prune"):
        obsolete.createmarkers(repo, [(repo[b"tip"], ())], operation=b"prune")
    with pytest.raises(hg_store.NeedsLibrary):
        hg_store.read_tip(work.path / ".hg")
    # The opened repository hides the pruned changeset; so does a rescan.
    _description, tip = BACKEND.describe(work.path)
    assert tip.raw_id == kept
    assert library_tip(work.path).raw_id == kept


@pytest.mark.parametrize("where", ["requires", "store/requires"])
def test_unknown_requirements_need_the_library(tmp_path, where):
    work = HgWorkdir(tmp_path / "w")
    work.commit({"a.txt": "1\n"}, "one", T0)
    requires = work.path / ".hg" / where
    requires.write_text(requires.read_text() + "exp-something-new\n")
    with pytest.raises(hg_store.NeedsLibrary):
        hg_store.read_tip(work.path / ".hg")


def test_a_share_needs_the_library(tmp_path):
    work = HgWorkdir(tmp_path / "w")
    work.commit({"a.txt": "1\n"}, "one", T0)
    (work.path / ".hg" / "sharedpath").write_text(str(tmp_path / "elsewhere"))
    with pytest.raises(hg_store.NeedsLibrary):
        hg_store.read_tip(work.path / ".hg")


def test_a_damaged_changelog_needs_the_library(tmp_path):
    work = HgWorkdir(tmp_path / "w")
    work.commit({"a.txt": "1\n"}, "one", T0)
    index = work.path / ".hg" / "store" / "00changelog.i"
    index.write_bytes(b"\xff\xff\xff\xff" + index.read_bytes()[4:])
    with pytest.raises(hg_store.NeedsLibrary):
        hg_store.read_tip(work.path / ".hg")


def test_describe_reads_the_description_from_hgrc_not_shared_too(tmp_path):
    work = HgWorkdir(tmp_path / "w")
    work.commit({"a.txt": "1\n"}, "one", T0)
    (work.path / ".hg" / "hgrc").write_text("[web]\ndescription = first\n")
    (work.path / ".hg" / "hgrc-not-shared").write_text("[web]\ndescription = later\n")
    assert (
        BACKEND.describe(work.path)[0] == MercurialRepository(work.path).description()
    )
    assert BACKEND.describe(work.path)[0] == "later"
