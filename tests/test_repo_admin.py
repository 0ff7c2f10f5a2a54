"""Keeping repositories in shape, over real HTTP: pull, rescan_repos,
invalidate_cache, lock and get_locks.

Expected values follow API-SPEC.md 3.3-3.7, 6.1-6.4, 6.8 and the cases
T047-T070, with DESIGN.md section 1: clone URIs (stored or given to pull)
must be http(s) URLs, an explicit null is an omitted argument, and the 0.2
locking methods are kept.

Remote repositories are served over HTTP by tests/vcs_http.py in this
process; repositories "on disk" are written into the repositories root with
the hg and git libraries. Each case runs for both kinds.
"""

from __future__ import annotations

import datetime
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import sqlalchemy as sa
from dulwich.repo import Repo
from mercurial import hg
from mercurial import ui as hg_ui
from twisted.internet import defer

from kallithead.db import schema as t
from kallithead.formats import python2_float_text
from tests.gitutil import GitWorkdir
from tests.hgutil import HgWorkdir
from tests.test_repos import (
    ACCESS_DENIED,
    ADMIN_ID,
    ADMIN_USER,
    EMPTY_CHANGESET,
    FIRST_USER_ID,
    KINDS,
    RAW_IDS,
    add_fourth_commit,
    add_fourth_commit_on_disk,
    changed_elsewhere,
    changeset,
    create,
    get_repo,
    group_rows,
    journal,
    put_on_disk,
    regular,
    repo_rows,
    repo_shape,
    repos_root,
    rescanned,
    serve_history,
    user,
    without_created_on,
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


def stored_lock_time(timestamp: float) -> float:
    """A lock time as Kallithea 0.2 kept it: twelve significant digits,
    which for a ten-digit Unix time leaves hundredths of a second."""
    return round(timestamp, 2)


def with_millis(timestamp: float) -> str:
    """A Unix time as the server writes datetimes: local, milliseconds cut."""
    when = datetime.datetime.fromtimestamp(timestamp)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond // 1000:03d}"
    return text


# --- pull (T047-T050) ---------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_pull_from_the_stored_clone_uri_brings_new_changesets(
    server, remote, kind
):
    work = serve_history(remote, kind, "upstream")
    await create(server, "mirror", kind, clone_uri=remote.url(kind, "upstream"))
    assert (await get_repo(server, "mirror"))["last_changeset"] == changeset(kind, 2)
    add_fourth_commit(work)
    reply = await server.call("pull", repoid="mirror")
    assert reply.result == {"msg": "Pulled from `mirror`", "repository": "mirror"}
    assert (await get_repo(server, "mirror"))["last_changeset"] == changeset(kind, 3)


@pytest_twisted.ensureDeferred
async def test_pull_new_changesets_show_in_get_changesets(server, remote, kind):
    work = serve_history(remote, kind, "upstream")
    await create(server, "mirror", kind, clone_uri=remote.url(kind, "upstream"))
    add_fourth_commit(work)
    await server.call("pull", repoid="mirror")
    reply = await server.call("get_changesets", repoid="mirror", start=2)
    assert reply.result == [changeset(kind, 2), changeset(kind, 3)]


@pytest_twisted.ensureDeferred
async def test_pull_records_push_remote_in_the_journal(server, engine, remote, kind):
    work = serve_history(remote, kind, "upstream")
    await create(server, "mirror", kind, clone_uri=remote.url(kind, "upstream"))
    add_fourth_commit(work)
    await server.call("pull", repoid="mirror")
    revisions = RAW_IDS[kind][3] if kind == "hg" else ""
    assert journal(engine)[-1] == ("admin", "mirror", f"push_remote:{revisions}")


@pytest_twisted.ensureDeferred
async def test_pull_marks_the_repositorys_cache_rows_inactive(
    server, engine, remote, kind
):
    work = serve_history(remote, kind, "upstream")
    await create(server, "mirror", kind, clone_uri=remote.url(kind, "upstream"))
    await create(server, "other", kind)
    cache = t.cache_invalidation
    with engine.begin() as c:
        for key, args in (("a", "mirror"), ("b", "other")):
            c.execute(
                cache.insert().values(cache_key=key, cache_args=args, cache_active=True)
            )
    add_fourth_commit(work)
    await server.call("pull", repoid="mirror")
    with engine.connect() as c:
        query = sa.select(cache.c.cache_key, cache.c.cache_active)
        rows = c.execute(query.order_by(cache.c.cache_key)).all()
    assert [(row[0], bool(row[1])) for row in rows] == [("a", False), ("b", True)]


@pytest_twisted.ensureDeferred
async def test_pull_with_nothing_new_keeps_the_tip(server, remote, kind):
    serve_history(remote, kind, "upstream")
    await create(server, "mirror", kind, clone_uri=remote.url(kind, "upstream"))
    reply = await server.call("pull", repoid=1)
    assert reply.result == {"msg": "Pulled from `mirror`", "repository": "mirror"}
    assert (await get_repo(server, "mirror"))["last_changeset"] == changeset(kind, 2)


@pytest_twisted.ensureDeferred
async def test_pull_into_an_empty_repository_with_a_clone_uri_argument(
    server, remote, kind
):
    serve_history(remote, kind, "upstream")
    await create(server, "target", kind)
    reply = await server.call(
        "pull", repoid="target", clone_uri=remote.url(kind, "upstream")
    )
    assert reply.result == {"msg": "Pulled from `target`", "repository": "target"}
    got = await get_repo(server, "target")
    assert got["last_changeset"] == changeset(kind, 2)
    reply = await server.call("get_changesets", repoid="target")
    assert reply.result == [changeset(kind, n) for n in range(3)]


