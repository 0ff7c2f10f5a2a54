"""Repository names and the repositories root."""

from __future__ import annotations

import datetime

import pytest

from kallithead.vcs.hg import BACKEND as HG
from kallithead.vcs.layout import (
    InvalidName,
    RepositoryRoot,
    archive_name,
    check_name,
    parent_of,
    short_name,
)


@pytest.mark.parametrize(
    "name",
    [
        "repo",
        "grp/sub/repo",
        "Büro-Projekt",
        "日本語",
        "a.b_c-d",
        "-edge-",
        "v1.0",
        "r" * 255,
    ],
)
def test_valid_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../outside",
        "grp/../../etc",
        "test_repo_group/../could-be-outside",
        "/absolute",
        "trailing/",
        "double//slash",
        "with space",
        "tab\there",
        "new\nline",
        "nul\x00byte",
        ":",
        "<test>",
        "a--b",
        "grp/x---y",
        "back\\slash",
        ".hidden",
        "grp/.hg",
        "rm__20150110_142501_000123__x",
        "grp/rm__old",
        "_admin",
        "_admin/repo",
        "_12",
        "r" * 256,
        "e\u0301",  # not NFC
        None,
        5,
    ],
)
def test_invalid_names(name):
    with pytest.raises(InvalidName):
        check_name(name)


def test_underscore_names_are_fine_below_the_top():
    assert check_name("grp/_admin") == "grp/_admin"
    assert check_name("_private_stuff") == "_private_stuff"


def test_name_parts():
    assert parent_of("a/b/c") == "a/b"
    assert parent_of("c") == ""
    assert short_name("a/b/c") == "c"


def test_archive_names():
    when = datetime.datetime(2015, 1, 10, 14, 25, 1, 123)
    assert archive_name("myrepo", when) == "rm__20150110_142501_000123__myrepo"
    assert (
        archive_name("grp", when, group=True) == "rm__20150110_142501_000123_GROUP_grp"
    )


def test_path_of_stays_inside_the_root(tmp_path):
    root = RepositoryRoot(tmp_path, {"hg": HG})
    assert root.path_of("a/b") == tmp_path / "a" / "b"
    with pytest.raises(InvalidName):
        root.path_of("a/../../b")


def test_scan_finds_repositories_and_skips_the_rest(tmp_path):
    for name in (
        "top",
        "grp/inner",
        "grp/deeper/leaf",
        "rm__20150110_142501_000123__gone",
        ".rc_gist_store/5",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        HG.create(tmp_path / name)
    (tmp_path / "grp" / "not-a-repo").mkdir()
    (tmp_path / "plain-file").write_text("x")
    (tmp_path / "marked").mkdir()
    HG.create(tmp_path / "marked" / "inside")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / ".hg").mkdir()
    (tmp_path / "old" / "rm__.hg").mkdir()
    root = RepositoryRoot(tmp_path, {"hg": HG})
    found = [(f.name, f.alias) for f in root.scan()]
    assert found == [
        ("grp/deeper/leaf", "hg"),
        ("grp/inner", "hg"),
        ("marked/inside", "hg"),
        ("top", "hg"),
    ]
