"""What is inside a repository, over real HTTP: get_repo's revision names,
get_repo_nodes, get_changesets and get_changeset.

Expected values follow API-SPEC.md 3.22, 3.24, 3.46, 3.47, 6.6 and the cases
T077-T089 and T262-T269. The repositories hold the standard history of
test_repos.py, written with the hg and git libraries; each case runs for
both kinds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from tests.gitutil import GitWorkdir
from tests.hgutil import HgWorkdir
from tests.test_repos import (
    HOUR,
    KINDS,
    MAIN_BRANCH,
    RAW_IDS,
    T0,
    changeset,
    create,
    local,
    put_on_disk,
    regular,
    repos_root,
    rescanned,
    serve_history,
    write_history,
)
from tests.vcs_http import VcsHttpServer


@pytest.fixture(params=KINDS)
def kind(request: Any) -> str:
    return request.param


@pytest_twisted.async_yield_fixture
async def remote(tmp_path: Path) -> AsyncIterator[VcsHttpServer]:
    served = VcsHttpServer(tmp_path / "remote")
    await served.start()
    yield served
    await served.stop()


@pytest_twisted.async_fixture
async def repo(server: Any, tmp_path: Path, kind: str) -> str:
    """The repository `repo`: the standard history, found by a rescan."""
    await rescanned(server, kind, "repo", tmp_path)
    return "repo"


@pytest_twisted.async_fixture
async def mirror(server: Any, remote: VcsHttpServer, kind: str) -> str:
    """The repository `mirror`: the standard history, cloned over HTTP."""
    serve_history(remote, kind, "upstream")
    await create(server, "mirror", kind, clone_uri=remote.url(kind, "upstream"))
    return "mirror"


def dirs(*names: str) -> list[dict[str, str]]:
    return [{"name": name, "type": "dir"} for name in names]


def files(*names: str) -> list[dict[str, str]]:
    return [{"name": name, "type": "file"} for name in names]


def with_files(
    summary: dict[str, Any],
    added: list[str] | None = None,
    changed: list[str] | None = None,
    removed: list[str] | None = None,
) -> dict[str, Any]:
    return {
        **summary,
        "added": added or [],
        "changed": changed or [],
        "removed": removed or [],
    }


FILE_LISTS = [
    {"added": ["README.rst", "docs/api/api.rst", "docs/index.rst"]},
    {"changed": ["README.rst"]},
    {"added": ["src/main.py"], "removed": ["docs/index.rst"]},
]


# --- get_repo with_revision_names (T077, T078) ---------------------------------


@pytest_twisted.ensureDeferred
async def test_get_repo_with_revision_names_of_a_mercurial_repository(server, tmp_path):
    work = await rescanned(server, "hg", "repo", tmp_path)
    work.tag("v1", T0 + 3 * HOUR)
    work.bookmark("mark")
    await server.call("invalidate_cache", repoid="repo")
    reply = await server.call("get_repo", repoid="repo", with_revision_names=True)
    got = reply.result
    tag_commit = "9739bad96b88e0460ea4875bbe657c251ded6968"
    assert got["tags"] == {
        "tip": tag_commit,
        "v1": "a1285cb96202005340ea9663e6cf4e5d92aea818",
    }
    assert got["branches"] == {
        "default": tag_commit,
        "stable": "389e89c8a9e158decdb82fe7355de8a0c318c987",
    }
    assert got["bookmarks"] == {"mark": tag_commit}
    assert got["last_changeset"]["message"] == "Added tag v1 for changeset a1285cb96202"


@pytest_twisted.ensureDeferred
async def test_get_repo_with_revision_names_of_a_git_repository(server, tmp_path):
    work = write_history("git", tmp_path / "work")
    work.tag("v1")
    work.publish(server.service.settings.vcs.repos_root / "repo")
    await server.call("rescan_repos")
    reply = await server.call("get_repo", repoid="repo", with_revision_names=True)
    got = reply.result
    assert got["tags"] == {"v1": "9ec8c93855e47f446af5ced4cd43d5bcafc42c1f"}
    assert got["branches"] == {
        "master": "9ec8c93855e47f446af5ced4cd43d5bcafc42c1f",
        "stable": "fe9fb6307a1f8b602c8968d746f3327719fb43e8",
    }
    assert got["bookmarks"] == {}


@pytest_twisted.ensureDeferred
async def test_get_repo_without_revision_names_has_no_such_keys(server, repo):
    got = (await server.call("get_repo", repoid=repo)).result
    assert "tags" not in got
    assert "branches" not in got
    assert "bookmarks" not in got
    assert "pull_requests" not in got


@pytest_twisted.ensureDeferred
async def test_get_repo_with_pullrequests_lists_none(server, repo):
    reply = await server.call("get_repo", repoid=repo, with_pullrequests=True)
    assert reply.result["pull_requests"] == []


@pytest_twisted.ensureDeferred
async def test_get_repo_with_revision_names_of_an_empty_repository(server, kind):
    await create(server, "empty", kind)
    reply = await server.call("get_repo", repoid="empty", with_revision_names=True)
    got = reply.result
    assert (got["branches"], got["bookmarks"]) == ({}, {})


# --- get_repo_nodes (T081-T089) -------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_all_lists_dirs_then_files(server, repo):
    reply = await server.call(
        "get_repo_nodes", repoid=repo, revision="tip", root_path="/", ret_type="all"
    )
    assert reply.result == dirs("docs", "src", "docs/api") + files(
        "README.rst", "docs/api/api.rst", "src/main.py"
    )


@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_defaults_to_all(server, repo):
    reply = await server.call(
        "get_repo_nodes", repoid=repo, revision="tip", root_path=""
    )
    assert reply.result == dirs("docs", "src", "docs/api") + files(
        "README.rst", "docs/api/api.rst", "src/main.py"
    )


@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_dirs_only(server, repo):
    reply = await server.call(
        "get_repo_nodes", repoid=repo, revision="tip", root_path="/", ret_type="dirs"
    )
    assert reply.result == dirs("docs", "src", "docs/api")


@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_files_only(server, repo):
    reply = await server.call(
        "get_repo_nodes", repoid=repo, revision="tip", root_path="/", ret_type="files"
    )
    assert reply.result == files("README.rst", "docs/api/api.rst", "src/main.py")


@pytest.mark.parametrize("revision", [0, "0", "first-raw-id", "first-short-id"])
@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_at_the_first_changeset(server, repo, kind, revision):
    raw_id = RAW_IDS[kind][0]
    revision = {"first-raw-id": raw_id, "first-short-id": raw_id[:12]}.get(
        revision, revision
    )
    reply = await server.call(
        "get_repo_nodes", repoid=repo, revision=revision, root_path="/"
    )
    assert reply.result == dirs("docs", "docs/api") + files(
        "README.rst", "docs/index.rst", "docs/api/api.rst"
    )


@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_at_the_main_branch(server, repo, kind):
    reply = await server.call(
        "get_repo_nodes",
        repoid=repo,
        revision=MAIN_BRANCH[kind],
        root_path="/",
        ret_type="files",
    )
    assert reply.result == files("README.rst", "docs/index.rst", "docs/api/api.rst")


@pytest.mark.parametrize("root_path", ["docs", "/docs", "/docs/"])
@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_below_a_subdirectory(server, repo, root_path):
    reply = await server.call(
        "get_repo_nodes", repoid=repo, revision=0, root_path=root_path
    )
    assert reply.result == dirs("docs/api") + files(
        "docs/index.rst", "docs/api/api.rst"
    )


@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_of_a_cloned_repository(server, mirror):
    reply = await server.call(
        "get_repo_nodes", repoid=mirror, revision="tip", root_path="src"
    )
    assert reply.result == files("src/main.py")


@pytest.mark.parametrize(
    ("revision", "root_path"),
    [
        ("i-dont-exist", "/"),
        ("tip", "/idontexits"),
        ("tip", "README.rst"),
        ("tip", "docs/index.rst"),
        (99, "/"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_unknown_revision_or_path_fails(
    server, repo, revision, root_path
):
    reply = await server.call(
        "get_repo_nodes", repoid=repo, revision=revision, root_path=root_path
    )
    assert reply.error == "failed to get repo: `repo` nodes"


@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_of_an_empty_repository_fails(server, kind):
    await create(server, "empty", kind)
    reply = await server.call(
        "get_repo_nodes", repoid="empty", revision="tip", root_path="/"
    )
    assert reply.error == "failed to get repo: `empty` nodes"


@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_bad_ret_type(server, repo):
    reply = await server.call(
        "get_repo_nodes", repoid=repo, revision="tip", root_path="/", ret_type="error"
    )
    assert reply.error == "ret_type must be one of all,dirs,files"


@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_checks_the_revision_before_ret_type(server, repo):
    reply = await server.call(
        "get_repo_nodes",
        repoid=repo,
        revision="i-dont-exist",
        root_path="/",
        ret_type="error",
    )
    assert reply.error == "failed to get repo: `repo` nodes"


@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_unknown_repository_does_not_exist(server):
    reply = await server.call(
        "get_repo_nodes", repoid="nope", revision="tip", root_path="/"
    )
    assert reply.error == "repository `nope` does not exist"


@pytest.mark.parametrize(
    "perm", ["repository.read", "repository.write", "repository.admin"]
)
@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_regular_user_with_access(server, repo, perm):
    key = await regular(server)
    await server.call("update_repo", repoid=repo, private=True)
    await server.call(
        "grant_user_permission", repoid=repo, userid="test-api", perm=perm
    )
    reply = await server.call(
        "get_repo_nodes",
        key=key,
        repoid=repo,
        revision="tip",
        root_path="/",
        ret_type="dirs",
    )
    assert reply.result == dirs("docs", "src", "docs/api")


@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_regular_user_without_read_sees_nothing(server, repo):
    key = await regular(server)
    await server.call("update_repo", repoid=repo, private=True)
    reply = await server.call(
        "get_repo_nodes", key=key, repoid=repo, revision="tip", root_path="/"
    )
    assert reply.error == "repository `repo` does not exist"


# --- get_changesets (T262-T265) ---------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_changesets_lists_the_whole_history_oldest_first(server, repo, kind):
    reply = await server.call("get_changesets", repoid=repo)
    assert reply.result == [changeset(kind, n) for n in range(3)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_literal_summaries_of_a_git_clone(server, remote):
    serve_history(remote, "git", "upstream")
    await create(server, "mirror", "git", clone_uri=remote.url("git", "upstream"))
    reply = await server.call("get_changesets", repoid="mirror", start=1, end=2)
    assert reply.result == [
        {
            "short_id": "9ec8c93855e4",
            "raw_id": "9ec8c93855e47f446af5ced4cd43d5bcafc42c1f",
            "revision": 1,
            "message": "second commit",
            "date": local(1704114000),
            "author": "Test Author <author@example.com>",
        },
        {
            "short_id": "fe9fb6307a1f",
            "raw_id": "fe9fb6307a1f8b602c8968d746f3327719fb43e8",
            "revision": 2,
            "message": "third commit",
            "date": local(1704117600),
            "author": "Test Author <author@example.com>",
        },
    ]


@pytest_twisted.ensureDeferred
async def test_get_changesets_with_nulls_lists_everything(server, mirror, kind):
    reply = await server.call(
        "get_changesets",
        repoid=mirror,
        start=None,
        end=None,
        start_date=None,
        end_date=None,
        branch_name=None,
        reverse=None,
        with_file_list=None,
        max_revisions=None,
    )
    assert reply.result == [changeset(kind, n) for n in range(3)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_start_and_end_are_inclusive(server, mirror, kind):
    reply = await server.call("get_changesets", repoid=mirror, start=0, end=1)
    assert reply.result == [changeset(kind, 0), changeset(kind, 1)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_start_by_raw_id(server, mirror, kind):
    reply = await server.call("get_changesets", repoid=mirror, start=RAW_IDS[kind][1])
    assert reply.result == [changeset(kind, 1), changeset(kind, 2)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_end_by_short_id(server, mirror, kind):
    reply = await server.call(
        "get_changesets", repoid=mirror, end=RAW_IDS[kind][0][:12]
    )
    assert reply.result == [changeset(kind, 0)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_start_date_includes_its_bound(server, mirror, kind):
    reply = await server.call(
        "get_changesets", repoid=mirror, start_date=local(T0 + HOUR)
    )
    assert reply.result == [changeset(kind, 1), changeset(kind, 2)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_end_date_includes_its_bound(server, mirror, kind):
    reply = await server.call(
        "get_changesets", repoid=mirror, end_date=local(T0 + HOUR)
    )
    assert reply.result == [changeset(kind, 0), changeset(kind, 1)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_date_window_with_file_list(server, mirror, kind):
    reply = await server.call(
        "get_changesets",
        repoid=mirror,
        start_date=local(T0 + 30 * 60),
        end_date=local(T0 + 2 * HOUR),
        with_file_list=True,
    )
    assert reply.result == [
        with_files(changeset(kind, 1), changed=["README.rst"]),
        with_files(
            changeset(kind, 2), added=["src/main.py"], removed=["docs/index.rst"]
        ),
    ]


@pytest_twisted.ensureDeferred
async def test_get_changesets_with_file_list_on_every_changeset(server, repo, kind):
    reply = await server.call("get_changesets", repoid=repo, with_file_list=True)
    assert reply.result == [
        with_files(changeset(kind, n), **FILE_LISTS[n]) for n in range(3)
    ]


@pytest_twisted.ensureDeferred
async def test_get_changesets_without_file_list_has_no_added_key(server, repo):
    reply = await server.call("get_changesets", repoid=repo, start=0, end=2)
    assert len(reply.result) == 3
    assert all("added" not in entry for entry in reply.result)


@pytest_twisted.ensureDeferred
async def test_get_changesets_reverse_is_newest_first(server, repo, kind):
    reply = await server.call("get_changesets", repoid=repo, reverse=True)
    assert reply.result == [changeset(kind, n) for n in (2, 1, 0)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_max_revisions_limits_the_list(server, repo, kind):
    reply = await server.call("get_changesets", repoid=repo, max_revisions=2)
    assert reply.result == [changeset(kind, 0), changeset(kind, 1)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_of_the_main_branch(server, repo, kind):
    reply = await server.call(
        "get_changesets", repoid=repo, branch_name=MAIN_BRANCH[kind]
    )
    assert reply.result == [changeset(kind, 0), changeset(kind, 1)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_of_a_mercurial_named_branch(server, tmp_path):
    await rescanned(server, "hg", "repo", tmp_path)
    reply = await server.call("get_changesets", repoid="repo", branch_name="stable")
    assert reply.result == [changeset("hg", 2)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_of_a_git_branch_follows_its_ancestry(server, tmp_path):
    await rescanned(server, "git", "repo", tmp_path)
    reply = await server.call("get_changesets", repoid="repo", branch_name="stable")
    assert reply.result == [changeset("git", n) for n in range(3)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_of_an_empty_repository(server, kind):
    await create(server, "empty", kind)
    reply = await server.call("get_changesets", repoid="empty")
    assert reply.error == "Repository is empty"


@pytest_twisted.ensureDeferred
async def test_get_changesets_unknown_repository_does_not_exist(server):
    reply = await server.call("get_changesets", repoid="nope")
    assert reply.error == "repository `nope` does not exist"


@pytest_twisted.ensureDeferred
async def test_get_changesets_regular_user_without_read_is_denied(server, repo):
    key = await regular(server)
    await server.call("update_repo", repoid=repo, private=True)
    reply = await server.call("get_changesets", key=key, repoid=repo)
    assert reply.error == "Access denied to repo repo"


@pytest_twisted.ensureDeferred
async def test_get_changesets_regular_user_with_default_read(server, repo, kind):
    key = await regular(server)
    reply = await server.call("get_changesets", key=key, repoid=repo, start=2)
    assert reply.result == [changeset(kind, 2)]


# --- get_changeset (T266-T269) -----------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_changeset_by_raw_id(server, repo, kind):
    raw_id = RAW_IDS[kind][2]
    reply = await server.call("get_changeset", repoid=repo, raw_id=raw_id)
    assert reply.result == {
        "raw_id": raw_id,
        "short_id": raw_id[:12],
        "revision": 2,
        "date": local(T0 + 2 * HOUR),
        "message": "third commit",
        "author": {"name": "Test Author", "email": "author@example.com"},
        "added": ["src/main.py"],
        "changed": [],
        "removed": ["docs/index.rst"],
    }


@pytest_twisted.ensureDeferred
async def test_get_changeset_of_the_first_commit_lists_its_files(server, repo, kind):
    reply = await server.call("get_changeset", repoid=repo, raw_id=RAW_IDS[kind][0])
    got = reply.result
    assert (got["added"], got["changed"], got["removed"]) == (
        ["README.rst", "docs/api/api.rst", "docs/index.rst"],
        [],
        [],
    )


@pytest.mark.parametrize("form", ["short", "number"])
@pytest_twisted.ensureDeferred
async def test_get_changeset_by_short_id_or_number(server, mirror, kind, form):
    raw_id = RAW_IDS[kind][1]
    ident = raw_id[:12] if form == "short" else "1"
    reply = await server.call("get_changeset", repoid=mirror, raw_id=ident)
    got = reply.result
    assert (got["raw_id"], got["revision"], got["changed"]) == (
        raw_id,
        1,
        ["README.rst"],
    )
    assert got["author"] == {"name": "Test Author", "email": "author@example.com"}


@pytest_twisted.ensureDeferred
async def test_get_changeset_has_no_reviews_key_unless_asked(server, repo, kind):
    reply = await server.call("get_changeset", repoid=repo, raw_id=RAW_IDS[kind][1])
    assert "reviews" not in reply.result


@pytest_twisted.ensureDeferred
async def test_get_changeset_with_reviews_lists_none(server, repo, kind):
    reply = await server.call(
        "get_changeset", repoid=repo, raw_id=RAW_IDS[kind][1], with_reviews=True
    )
    assert reply.result["reviews"] == []


@pytest_twisted.ensureDeferred
async def test_get_changeset_unknown_id_does_not_exist(server, repo):
    raw_id = "7ab37bc680b4aa72c34d07b230c866c28e9fcfff"
    reply = await server.call("get_changeset", repoid=repo, raw_id=raw_id)
    assert reply.error == f"Changeset {raw_id} does not exist"


@pytest_twisted.ensureDeferred
async def test_get_changeset_unknown_repository_does_not_exist(server):
    reply = await server.call("get_changeset", repoid="nope", raw_id="tip")
    assert reply.error == "repository `nope` does not exist"


@pytest_twisted.ensureDeferred
async def test_get_changeset_regular_user_without_read_is_denied(server, repo, kind):
    key = await regular(server)
    await server.call("update_repo", repoid=repo, private=True)
    reply = await server.call(
        "get_changeset", key=key, repoid=repo, raw_id=RAW_IDS[kind][0]
    )
    assert reply.error == "Access denied to repo repo"


@pytest.mark.parametrize(
    "args",
    [
        {"start": 2, "end": 0},
        {"start": "i-dont-exist"},
        {"start_date": "2024-01-01 12:00"},
    ],
    ids=["start-after-end", "unknown-start", "bad-date"],
)
@pytest_twisted.ensureDeferred
async def test_get_changesets_bad_range_is_an_internal_error(server, repo, args):
    reply = await server.call("get_changesets", repoid=repo, **args)
    assert reply.error == "Internal server error"


@pytest_twisted.ensureDeferred
async def test_get_changesets_unknown_branch_is_an_internal_error(server, repo):
    reply = await server.call("get_changesets", repoid=repo, branch_name="no-such")
    assert reply.error == "Internal server error"


@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_without_root_path_is_missing_an_argument(server, repo):
    reply = await server.call("get_repo_nodes", repoid=repo, revision="tip")
    assert reply.error == "Missing non optional `root_path` arg in JSON DATA"


# --- names that travel with a clone over HTTP -------------------------------------


@pytest_twisted.ensureDeferred
async def test_cloned_git_repository_has_the_remote_branches_and_tags(server, remote):
    work = serve_history(remote, "git", "upstream")
    work.tag("v1", RAW_IDS["git"][0])
    await create(server, "mirror", "git", clone_uri=remote.url("git", "upstream"))
    reply = await server.call("get_repo", repoid="mirror", with_revision_names=True)
    got = reply.result
    assert (got["tags"], got["branches"], got["bookmarks"]) == (
        {"v1": "d593dfefe2ccf936bad6cb469cc45f72c4f0399e"},
        {
            "master": "9ec8c93855e47f446af5ced4cd43d5bcafc42c1f",
            "stable": "fe9fb6307a1f8b602c8968d746f3327719fb43e8",
        },
        {},
    )


@pytest_twisted.ensureDeferred
async def test_cloned_git_repository_follows_the_remote_default_branch(server, remote):
    work = serve_history(remote, "git", "upstream")
    work.branch("main")
    work.delete_branch("master")
    await create(server, "mirror", "git", clone_uri=remote.url("git", "upstream"))
    head = server.service.settings.vcs.repos_root / "mirror" / "HEAD"
    assert head.read_text() == "ref: refs/heads/main\n"
    reply = await server.call(
        "get_repo_nodes", repoid="mirror", revision="main", root_path="/"
    )
    assert reply.result == dirs("docs", "docs/api") + files(
        "README.rst", "docs/index.rst", "docs/api/api.rst"
    )


@pytest_twisted.ensureDeferred
async def test_cloned_mercurial_repository_has_the_tags_and_bookmarks(server, remote):
    work = serve_history(remote, "hg", "upstream")
    work.tag("v1", T0 + 3 * HOUR)
    work.bookmark("mark")
    await create(server, "mirror", "hg", clone_uri=remote.url("hg", "upstream"))
    reply = await server.call("get_repo", repoid="mirror", with_revision_names=True)
    got = reply.result
    tag_commit = "9739bad96b88e0460ea4875bbe657c251ded6968"
    assert (got["tags"], got["bookmarks"]) == (
        {"tip": tag_commit, "v1": "a1285cb96202005340ea9663e6cf4e5d92aea818"},
        {"mark": tag_commit},
    )


@pytest_twisted.ensureDeferred
async def test_get_changesets_start_position_slices_the_filtered_list(
    server, repo, kind
):
    # API-SPEC.md 3.46: start and end are positions in the full history that
    # slice the filtered list. The date filter leaves [1, 2]; position 1 of
    # that list is changeset 2.
    reply = await server.call(
        "get_changesets", repoid=repo, start=1, start_date=local(T0 + HOUR)
    )
    assert reply.result == [changeset(kind, 2)]


# --- get_changesets and get_changeset: Kallithea's readings of odd arguments ---


@pytest_twisted.ensureDeferred
async def test_get_changesets_max_revisions_limits_before_start_cuts(
    server, repo, kind
):
    # The limit keeps [0, 1] of the history; position 1 of that is 1.
    reply = await server.call("get_changesets", repoid=repo, start=1, max_revisions=2)
    assert reply.result == [changeset(kind, 1)]
    reply = await server.call("get_changesets", repoid=repo, start=2, max_revisions=2)
    assert reply.result == []


@pytest.mark.parametrize("value", [0, None])
@pytest_twisted.ensureDeferred
async def test_get_changesets_max_revisions_zero_or_null_sets_no_limit(
    server, repo, kind, value
):
    reply = await server.call("get_changesets", repoid=repo, max_revisions=value)
    assert reply.result == [changeset(kind, n) for n in range(3)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_empty_dates_and_branch_filter_nothing(server, repo, kind):
    reply = await server.call(
        "get_changesets", repoid=repo, start_date="", end_date="", branch_name=""
    )
    assert reply.result == [changeset(kind, n) for n in range(3)]


@pytest_twisted.ensureDeferred
async def test_get_changesets_of_a_closed_mercurial_branch(server, tmp_path):
    work = put_on_disk(server, "hg", "repo", tmp_path)
    work.update("stable")
    closing = work.commit({}, "close stable", T0 + 3 * HOUR, close_branch=True)
    await server.call("rescan_repos")
    reply = await server.call("get_changesets", repoid="repo", branch_name="stable")
    assert [entry["raw_id"] for entry in reply.result] == [RAW_IDS["hg"][2], closing]
    # A closed branch is not among get_repo's branches, as in Kallithea.
    reply = await server.call("get_repo", repoid="repo", with_revision_names=True)
    assert sorted(reply.result["branches"]) == ["default"]


# Author strings and how Kallithea splits them. A git commit header needs
# the address in <>, so git only gets the bracketed ones.
AUTHORS = [
    ("Bob Smith <bob@example.com>", "Bob Smith", "bob@example.com"),
    ("Bob <notanemail>", "Bob <notanemail>", "notanemail"),
    ("<bob@example.com>", "", "bob@example.com"),
]
HG_ONLY_AUTHORS = [
    ("bob@example.com", "", "bob@example.com"),
    ("Bob Smith bob@example.com", "Bob Smith", "bob@example.com"),
    ("Bob Smith", "Bob Smith", ""),
]


@pytest.mark.parametrize(
    ("repo_kind", "author", "name", "email"),
    [("hg", *case) for case in AUTHORS + HG_ONLY_AUTHORS]
    + [("git", *case) for case in AUTHORS],
)
@pytest_twisted.ensureDeferred
async def test_get_changeset_splits_the_author_as_kallithea_does(
    server, tmp_path, repo_kind, author, name, email
):
    target = repos_root(server) / "authored"
    if repo_kind == "hg":
        HgWorkdir(target).commit({"a.txt": "a\n"}, "one", T0, user=author)
    else:
        work = GitWorkdir(tmp_path / "work")
        work.commit_by_odd_author({"a.txt": "a\n"}, "one", T0, author)
        work.publish(target)
    await server.call("rescan_repos")
    reply = await server.call("get_changeset", repoid="authored", raw_id="tip")
    assert reply.result["author"] == {"name": name, "email": email}


@pytest.mark.parametrize("raw_id", [None, -1])
@pytest_twisted.ensureDeferred
async def test_get_changeset_null_or_minus_one_is_the_tip(server, repo, kind, raw_id):
    reply = await server.call("get_changeset", repoid=repo, raw_id=raw_id)
    assert reply.result["raw_id"] == RAW_IDS[kind][2]


@pytest_twisted.ensureDeferred
async def test_get_repo_nodes_null_revision_is_the_tip(server, repo):
    reply = await server.call(
        "get_repo_nodes", repoid=repo, revision=None, root_path="/", ret_type="files"
    )
    assert reply.result == files("README.rst", "docs/api/api.rst", "src/main.py")