@pytest_twisted.ensureDeferred
async def test_pull_after_update_repo_sets_the_clone_uri(server, remote, kind):
    serve_history(remote, kind, "upstream")
    await create(server, "target", kind)
    await server.call(
        "update_repo", repoid="target", clone_uri=remote.url(kind, "upstream")
    )
    reply = await server.call("pull", repoid="target")
    assert reply.result == {"msg": "Pulled from `target`", "repository": "target"}
    assert (await get_repo(server, "target"))["last_changeset"] == changeset(kind, 2)


@pytest_twisted.ensureDeferred
async def test_pull_without_clone_uri_of_a_plain_repository_fails(
    server, tmp_path, kind
):
    await rescanned(server, kind, "repo", tmp_path)
    reply = await server.call("pull", repoid="repo")
    assert reply.error == "Unable to pull changes from `repo`"


@pytest_twisted.ensureDeferred
async def test_pull_of_a_fork_without_clone_uri_pulls_from_its_parent(
    server, tmp_path, kind
):
    work = await rescanned(server, kind, "parent", tmp_path)
    await server.call("fork_repo", repoid="parent", fork_name="fork")
    add_fourth_commit_on_disk(server, kind, "parent", work)
    reply = await server.call("pull", repoid="fork")
    assert reply.result == {"msg": "Pulled from `fork`", "repository": "fork"}
    assert (await get_repo(server, "fork"))["last_changeset"] == changeset(kind, 3)


@pytest.mark.parametrize("form", ["{path}", "file://{path}"])
@pytest_twisted.ensureDeferred
async def test_pull_refuses_a_local_clone_uri_argument(server, remote, kind, form):
    serve_history(remote, kind, "upstream")
    await create(server, "target", kind)
    path = str(remote.path(kind, "upstream"))
    reply = await server.call("pull", repoid="target", clone_uri=form.format(path=path))
    assert reply.error == "Unable to pull changes from `target`"
    reply = await server.call("get_changesets", repoid="target")
    assert reply.error == "Repository is empty"


@pytest_twisted.ensureDeferred
async def test_pull_of_a_fork_refuses_a_local_clone_uri_argument(
    server, tmp_path, kind
):
    work = await rescanned(server, kind, "parent", tmp_path)
    await server.call("fork_repo", repoid="parent", fork_name="fork")
    add_fourth_commit_on_disk(server, kind, "parent", work)
    path = str(repos_root(server) / "parent")
    reply = await server.call("pull", repoid="fork", clone_uri=path)
    assert reply.error == "Unable to pull changes from `fork`"
    assert (await get_repo(server, "fork"))["last_changeset"] == changeset(kind, 2)


@pytest_twisted.ensureDeferred
async def test_pull_from_a_missing_remote_fails(server, remote, kind):
    await create(server, "target", kind)
    reply = await server.call(
        "pull", repoid="target", clone_uri=remote.url(kind, "no-such-repo")
    )
    assert reply.error == "Unable to pull changes from `target`"


@pytest_twisted.ensureDeferred
async def test_pull_unknown_repository_does_not_exist(server):
    reply = await server.call("pull", repoid="nope")
    assert reply.error == "repository `nope` does not exist"


@pytest_twisted.ensureDeferred
async def test_pull_is_for_admins(server, remote, kind):
    key = await regular(server)
    serve_history(remote, kind, "upstream")
    await create(
        server,
        "mine",
        kind,
        owner="test-api",
        clone_uri=remote.url(kind, "upstream"),
    )
    reply = await server.call("pull", key=key, repoid="mine")
    assert reply.error == ACCESS_DENIED


# --- rescan_repos (T051, 6.2) ---------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_rescan_repos_in_sync_reports_nothing(server, engine, kind):
    await create(server, "api-repo", kind)
    await create(server, "grp/inner", kind)
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": [], "removed": []}
    assert repo_rows(engine) == [(1, "api-repo"), (2, "grp/inner")]


@pytest_twisted.ensureDeferred
async def test_rescan_repos_on_a_fresh_install_reports_nothing(server):
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": [], "removed": []}


@pytest_twisted.ensureDeferred
async def test_rescan_repos_adds_a_repository_put_on_disk(server, tmp_path, kind):
    put_on_disk(server, kind, "ondisk", tmp_path)
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": ["ondisk"], "removed": []}
    got = await get_repo(server, "ondisk")
    assert without_created_on(got) == {
        **repo_shape(
            1,
            "ondisk",
            kind,
            description="ondisk repository",
            last_changeset=changeset(kind, 2),
        ),
        "members": [
            {"name": "default", "type": "user", "permission": "repository.read"}
        ],
        "followers": [ADMIN_USER],
    }


@pytest_twisted.ensureDeferred
async def test_rescan_repos_adds_a_non_bare_git_repository(server, tmp_path):
    write_history("git", repos_root(server) / "workdir")
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": ["workdir"], "removed": []}
    got = await get_repo(server, "workdir")
    assert (got["repo_type"], got["last_changeset"]) == ("git", changeset("git", 2))


@pytest_twisted.ensureDeferred
async def test_rescan_repos_adds_repositories_of_both_kinds(server, tmp_path):
    put_on_disk(server, "hg", "one-hg", tmp_path)
    put_on_disk(server, "git", "two-git", tmp_path)
    reply = await server.call("rescan_repos")
    assert sorted(reply.result["added"]) == ["one-hg", "two-git"]
    assert reply.result["removed"] == []
    types = {
        name: (await get_repo(server, name))["repo_type"]
        for name in ("one-hg", "two-git")
    }
    assert types == {"one-hg": "hg", "two-git": "git"}


@pytest_twisted.ensureDeferred
async def test_rescan_repos_in_subfolders_creates_the_groups(
    server, engine, tmp_path, kind
):
    put_on_disk(server, kind, "team/sub/deep", tmp_path)
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": ["team/sub/deep"], "removed": []}
    assert group_rows(engine) == [
        ("team", None, "team group", ADMIN_ID),
        ("team/sub", "team", "team/sub group", ADMIN_ID),
    ]
    got = await get_repo(server, "team/sub/deep")
    assert got["last_changeset"] == changeset(kind, 2)


@pytest_twisted.ensureDeferred
async def test_rescan_repos_takes_the_description_the_repository_holds(
    server, tmp_path, kind
):
    put_on_disk(server, kind, "described", tmp_path)
    folder = repos_root(server) / "described"
    if kind == "hg":
        (folder / ".hg" / "hgrc").write_text("[web]\ndescription = from the repo\n")
    else:
        (folder / "description").write_text("from the repo\n")
    await server.call("rescan_repos")
    got = await get_repo(server, "described")
    assert got["description"] == "from the repo"


def put_empty_on_disk(kind: str, folder: Path, description: str | None) -> None:
    """An empty repository made with the library (hg with a working
    directory, git bare), holding ``description`` where its kind keeps one."""
    if kind == "hg":
        ui = hg_ui.ui()
        ui.setconfig(b"ui", b"quiet", b"true")
        hg.repository(ui, bytes(folder), create=True).close()
        if description is not None:
            hgrc = f"[web]\ndescription = {description}\n"
            (folder / ".hg" / "hgrc").write_text(hgrc)
    else:
        Repo.init_bare(str(folder), mkdir=True).close()
        if description is not None:
            (folder / "description").write_text(description + "\n")


@pytest_twisted.ensureDeferred
async def test_rescan_repos_adds_empty_repositories_with_their_descriptions(
    server, kind
):
    put_empty_on_disk(kind, repos_root(server) / "plain", None)
    put_empty_on_disk(kind, repos_root(server) / "told", "Büro tools")
    reply = await server.call("rescan_repos")
    assert sorted(reply.result["added"]) == ["plain", "told"]
    plain = without_created_on(await get_repo(server, "plain"))
    told = without_created_on(await get_repo(server, "told"))
    assert (plain["description"], plain["last_changeset"]) == (
        "plain repository",
        EMPTY_CHANGESET,
    )
    assert (told["description"], told["last_changeset"]) == (
        "Büro tools",
        EMPTY_CHANGESET,
    )


@pytest_twisted.ensureDeferred
async def test_rescan_repos_ignores_archived_hidden_and_plain_folders(
    server, engine, tmp_path, kind
):
    put_on_disk(server, kind, "rm__20240101_120000_000001__old", tmp_path)
    put_on_disk(server, kind, ".hidden", tmp_path)
    put_on_disk(server, kind, ".secret/inner", tmp_path)
    put_on_disk(server, kind, "grp/rm__20240101_120000_000002__gone", tmp_path)
    (repos_root(server) / "plain" / "folder").mkdir(parents=True)
    (repos_root(server) / "a-file").write_text("not a repository\n")
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": [], "removed": []}
    assert repo_rows(engine) == []
    assert group_rows(engine) == []


@pytest_twisted.ensureDeferred
async def test_rescan_repos_does_not_add_a_repository_twice(server, tmp_path, kind):
    await rescanned(server, kind, "ondisk", tmp_path)
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": [], "removed": []}


@pytest_twisted.ensureDeferred
async def test_rescan_repos_reports_a_vanished_folder_but_keeps_the_row(
    server, engine, kind
):
    await create(server, "gone", kind)
    await create(server, "kept", kind)
    shutil.rmtree(repos_root(server) / "gone")
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": [], "removed": ["gone"]}
    assert repo_rows(engine) == [(1, "gone"), (2, "kept")]
    again = await server.call("rescan_repos", remove_obsolete=False)
    assert again.result == {"added": [], "removed": ["gone"]}


@pytest_twisted.ensureDeferred
async def test_rescan_repos_remove_obsolete_deletes_the_rows(server, engine, kind):
    await create(server, "gone", kind)
    await create(server, "kept", kind)
    shutil.rmtree(repos_root(server) / "gone")
    reply = await server.call("rescan_repos", remove_obsolete=True)
    assert reply.result == {"added": [], "removed": ["gone"]}
    assert repo_rows(engine) == [(2, "kept")]
    reply = await server.call("get_repo", repoid="gone")
    assert reply.error == "repository `gone` does not exist"


@pytest_twisted.ensureDeferred
async def test_rescan_repos_remove_obsolete_detaches_forks(server, kind):
    await create(server, "parent", kind)
    await server.call("fork_repo", repoid="parent", fork_name="fork")
    shutil.rmtree(repos_root(server) / "parent")
    reply = await server.call("rescan_repos", remove_obsolete=True)
    assert reply.result == {"added": [], "removed": ["parent"]}
    assert (await get_repo(server, "fork"))["fork_of"] is None


@pytest_twisted.ensureDeferred
async def test_rescan_repos_follows_symbolic_links_to_folders(
    server, engine, tmp_path, kind
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    put_on_disk(server, kind, "inner", tmp_path)
    os.rename(repos_root(server) / "inner", elsewhere / "linked")
    (elsewhere / "group").mkdir()
    put_on_disk(server, kind, "deep", tmp_path)
    os.rename(repos_root(server) / "deep", elsewhere / "group" / "deep")
    os.symlink(elsewhere / "linked", repos_root(server) / "linked")
    os.symlink(elsewhere / "group", repos_root(server) / "linkedgroup")
    # A link back up and a dangling link are passed over.
    os.symlink(repos_root(server), elsewhere / "group" / "loop")
    os.symlink(tmp_path / "nowhere", repos_root(server) / "dangling")

    reply = await server.call("rescan_repos")
    assert reply.result == {"added": ["linked", "linkedgroup/deep"], "removed": []}
    got = await get_repo(server, "linkedgroup/deep")
    assert got["last_changeset"] == changeset(kind, 2)
    again = await server.call("rescan_repos")
    assert again.result == {"added": [], "removed": []}


@pytest_twisted.ensureDeferred
async def test_rescan_repos_keeps_a_registered_repository_with_an_unusual_name(
    server, engine, tmp_path, kind
):
    # A database taken over from Kallithea may hold names kallithead would
    # not give (rm__ is reserved here); their folders are still on disk.
    await create(server, "plain", kind)
    os.rename(repos_root(server) / "plain", repos_root(server) / "rm__old")
    with engine.begin() as c:
        c.execute(t.repositories.update().values(repo_name="rm__old"))
    await changed_elsewhere(server, engine)
    put_on_disk(server, kind, "rm__new", tmp_path)

    for remove_obsolete in (False, True):
        reply = await server.call("rescan_repos", remove_obsolete=remove_obsolete)
        assert reply.result == {"added": [], "removed": []}
    assert [name for _, name in repo_rows(engine)] == ["rm__old"]


@pytest_twisted.ensureDeferred
async def test_rescan_repos_is_for_admins(server):
    key = await regular(server)
    reply = await server.call("rescan_repos", key=key)
    assert reply.error == ACCESS_DENIED


# --- rescans after a creation cut off half-way --------------------------------

TWO_HOURS = datetime.timedelta(hours=2)


def age_row(engine: sa.Engine, name: str, *, pending: bool) -> None:
    """Make the row of ``name`` look two hours old; ``pending`` puts it back
    in the state a creation leaves it in before its last step."""
    values: dict[str, Any] = {
        "created_on": datetime.datetime.now() - TWO_HOURS,
    }
    if pending:
        values.update(repo_state="repo_state_pending", changeset_cache=None)
    with engine.begin() as c:
        c.execute(
            t.repositories.update()
            .where(t.repositories.c.repo_name == name)
            .values(**values)
        )


def age_tree(folder: Path) -> None:
    """Date ``folder`` and everything in it two hours back."""
    then = time.time() - TWO_HOURS.total_seconds()
    for path in [*folder.rglob("*"), folder]:
        os.utime(path, (then, then), follow_symlinks=False)


def repo_states(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as c:
        query = sa.select(t.repositories.c.repo_name, t.repositories.c.repo_state)
        return {name: state for name, state in c.execute(query)}


def build_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".kallithead"))


@pytest_twisted.ensureDeferred
async def test_rescan_finishes_a_creation_cut_off_after_its_folder_was_in_place(
    server, engine, tmp_path, kind
):
    put_on_disk(server, kind, "grp/made", tmp_path)
    await server.call("rescan_repos")
    expected = await get_repo(server, "grp/made")
    age_row(engine, "grp/made", pending=True)
    assert repo_states(engine) == {"grp/made": "repo_state_pending"}

    reply = await server.call("rescan_repos")
    assert reply.result == {"added": [], "removed": []}
    assert repo_states(engine) == {"grp/made": "repo_state_created"}
    got = await get_repo(server, "grp/made")
    assert got["last_changeset"] == expected["last_changeset"]
    assert got["last_changeset"]["raw_id"] == RAW_IDS[kind][2]


@pytest_twisted.ensureDeferred
async def test_rescan_removes_an_old_unfinished_row_without_a_folder(
    server, engine, kind
):
    await create(server, "lost", kind)
    shutil.rmtree(repos_root(server) / "lost")
    age_row(engine, "lost", pending=True)
    reply = await server.call("rescan_repos")
    # Never finished, so never reported: it is simply gone.
    assert reply.result == {"added": [], "removed": []}
    assert repo_rows(engine) == []
    await create(server, "lost", kind)


@pytest_twisted.ensureDeferred
async def test_rescan_leaves_a_young_unfinished_row_alone(server, engine, kind):
    await create(server, "young", kind)
    shutil.rmtree(repos_root(server) / "young")
    with engine.begin() as c:
        c.execute(t.repositories.update().values(repo_state="repo_state_pending"))
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": [], "removed": []}
    assert repo_states(engine) == {"young": "repo_state_pending"}


@pytest_twisted.ensureDeferred
async def test_rescan_removes_build_folders_once_nothing_is_written_to_them(
    server, engine, kind
):
    await create(server, "grp/inside", kind)
    root = repos_root(server)
    for folder in (root, root / "grp"):
        old = folder / ".kallithead-new-999-0123abcd"
        (old / "objects").mkdir(parents=True)
        (old / "objects" / "pack").write_bytes(b"half a pack")
        age_tree(old)
    fresh = root / ".kallithead-new-998-4567ef01"
    (fresh / "objects").mkdir(parents=True)
    age_tree(fresh)
    (fresh / "objects" / "pack").write_bytes(b"being written now")

    reply = await server.call("rescan_repos")
    assert reply.result == {"added": [], "removed": []}
    assert build_folders(root) == [fresh.name]
    assert build_folders(root / "grp") == []
    assert repo_states(engine) == {"grp/inside": "repo_state_created"}


@pytest_twisted.ensureDeferred
async def test_rescan_keeps_an_old_row_whose_build_is_still_written(
    server, engine, kind
):
    await create(server, "slow", kind)
    root = repos_root(server)
    shutil.rmtree(root / "slow")
    age_row(engine, "slow", pending=True)
    repo_id = repo_rows(engine)[0][0]
    build = root / f".kallithead-new-{repo_id}-89abcdef"
    (build / "data").mkdir(parents=True)
    (build / "data" / "chunk").write_bytes(b"arriving")

    await server.call("rescan_repos")
    assert repo_states(engine) == {"slow": "repo_state_pending"}
    assert build_folders(root) == [build.name]

    age_tree(build)
    await server.call("rescan_repos")
    assert repo_rows(engine) == []
    assert build_folders(root) == []


@pytest_twisted.ensureDeferred
async def test_finishing_a_creation_whose_row_was_removed_meanwhile_fails(
    server, engine, kind
):
    from kallithead.db.repos import RowGone

    await create(server, "raced", kind)
    store = server.service.repositories.store
    record = await store.find("raced")
    await store.forget(record.repo_id)
    with pytest.raises(RowGone):
        await store.mark_created(record, None, None)
    assert repo_rows(engine) == []


# --- invalidate_cache (T053-T055, 6.3) -----------------------------------------


@pytest_twisted.ensureDeferred
async def test_invalidate_cache_by_name(server, kind):
    await create(server, "api-repo", kind)
    reply = await server.call("invalidate_cache", repoid="api-repo")
    assert reply.result == {
        "msg": "Cache for repository `api-repo` was invalidated",
        "repository": "api-repo",
    }


@pytest_twisted.ensureDeferred
async def test_invalidate_cache_echoes_a_numeric_repoid(server, kind):
    await create(server, "first", kind)
    await create(server, "api-repo", kind)
    reply = await server.call("invalidate_cache", repoid=2)
    assert reply.result == {
        "msg": "Cache for repository `2` was invalidated",
        "repository": "api-repo",
    }


@pytest_twisted.ensureDeferred
async def test_last_changeset_follows_a_direct_commit_only_after_invalidate_cache(
    server, tmp_path, kind
):
    work = await rescanned(server, kind, "repo", tmp_path)
    add_fourth_commit_on_disk(server, kind, "repo", work)
    assert (await get_repo(server, "repo"))["last_changeset"] == changeset(kind, 2)
    await server.call("invalidate_cache", repoid="repo")
    assert (await get_repo(server, "repo"))["last_changeset"] == changeset(kind, 3)


@pytest_twisted.ensureDeferred
async def test_invalidate_cache_marks_the_repositorys_cache_rows_inactive(
    server, engine, kind
):
    await create(server, "api-repo", kind)
    await create(server, "other", kind)
    cache = t.cache_invalidation
    with engine.begin() as c:
        for key, args in (("a", "api-repo"), ("b", "api-repo"), ("c", "other")):
            c.execute(
                cache.insert().values(cache_key=key, cache_args=args, cache_active=True)
            )
    await server.call("invalidate_cache", repoid="api-repo")
    with engine.connect() as c:
        rows = c.execute(
            sa.select(cache.c.cache_key, cache.c.cache_active).order_by(
                cache.c.cache_key
            )
        ).all()
    assert [(row[0], bool(row[1])) for row in rows] == [
        ("a", False),
        ("b", False),
        ("c", True),
    ]


@pytest_twisted.ensureDeferred
async def test_invalidate_cache_unknown_repository_does_not_exist(server):
    reply = await server.call("invalidate_cache", repoid="nope")
    assert reply.error == "repository `nope` does not exist"


@pytest_twisted.ensureDeferred
async def test_invalidate_cache_regular_user_with_read_only_sees_nothing(server, kind):
    key = await regular(server)
    await create(server, "api-repo", kind)
    reply = await server.call("invalidate_cache", key=key, repoid="api-repo")
    assert reply.error == "repository `api-repo` does not exist"


@pytest_twisted.ensureDeferred
async def test_invalidate_cache_regular_user_with_write_may(server, kind):
    key = await regular(server)
    await create(server, "api-repo", kind)
    await server.call(
        "grant_user_permission",
        repoid="api-repo",
        userid="test-api",
        perm="repository.write",
    )
    reply = await server.call("invalidate_cache", key=key, repoid="api-repo")
    assert reply.result == {
        "msg": "Cache for repository `api-repo` was invalidated",
        "repository": "api-repo",
    }


# --- lock (T056-T064) ------------------------------------------------------------


def not_locked(name: str) -> dict[str, Any]:
    return {
        "repo": name,
        "locked": False,
        "locked_since": None,
        "locked_by": None,
        "lock_state_changed": False,
        "msg": f"Repo `{name}` not locked.",
    }


@pytest_twisted.ensureDeferred
async def test_lock_query_of_an_unlocked_repository_by_numeric_id(server, kind):
    await create(server, "api_not_locked", kind)
    reply = await server.call("lock", repoid=1)
    assert reply.result == not_locked("api_not_locked")


@pytest_twisted.ensureDeferred
async def test_lock_with_null_locked_is_a_query(server, kind):
    await create(server, "api-repo", kind)
    await server.call("lock", repoid="api-repo", locked=True)
    reply = await server.call("lock", repoid="api-repo", locked=None)
    assert reply.result["lock_state_changed"] is False
    assert reply.result["locked"] is True


@pytest_twisted.ensureDeferred
async def test_lock_sets_the_lock_for_the_named_user(server, kind):
    await create(server, "api-repo", kind)
    before = time.time()
    reply = await server.call("lock", userid="admin", repoid="api-repo", locked=True)
    after = time.time()
    result = reply.result
    since = result.pop("locked_since")
    assert before - 1 <= since <= after + 1
    assert result == {
        "repo": "api-repo",
        "locked": True,
        "locked_by": "admin",
        "lock_state_changed": True,
        "msg": "User `admin` set lock state for repo `api-repo` to `True`",
    }


@pytest_twisted.ensureDeferred
async def test_lock_query_of_a_locked_repository(server, engine, kind):
    await create(server, "api-repo", kind)
    await server.call("lock", repoid="api-repo", locked=True)
    with engine.begin() as c:
        c.execute(t.repositories.update().values(locked_since=1423145678.912345))
    await changed_elsewhere(server, engine)
    reply = await server.call("lock", repoid="api-repo")
    # The time as Kallithea 0.2 stored it (Python 2's 12 significant digits),
    # and the date read back from that text.
    when = with_millis(1423145678.91)
    assert reply.result == {
        "repo": "api-repo",
        "locked": True,
        "locked_since": "1423145678.91",
        "locked_by": "admin",
        "lock_state_changed": False,
        "msg": f'Repo `api-repo` locked by `admin` on `"{when}"`.',
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [(1423145678.0, "1423145678.0"), (1423145678.5, "1423145678.5"), (0.25, "0.25")],
)
def test_lock_times_are_written_as_python_2_wrote_floats(value, text):
    assert python2_float_text(value) == text


@pytest_twisted.ensureDeferred
async def test_lock_false_unlocks(server, kind):
    await create(server, "api-repo", kind)
    await server.call("lock", repoid="api-repo", locked=True)
    reply = await server.call("lock", userid="admin", repoid="api-repo", locked=False)
    assert reply.result == {
        "repo": "api-repo",
        "locked": False,
        "locked_since": None,
        "locked_by": "admin",
        "lock_state_changed": True,
        "msg": "User `admin` set lock state for repo `api-repo` to `False`",
    }
    query = await server.call("lock", repoid="api-repo")
    assert query.result == not_locked("api-repo")


@pytest.mark.parametrize(
    ("locked", "expected"),
    [("yes", True), (" ON ", True), ("1", True), ("nope", False), (0, False)],
)
@pytest_twisted.ensureDeferred
async def test_lock_reads_words_as_true_or_false(server, kind, locked, expected):
    await create(server, "api-repo", kind)
    reply = await server.call("lock", repoid="api-repo", locked=locked)
    assert (reply.result["locked"], reply.result["msg"]) == (
        expected,
        f"User `admin` set lock state for repo `api-repo` to `{expected}`",
    )


@pytest_twisted.ensureDeferred
async def test_lock_shows_in_the_repository_object(server, kind):
    await server.create_user("test-api")
    await create(server, "api-repo", kind)
    reply = await server.call("lock", repoid="api-repo", userid="test-api", locked=True)
    since = reply.result["locked_since"]
    got = await get_repo(server, "api-repo")
    assert (got["locked_by"], got["locked_date"]) == (
        user(FIRST_USER_ID, "test-api"),
        with_millis(stored_lock_time(since)),
    )
    await server.call("lock", repoid="api-repo", locked=False)
    got = await get_repo(server, "api-repo")
    assert (got["locked_by"], got["locked_date"]) == (None, None)


@pytest_twisted.ensureDeferred
async def test_lock_unknown_repository_does_not_exist(server):
    reply = await server.call("lock", repoid="nope", locked=True)
    assert reply.error == "repository `nope` does not exist"


@pytest_twisted.ensureDeferred
async def test_lock_unknown_user_does_not_exist(server, kind):
    await create(server, "api-repo", kind)
    reply = await server.call("lock", repoid="api-repo", userid="nobody")
    assert reply.error == "user `nobody` does not exist"


@pytest_twisted.ensureDeferred
async def test_lock_regular_user_locks_its_own_repository(server, kind):
    key = await regular(server)
    await server.call("create_repo", key=key, repo_name="api_delete_me", repo_type=kind)
    reply = await server.call("lock", key=key, repoid="api_delete_me", locked=True)
    result = reply.result
    assert (result["locked_by"], result["lock_state_changed"], result["msg"]) == (
        "test-api",
        True,
        "User `test-api` set lock state for repo `api_delete_me` to `True`",
    )


@pytest_twisted.ensureDeferred
async def test_lock_regular_user_may_name_itself_by_integer_id(server, kind):
    key = await regular(server)
    await create(server, "mine", kind, owner="test-api")
    reply = await server.call(
        "lock", key=key, repoid="mine", userid=FIRST_USER_ID, locked=True
    )
    assert reply.result["locked_by"] == "test-api"


@pytest.mark.parametrize("userid", ["admin", "test-api", str(FIRST_USER_ID)])
@pytest_twisted.ensureDeferred
async def test_lock_regular_user_naming_a_user_otherwise_is_refused(
    server, kind, userid
):
    key = await regular(server)
    await create(server, "mine", kind, owner="test-api")
    reply = await server.call(
        "lock", key=key, repoid="mine", userid=userid, locked=True
    )
    assert reply.error == "userid is not the same as your user"


@pytest_twisted.ensureDeferred
async def test_lock_regular_user_with_read_only_sees_nothing(server, kind):
    key = await regular(server)
    await create(server, "api-repo", kind)
    reply = await server.call("lock", key=key, repoid="api-repo", locked=True)
    assert reply.error == "repository `api-repo` does not exist"
    query = await server.call("lock", repoid="api-repo")
    assert query.result == not_locked("api-repo")


# --- get_locks (T065-T070) --------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_locks_without_locks_is_empty(server, kind):
    key = await regular(server)
    await create(server, "api-repo", kind)
    assert (await server.call("get_locks")).result == []
    assert (await server.call("get_locks", key=key)).result == []


async def _locked_by_test_api(server: Any, kind: str) -> tuple[str, float]:
    """Repository api_delete_me (id 2) made and locked by test-api, next to
    an unlocked repository (id 1); returns test-api's key and the lock time."""
    key = await regular(server)
    await create(server, "unlocked", kind)
    await server.call("create_repo", key=key, repo_name="api_delete_me", repo_type=kind)
    reply = await server.call("lock", key=key, repoid="api_delete_me", locked=True)
    return key, reply.result["locked_since"]


def locked_object(kind: str, since: float) -> dict[str, Any]:
    return {
        **repo_shape(2, "api_delete_me", kind, owner="test-api"),
        "locked_by": user(FIRST_USER_ID, "test-api"),
        "locked_date": with_millis(stored_lock_time(since)),
    }


@pytest_twisted.ensureDeferred
async def test_get_locks_admin_sees_every_lock(server, kind):
    _, since = await _locked_by_test_api(server, kind)
    reply = await server.call("get_locks")
    assert [without_created_on(r) for r in reply.result] == [locked_object(kind, since)]


@pytest_twisted.ensureDeferred
async def test_get_locks_of_one_user(server, kind):
    _, since = await _locked_by_test_api(server, kind)
    reply = await server.call("get_locks", userid="test-api")
    assert [without_created_on(r) for r in reply.result] == [locked_object(kind, since)]
    assert (await server.call("get_locks", userid="admin")).result == []


@pytest_twisted.ensureDeferred
async def test_get_locks_regular_user_sees_every_lock(server, kind):
    key, _ = await _locked_by_test_api(server, kind)
    await server.call("lock", repoid="unlocked", locked=True)
    reply = await server.call("get_locks", key=key)
    assert [r["repo_name"] for r in reply.result] == ["unlocked", "api_delete_me"]
    assert reply.result[0]["locked_by"] == ADMIN_USER


@pytest_twisted.ensureDeferred
async def test_get_locks_regular_user_may_name_itself_by_integer_id(server, kind):
    key, since = await _locked_by_test_api(server, kind)
    await server.call("lock", repoid="unlocked", locked=True)
    reply = await server.call("get_locks", key=key, userid=FIRST_USER_ID)
    assert [without_created_on(r) for r in reply.result] == [locked_object(kind, since)]


@pytest_twisted.ensureDeferred
async def test_get_locks_regular_user_naming_another_user_is_refused(server):
    key = await regular(server)
    reply = await server.call("get_locks", key=key, userid="admin")
    assert reply.error == "userid is not the same as your user"


@pytest_twisted.ensureDeferred
async def test_get_locks_unknown_user_does_not_exist(server):
    reply = await server.call("get_locks", userid="nobody")
    assert reply.error == "user `nobody` does not exist"


@pytest_twisted.ensureDeferred
async def test_pull_refuses_a_local_path_stored_as_clone_uri(
    server, engine, remote, kind
):
    serve_history(remote, kind, "upstream")
    await create(server, "target", kind)
    with engine.begin() as c:
        c.execute(
            t.repositories.update()
            .where(t.repositories.c.repo_name == "target")
            .values(clone_uri=str(remote.path(kind, "upstream")))
        )
    reply = await server.call("pull", repoid="target")
    assert reply.error == "Unable to pull changes from `target`"
    reply = await server.call("get_changesets", repoid="target")
    assert reply.error == "Repository is empty"


@pytest.mark.parametrize(("flag", "removed"), [("", False), (0, False), (1, True)])
@pytest_twisted.ensureDeferred
async def test_rescan_repos_remove_obsolete_is_read_as_python_truth(
    server, engine, kind, flag, removed
):
    await create(server, "gone", kind)
    shutil.rmtree(repos_root(server) / "gone")
    reply = await server.call("rescan_repos", remove_obsolete=flag)
    assert reply.result == {"added": [], "removed": ["gone"]}
    assert repo_rows(engine) == ([] if removed else [(1, "gone")])


# --- a repository whose folder went away -------------------------------------------


@pytest_twisted.ensureDeferred
async def test_invalidate_cache_of_a_repository_without_folder_fails(server, kind):
    await create(server, "gone", kind)
    shutil.rmtree(repos_root(server) / "gone")
    reply = await server.call("invalidate_cache", repoid="gone")
    assert reply.error == "Error occurred during cache invalidation action"


@pytest_twisted.ensureDeferred
async def test_pull_into_a_repository_without_folder_fails(server, remote, kind):
    serve_history(remote, kind, "upstream")
    await create(server, "gone", kind, clone_uri=remote.url(kind, "upstream"))
    shutil.rmtree(repos_root(server) / "gone")
    reply = await server.call("pull", repoid="gone")
    assert reply.error == "Unable to pull changes from `gone`"
    assert not (repos_root(server) / "gone").exists()


@pytest_twisted.ensureDeferred
async def test_delete_repo_whose_folder_went_away_removes_the_row(server, engine, kind):
    await create(server, "gone", kind)
    shutil.rmtree(repos_root(server) / "gone")
    reply = await server.call("delete_repo", repoid="gone")
    assert reply.result == {"msg": "Deleted repository `gone`", "success": True}
    assert repo_rows(engine) == []


# --- get_repos shows every change at once ------------------------------------------


async def listed(server: Any, name: str) -> dict[str, Any]:
    """The object of repository ``name`` in the admin's get_repos."""
    reply = await server.call("get_repos")
    [found] = [r for r in reply.result if r["repo_name"] == name]
    return found


@pytest_twisted.ensureDeferred
async def test_get_repos_shows_the_tip_after_a_pull(server, remote, kind):
    work = serve_history(remote, kind, "upstream")
    await create(server, "mirror", kind, clone_uri=remote.url(kind, "upstream"))
    assert (await listed(server, "mirror"))["last_changeset"] == changeset(kind, 2)
    add_fourth_commit(work)
    await server.call("pull", repoid="mirror")
    assert (await listed(server, "mirror"))["last_changeset"] == changeset(kind, 3)


@pytest_twisted.ensureDeferred
async def test_get_repos_shows_the_tip_after_invalidate_cache(server, tmp_path, kind):
    work = await rescanned(server, kind, "repo", tmp_path)
    assert (await listed(server, "repo"))["last_changeset"] == changeset(kind, 2)
    add_fourth_commit_on_disk(server, kind, "repo", work)
    await server.call("invalidate_cache", repoid="repo")
    assert (await listed(server, "repo"))["last_changeset"] == changeset(kind, 3)


@pytest_twisted.ensureDeferred
async def test_get_repos_shows_a_lock_and_its_release(server, kind):
    await create(server, "api-repo", kind)
    assert (await listed(server, "api-repo"))["locked_by"] is None
    await server.call("lock", repoid="api-repo", locked=True)
    assert (await listed(server, "api-repo"))["locked_by"] == ADMIN_USER
    await server.call("lock", repoid="api-repo", locked=False)
    assert (await listed(server, "api-repo"))["locked_by"] is None


@pytest_twisted.ensureDeferred
async def test_get_repos_shows_a_change_made_by_another_process(server, engine, kind):
    await create(server, "api-repo", kind)
    assert (await listed(server, "api-repo"))["description"] == "api-repo"
    with engine.begin() as c:
        c.execute(
            t.repositories.update()
            .where(t.repositories.c.repo_name == "api-repo")
            .values(description="changed elsewhere")
        )
    await changed_elsewhere(server, engine)
    assert (await listed(server, "api-repo"))["description"] == "changed elsewhere"


@pytest_twisted.ensureDeferred
async def test_get_repos_shows_a_renamed_owner(server, kind):
    await server.create_user("alice")
    await create(server, "owned", kind, owner="alice")
    await create(server, "other", kind)
    before = (await server.call("get_repos")).result
    assert [r["owner"] for r in before] == ["alice", "admin"]
    reply = await server.call("update_user", userid="alice", username="alicia")
    assert reply.error is None
    after = (await server.call("get_repos")).result
    assert [r["owner"] for r in after] == ["alicia", "admin"]
    assert after[1] == before[1]


@pytest_twisted.ensureDeferred
async def test_get_repos_shows_a_renamed_parent_in_fork_of(server, kind):
    await create(server, "parent", kind)
    reply = await server.call("fork_repo", repoid="parent", fork_name="child")
    assert reply.error is None
    assert (await listed(server, "child"))["fork_of"] == "parent"
    reply = await server.call("update_repo", repoid="parent", name="renamed")
    assert reply.error is None
    assert (await listed(server, "child"))["fork_of"] == "renamed"


@pytest_twisted.ensureDeferred
async def test_get_repos_shows_the_lockers_new_email(server, kind):
    await server.create_user("locker")
    await create(server, "locked", kind)
    reply = await server.call("lock", repoid="locked", locked=True, userid="locker")
    assert reply.error is None
    assert (await listed(server, "locked"))["locked_by"]["email"] == (
        "locker@example.com"
    )
    reply = await server.call("update_user", userid="locker", email="new@example.com")
    assert reply.error is None
    assert (await listed(server, "locked"))["locked_by"]["email"] == "new@example.com"


@pytest_twisted.ensureDeferred
async def test_get_repos_after_a_delete_and_a_create_of_the_same_name(server, kind):
    await create(server, "first", kind)
    await create(server, "again", kind, description="the first one")
    await server.call("get_repos")
    assert (await server.call("delete_repo", repoid="again")).error is None
    await create(server, "again", kind, description="the second one")
    listing = (await server.call("get_repos")).result
    # SQLite may give the new row the old id; PostgreSQL does not.
    assert [(r["repo_name"], r["description"]) for r in listing] == [
        ("first", "first"),
        ("again", "the second one"),
    ]


# --- rescan_repos: what is a repository (6.2) ---------------------------------------


@pytest_twisted.ensureDeferred
async def test_rescan_repos_skips_a_folder_with_a_removal_marker(
    server, engine, tmp_path, kind
):
    put_on_disk(server, kind, "marked", tmp_path)
    marker = "rm__.hg" if kind == "hg" else "rm__.git"
    (repos_root(server) / "marked" / marker).write_text("")
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": [], "removed": []}
    assert repo_rows(engine) == []


@pytest_twisted.ensureDeferred
async def test_rescan_repos_skips_a_folder_that_is_both_kinds(server, engine):
    folder = repos_root(server) / "both"
    HgWorkdir(folder)
    GitWorkdir(folder).close()
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": [], "removed": []}
    assert repo_rows(engine) == []


@pytest_twisted.ensureDeferred
async def test_rescan_repos_does_not_look_inside_a_repository(
    server, engine, tmp_path, kind
):
    put_on_disk(server, kind, "outer", tmp_path)
    other = "git" if kind == "hg" else "hg"
    put_on_disk(server, other, "outer/inner", tmp_path)
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": ["outer"], "removed": []}
    assert repo_rows(engine) == [(1, "outer")]
    assert group_rows(engine) == []


@pytest_twisted.ensureDeferred
async def test_concurrent_rescans_add_a_repository_once(server, engine, tmp_path, kind):
    put_on_disk(server, kind, "ondisk", tmp_path)
    replies = await defer.gatherResults(
        [defer.ensureDeferred(server.call("rescan_repos")) for _ in range(3)]
    )
    added = [name for reply in replies for name in reply.result["added"]]
    assert added == ["ondisk"]
    assert repo_rows(engine) == [(1, "ondisk")]


@pytest_twisted.ensureDeferred
async def test_a_repository_made_again_after_its_folder_vanished_starts_empty(
    server, engine, remote, kind
):
    serve_history(remote, kind, "upstream")
    await create(server, "again", kind, clone_uri=remote.url(kind, "upstream"))
    shutil.rmtree(repos_root(server) / "again")
    await server.call("rescan_repos", remove_obsolete=True)
    await create(server, "again", kind)
    got = await get_repo(server, "again")
    assert got["last_changeset"] == EMPTY_CHANGESET
    reply = await server.call("get_changesets", repoid="again")
    assert reply.error == "Repository is empty"
