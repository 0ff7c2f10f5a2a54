"""Repository methods over real HTTP: create_repo, get_repo, get_repos,
update_repo, fork_repo, delete_repo and the repository grants.

Expected values follow API-SPEC.md (2.5, 2.10, 3.22-3.32, 4.5, 6.5, 6.9 and
the cases of 7.5, 7.6, 7.8) with DESIGN.md section 1: an explicit null is an
omitted argument, names with "/" create missing repository groups (for
admins), clone URIs must be http(s) URLs, and repository objects carry the
0.2 locking fields.

Each case runs for Mercurial and for git. Repositories with history come from
three places: folders written in the repositories root and rescanned,
``create_repo`` cloning from an HTTP server in this process
(tests/vcs_http.py), and an empty repository that then pulls.

The helpers at the top are shared with test_repo_content.py and
test_repo_admin.py.
"""

from __future__ import annotations

import datetime
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import defer

from kallithead.auth.permissions import ID_BY_NAME
from kallithead.db import schema as t
from kallithead.db.access import bump_access_token
from tests.conftest import start_server, stop_server
from tests.gitutil import GitWorkdir
from tests.hgutil import HgWorkdir
from tests.vcs_http import VcsHttpServer

DEFAULT_ID = 1
ADMIN_ID = 2
FIRST_USER_ID = 3
ACCESS_DENIED = "Access was denied to this resource."

# 2024-01-01T12:00:00 UTC; the standard history is one commit an hour.
T0 = 1704110400
HOUR = 3600

KINDS = ("hg", "git")

# The standard history (see write_history), the same files in both kinds:
#
#   0 first commit   README.rst, docs/index.rst, docs/api/api.rst
#   1 second commit  README.rst changed
#   2 third commit   docs/index.rst removed, src/main.py added; on the branch
#                    `stable` (a named branch in hg, a branch ref in git)
#   3 fourth commit  README.rst changed again, on default/master, after 1;
#                    only written by add_fourth_commit
#
# Raw ids as Mercurial 7.2 and dulwich 1.2 computed them for these commits.
RAW_IDS = {
    "hg": [
        "66818dc69ddb985e7e31d0a758ef3bc27021923d",
        "a1285cb96202005340ea9663e6cf4e5d92aea818",
        "389e89c8a9e158decdb82fe7355de8a0c318c987",
        "ebb0b5ab2974e7ce4af7ca218b4fc66df1863453",
    ],
    "git": [
        "d593dfefe2ccf936bad6cb469cc45f72c4f0399e",
        "9ec8c93855e47f446af5ced4cd43d5bcafc42c1f",
        "fe9fb6307a1f8b602c8968d746f3327719fb43e8",
        "0f549de79776327bc1b5026bc911cc1540c59702",
    ],
}
MESSAGES = ["first commit", "second commit", "third commit", "fourth commit"]
AUTHOR = "Test Author <author@example.com>"
MAIN_BRANCH = {"hg": "default", "git": "master"}
FIRST_FILES = {
    "README.rst": "hello\n",
    "docs/index.rst": "index\n",
    "docs/api/api.rst": "api\n",
}

ADMIN_USER = {
    "user_id": ADMIN_ID,
    "username": "admin",
    "firstname": "Kallithea",
    "lastname": "Admin",
    "email": "admin@localhost",
    "emails": ["admin@localhost"],
    "active": True,
    "admin": True,
}

ARCHIVED = r"rm__\d{8}_\d{6}_\d{6}__"
CREATED_ON = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?\Z")


def local(timestamp: int) -> str:
    """A Unix time as the server shows dates: its local time, no fraction."""
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%dT%H:%M:%S")


EMPTY_CHANGESET = {
    "short_id": "000000000000",
    "raw_id": "0" * 40,
    "revision": -1,
    "message": "",
    "date": local(0),
    "author": "",
}


def changeset(kind: str, revision: int) -> dict[str, Any]:
    """The summary of a changeset of the standard history."""
    raw_id = RAW_IDS[kind][revision]
    return {
        "short_id": raw_id[:12],
        "raw_id": raw_id,
        "revision": revision,
        "message": MESSAGES[revision],
        "date": local(T0 + revision * HOUR),
        "author": AUTHOR,
    }


def user(user_id: int, username: str) -> dict[str, Any]:
    """The eight-key user object of a user made by ``server.create_user``."""
    email = f"{username}@example.com"
    return {
        "user_id": user_id,
        "username": username,
        "firstname": "",
        "lastname": "",
        "email": email,
        "emails": [email],
        "active": True,
        "admin": False,
    }


def repo_shape(
    repo_id: int,
    name: str,
    kind: str,
    *,
    owner: str = "admin",
    description: str | None = None,
    private: bool = False,
    clone_uri: str | None = None,
    fork_of: str | None = None,
    landing_rev: list[str] | None = None,
    last_changeset: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A repository object as get_repos shows it, without ``created_on``."""
    return {
        "repo_id": repo_id,
        "repo_name": name,
        "repo_type": kind,
        "clone_uri": clone_uri,
        "private": private,
        "description": name.rpartition("/")[2] if description is None else description,
        "landing_rev": ["rev", "tip"] if landing_rev is None else landing_rev,
        "owner": owner,
        "fork_of": fork_of,
        "enable_statistics": False,
        "enable_downloads": False,
        "enable_locking": False,
        "last_changeset": EMPTY_CHANGESET if last_changeset is None else last_changeset,
        "locked_by": None,
        "locked_date": None,
    }


def without_created_on(shape: dict[str, Any]) -> dict[str, Any]:
    """``shape`` without its creation time (checked for its format)."""
    rest = dict(shape)
    assert CREATED_ON.match(rest.pop("created_on"))
    return rest


# --- making history ---------------------------------------------------------


def write_history(kind: str, path: Path) -> HgWorkdir | GitWorkdir:
    """A working repository at ``path`` holding changesets 0-2 of the
    standard history, with the main branch checked out."""
    if kind == "hg":
        hg = HgWorkdir(path)
        hg.commit(FIRST_FILES, MESSAGES[0], T0)
        hg.commit({"README.rst": "hello again\n"}, MESSAGES[1], T0 + HOUR)
        hg.commit(
            {"docs/index.rst": None, "src/main.py": "print()\n"},
            MESSAGES[2],
            T0 + 2 * HOUR,
            branch="stable",
        )
        hg.update("default")
        return hg
    git = GitWorkdir(path)
    git.commit(FIRST_FILES, MESSAGES[0], T0)
    git.commit({"README.rst": "hello again\n"}, MESSAGES[1], T0 + HOUR)
    git.branch("stable")
    git.commit(
        {"docs/index.rst": None, "src/main.py": "print()\n"},
        MESSAGES[2],
        T0 + 2 * HOUR,
    )
    git.switch("master")
    return git


def add_fourth_commit(work: HgWorkdir | GitWorkdir) -> str:
    return work.commit({"README.rst": "hello, fourth\n"}, MESSAGES[3], T0 + 3 * HOUR)


def repos_root(server: Any) -> Path:
    return server.service.settings.vcs.repos_root


def put_on_disk(server: Any, kind: str, name: str, tmp_path: Path) -> Any:
    """Write the standard history as the repository ``name`` in the
    repositories root: hg with a working directory, git bare. Returns the
    working repository to commit more from (for git, publish again with
    ``work.publish``)."""
    target = repos_root(server).joinpath(*name.split("/"))
    if kind == "hg":
        return write_history("hg", target)
    work = write_history("git", tmp_path / "work" / name)
    work.publish(target)
    return work


def add_fourth_commit_on_disk(server: Any, kind: str, name: str, work: Any) -> None:
    """Commit changeset 3 straight into the repository ``name`` in the
    repositories root (made by put_on_disk), behind kallithead's back."""
    add_fourth_commit(work)
    if kind == "git":
        work.publish(repos_root(server).joinpath(*name.split("/")))


async def rescanned(server: Any, kind: str, name: str, tmp_path: Path) -> Any:
    """The standard history as repository ``name``, registered by a rescan."""
    work = put_on_disk(server, kind, name, tmp_path)
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": [name], "removed": []}
    return work


# --- the HTTP server of source repositories -----------------------------------


@pytest_twisted.async_yield_fixture
async def remote(tmp_path: Path) -> AsyncIterator[VcsHttpServer]:
    served = VcsHttpServer(tmp_path / "remote")
    await served.start()
    yield served
    await served.stop()


def serve_history(remote: VcsHttpServer, kind: str, name: str) -> Any:
    """The standard history, served over HTTP as ``name``; returns the
    working repository (commit to it to make new changesets appear)."""
    return write_history(kind, remote.path(kind, name))


@pytest.fixture(params=KINDS)
def kind(request: Any) -> str:
    return request.param


# --- users, permissions and rows --------------------------------------------


async def regular(server: Any, name: str = "test-api") -> str:
    """Create a regular user; returns its API key."""
    return (await server.create_user(name))["api_key"]


async def changed_elsewhere(server: Any, engine: sa.Engine) -> None:
    """Announce rows written with the engine, as another process would."""
    with engine.begin() as c:
        bump_access_token(c)
    await server.service.users.poll_access_token()


async def take_global_from_default(server: Any, engine: sa.Engine, perm: str) -> None:
    table = t.user_to_perm
    with engine.begin() as c:
        gone = c.execute(
            table.delete().where(
                table.c.user_id == DEFAULT_ID,
                table.c.permission_id == ID_BY_NAME[perm],
            )
        ).rowcount
    assert gone == 1
    await changed_elsewhere(server, engine)


async def grant_on_repo_group(
    server: Any, engine: sa.Engine, user_id: int, group: str, perm: str
) -> None:
    with engine.begin() as c:
        group_id = c.execute(
            sa.select(t.repo_groups.c.group_id).where(
                t.repo_groups.c.group_name == group
            )
        ).scalar_one()
        c.execute(
            t.user_repo_group_to_perm.insert().values(
                user_id=user_id, group_id=group_id, permission_id=ID_BY_NAME[perm]
            )
        )
    await changed_elsewhere(server, engine)


def repo_rows(engine: sa.Engine) -> list[tuple[int, str]]:
    with engine.connect() as c:
        return [
            (row[0], row[1])
            for row in c.execute(
                sa.select(
                    t.repositories.c.repo_id, t.repositories.c.repo_name
                ).order_by(t.repositories.c.repo_id)
            )
        ]


def group_rows(engine: sa.Engine) -> list[tuple[str, str | None, str, int]]:
    """(name, parent name, description, owner id) of every repository group."""
    groups = t.repo_groups
    parents = groups.alias("parents")
    with engine.connect() as c:
        rows = c.execute(
            sa.select(
                groups.c.group_name,
                parents.c.group_name,
                groups.c.group_description,
                groups.c.user_id,
            )
            .select_from(groups)
            .outerjoin(parents, parents.c.group_id == groups.c.group_parent_id)
            .order_by(groups.c.group_id)
        )
        return [(row[0], row[1], row[2], row[3]) for row in rows]


def user_rows_on_repo(engine: sa.Engine, repo_id: int) -> set[tuple[str, str]]:
    """(username, permission) of every user row on a repository."""
    table = t.repo_to_perm
    with engine.connect() as c:
        rows = c.execute(
            sa.select(t.users.c.username, t.permissions.c.permission_name)
            .select_from(table)
            .join(t.users, t.users.c.user_id == table.c.user_id)
            .join(t.permissions, t.permissions.c.permission_id == table.c.permission_id)
            .where(table.c.repository_id == repo_id)
        )
        return {(row[0], row[1]) for row in rows}


def group_rows_on_repo(engine: sa.Engine, repo_id: int) -> set[tuple[str, str]]:
    """(user group name, permission) of every user group row on a repository."""
    table = t.users_group_repo_to_perm
    with engine.connect() as c:
        rows = c.execute(
            sa.select(
                t.users_groups.c.users_group_name, t.permissions.c.permission_name
            )
            .select_from(table)
            .join(
                t.users_groups,
                t.users_groups.c.users_group_id == table.c.users_group_id,
            )
            .join(t.permissions, t.permissions.c.permission_id == table.c.permission_id)
            .where(table.c.repository_id == repo_id)
        )
        return {(row[0], row[1]) for row in rows}


def rows_about_repo(engine: sa.Engine, repo_id: int) -> dict[str, int]:
    """How many rows of each kind still point at a repository."""
    counts = {}
    for table, column in (
        (t.repositories, "repo_id"),
        (t.repo_to_perm, "repository_id"),
        (t.users_group_repo_to_perm, "repository_id"),
        (t.user_followings, "follows_repository_id"),
    ):
        with engine.connect() as c:
            counts[table.name] = c.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(table.c[column] == repo_id)
            ).scalar_one()
    return counts


NO_ROWS = {
    "repositories": 0,
    "repo_to_perm": 0,
    "users_group_repo_to_perm": 0,
    "user_followings": 0,
}


def journal(engine: sa.Engine) -> list[tuple[str, str, str]]:
    """(username, repository name, action) of every journal entry, in order."""
    logs = t.user_logs
    with engine.connect() as c:
        rows = c.execute(
            sa.select(logs.c.username, logs.c.repository_name, logs.c.action).order_by(
                logs.c.user_log_id
            )
        )
        return [(row[0], row[1], row[2]) for row in rows]


def listing(folder: Path) -> list[str]:
    """The names in a folder, sorted."""
    return sorted(entry.name for entry in folder.iterdir())


async def create(server: Any, name: str, kind: str, **extra: Any) -> None:
    reply = await server.call("create_repo", repo_name=name, repo_type=kind, **extra)
    assert reply.result == {"msg": f"Created new repository `{name}`", "success": True}


async def get_repo(server: Any, name: Any, key: str | None = None) -> dict[str, Any]:
    return (await server.call("get_repo", key=key, repoid=name)).result


# --- create_repo: an empty repository (T090, T094) --------------------------


@pytest_twisted.ensureDeferred
async def test_create_repo_answers_with_the_created_message(server, kind):
    reply = await server.call("create_repo", repo_name="api-repo", repo_type=kind)
    assert reply.result == {
        "msg": "Created new repository `api-repo`",
        "success": True,
    }


@pytest_twisted.ensureDeferred
async def test_create_repo_then_get_repo_shows_the_empty_repository(server, kind):
    await create(server, "api-repo", kind)
    assert without_created_on(await get_repo(server, "api-repo")) == {
        "repo_id": 1,
        "repo_name": "api-repo",
        "repo_type": kind,
        "clone_uri": None,
        "private": False,
        "description": "api-repo",
        "landing_rev": ["rev", "tip"],
        "owner": "admin",
        "fork_of": None,
        "enable_statistics": False,
        "enable_downloads": False,
        "enable_locking": False,
        "last_changeset": {
            "short_id": "000000000000",
            "raw_id": "0000000000000000000000000000000000000000",
            "revision": -1,
            "message": "",
            "date": datetime.datetime.fromtimestamp(0).strftime("%Y-%m-%dT%H:%M:%S"),
            "author": "",
        },
        "locked_by": None,
        "locked_date": None,
        "members": [
            {"name": "default", "type": "user", "permission": "repository.read"}
        ],
        "followers": [ADMIN_USER],
    }


@pytest_twisted.ensureDeferred
async def test_create_repo_makes_a_mercurial_folder_with_dot_hg(server):
    await create(server, "api-repo", "hg")
    folder = repos_root(server) / "api-repo"
    assert listing(repos_root(server)) == ["api-repo"]
    assert (folder / ".hg").is_dir()


@pytest_twisted.ensureDeferred
async def test_create_repo_makes_a_bare_git_folder(server):
    await create(server, "api-repo", "git")
    folder = repos_root(server) / "api-repo"
    assert listing(repos_root(server)) == ["api-repo"]
    assert not (folder / ".git").exists()
    assert (folder / "HEAD").is_file()
    assert (folder / "objects").is_dir()
    assert (folder / "refs").is_dir()


@pytest_twisted.ensureDeferred
async def test_create_repo_without_type_makes_a_mercurial_repository(server):
    reply = await server.call("create_repo", repo_name="api-repo")
    assert reply.result["success"] is True
    assert (await get_repo(server, "api-repo"))["repo_type"] == "hg"


@pytest_twisted.ensureDeferred
async def test_create_repo_with_nulls_takes_the_defaults(server, kind):
    reply = await server.call(
        "create_repo",
        repo_name="api-repo",
        repo_type=kind,
        owner=None,
        description=None,
        private=None,
        clone_uri=None,
        landing_rev=None,
        enable_statistics=None,
        enable_locking=None,
        enable_downloads=None,
        copy_permissions=None,
    )
    assert reply.result == {"msg": "Created new repository `api-repo`", "success": True}
    repo = await server.call("get_repos")
    assert [without_created_on(r) for r in repo.result] == [
        repo_shape(1, "api-repo", kind)
    ]


@pytest_twisted.ensureDeferred
async def test_create_repo_keeps_description_and_private(server, kind):
    await create(server, "api-repo", kind, description="the API's repo", private=True)
    got = await get_repo(server, "api-repo")
    assert got["description"] == "the API's repo"
    assert got["private"] is True
    assert got["members"] == [
        {"name": "default", "type": "user", "permission": "repository.none"}
    ]


@pytest_twisted.ensureDeferred
async def test_create_repo_ignores_the_enable_flags(server, kind):
    await create(
        server,
        "api-repo",
        kind,
        enable_statistics=True,
        enable_downloads=True,
        enable_locking=True,
    )
    got = await get_repo(server, "api-repo")
    assert (
        got["enable_statistics"],
        got["enable_downloads"],
        got["enable_locking"],
    ) == (False, False, False)


@pytest_twisted.ensureDeferred
async def test_create_repo_stores_a_landing_rev_with_a_type(server, kind):
    await create(server, "api-repo", kind, landing_rev="branch:stable")
    got = await get_repo(server, "api-repo")
    assert got["landing_rev"] == ["branch", "stable"]


@pytest_twisted.ensureDeferred
async def test_create_repo_writes_a_journal_entry(server, engine, kind):
    await create(server, "api-repo", kind)
    assert journal(engine) == [("admin", "api-repo", "user_created_repo")]


@pytest_twisted.ensureDeferred
async def test_create_repo_with_an_owner_makes_that_user_owner_and_follower(
    server, kind
):
    await server.create_user("test-api")
    await create(server, "api-repo", kind, owner="test-api")
    got = await get_repo(server, "api-repo")
    assert got["owner"] == "test-api"
    assert got["followers"] == [user(FIRST_USER_ID, "test-api")]
    assert got["members"] == [
        {"name": "default", "type": "user", "permission": "repository.read"}
    ]


@pytest_twisted.ensureDeferred
async def test_create_repo_unknown_owner_does_not_exist(server, engine, kind):
    reply = await server.call(
        "create_repo", repo_name="api-repo", repo_type=kind, owner="i-dont-exist"
    )
    assert reply.error == "user `i-dont-exist` does not exist"
    assert repo_rows(engine) == []


# --- create_repo inside repository groups ------------------------------------


@pytest_twisted.ensureDeferred
async def test_create_repo_in_missing_groups_creates_them(server, engine, kind):
    reply = await server.call("create_repo", repo_name="a/b/api-repo", repo_type=kind)
    assert reply.result == {
        "msg": "Created new repository `a/b/api-repo`",
        "success": True,
    }
    assert group_rows(engine) == [
        ("a", None, "a group", ADMIN_ID),
        ("a/b", "a", "a/b group", ADMIN_ID),
    ]
    assert (repos_root(server) / "a" / "b" / "api-repo").is_dir()
    got = await get_repo(server, "a/b/api-repo")
    assert got["repo_name"] == "a/b/api-repo"
    assert got["description"] == "api-repo"


@pytest_twisted.ensureDeferred
async def test_create_repo_in_an_existing_group_adds_no_group(server, engine, kind):
    await create(server, "grp/one", kind)
    await create(server, "grp/two", kind)
    assert group_rows(engine) == [("grp", None, "grp group", ADMIN_ID)]
    assert listing(repos_root(server) / "grp") == ["one", "two"]


@pytest_twisted.ensureDeferred
async def test_create_repo_inside_a_repository_fails(server, engine, kind):
    await create(server, "outer", kind)
    reply = await server.call("create_repo", repo_name="outer/inner", repo_type=kind)
    assert reply.error == "failed to create repository `outer/inner`"
    assert repo_rows(engine) == [(1, "outer")]
    assert group_rows(engine) == []


@pytest_twisted.ensureDeferred
async def test_create_repo_copy_permissions_copies_the_group_rows(server, engine, kind):
    await server.create_user("test-api")
    await create(server, "grp/first", kind)
    await grant_on_repo_group(server, engine, FIRST_USER_ID, "grp", "group.write")
    await create(server, "grp/copied", kind, copy_permissions=True)
    assert user_rows_on_repo(engine, 2) == {
        ("default", "repository.read"),
        ("test-api", "repository.write"),
    }


@pytest_twisted.ensureDeferred
async def test_create_repo_without_copy_permissions_gets_the_default_row(
    server, engine, kind
):
    await server.create_user("test-api")
    await create(server, "grp/first", kind)
    await grant_on_repo_group(server, engine, FIRST_USER_ID, "grp", "group.write")
    await create(server, "grp/plain", kind)
    assert user_rows_on_repo(engine, 2) == {("default", "repository.read")}


# --- create_repo cloning from a remote ---------------------------------------


@pytest_twisted.ensureDeferred
async def test_create_repo_with_http_clone_uri_brings_the_history(server, remote, kind):
    serve_history(remote, kind, "upstream")
    uri = remote.url(kind, "upstream")
    reply = await server.call(
        "create_repo", repo_name="mirror", repo_type=kind, clone_uri=uri
    )
    assert reply.result == {"msg": "Created new repository `mirror`", "success": True}
    got = await get_repo(server, "mirror")
    assert got["clone_uri"] == uri
    assert got["last_changeset"] == changeset(kind, 2)


@pytest_twisted.ensureDeferred
async def test_create_repo_with_http_clone_uri_shows_the_tip_literally(server, remote):
    serve_history(remote, "hg", "upstream")
    await create(server, "mirror", "hg", clone_uri=remote.url("hg", "upstream"))
    got = await get_repo(server, "mirror")
    assert got["last_changeset"] == {
        "short_id": "389e89c8a9e1",
        "raw_id": "389e89c8a9e158decdb82fe7355de8a0c318c987",
        "revision": 2,
        "message": "third commit",
        "date": local(1704117600),
        "author": "Test Author <author@example.com>",
    }


@pytest_twisted.ensureDeferred
async def test_create_repo_cloned_git_repository_is_bare(server, remote):
    serve_history(remote, "git", "upstream")
    await create(server, "mirror", "git", clone_uri=remote.url("git", "upstream"))
    folder = repos_root(server) / "mirror"
    assert not (folder / ".git").exists()
    assert (folder / "HEAD").read_text() == "ref: refs/heads/master\n"


@pytest.mark.parametrize(
    "uri",
    [
        "{path}",
        "file://{path}",
        "ssh://127.0.0.1/{path}",
        "ftp://127.0.0.1/repo",
        "not a url",
    ],
)
@pytest_twisted.ensureDeferred
async def test_create_repo_refuses_clone_uris_other_than_http(
    server, engine, remote, kind, uri
):
    serve_history(remote, kind, "upstream")
    path = str(remote.path(kind, "upstream"))
    reply = await server.call(
        "create_repo",
        repo_name="mirror",
        repo_type=kind,
        clone_uri=uri.format(path=path),
    )
    assert reply.error == "failed to create repository `mirror`"
    assert repo_rows(engine) == []
    assert not (repos_root(server) / "mirror").exists()


@pytest_twisted.ensureDeferred
async def test_a_failed_create_repo_removes_the_groups_it_made(
    server, engine, remote, kind
):
    await create(server, "kept/other", kind)
    before = group_rows(engine)
    reply = await server.call(
        "create_repo",
        repo_name="kept/new/deeper/mirror",
        repo_type=kind,
        clone_uri=remote.url(kind, "no-such-repo"),
    )
    assert reply.error == "failed to create repository `kept/new/deeper/mirror`"
    # kept existed before and holds a repository: it stays, and so does its
    # folder; new and new/deeper were made for the failed one: gone.
    assert group_rows(engine) == before
    assert [name for _, name in repo_rows(engine)] == ["kept/other"]
    assert listing(repos_root(server) / "kept") == ["other"]
    with engine.connect() as c:
        rows = c.execute(sa.select(t.user_repo_group_to_perm.c.group_id)).all()
    assert len(rows) == 1


@pytest_twisted.ensureDeferred
async def test_a_failed_fork_into_new_groups_removes_them(server, engine, kind):
    await create(server, "parent", kind)
    # A fork fails once the parent's folder is gone.
    shutil.rmtree(repos_root(server) / "parent")
    reply = await server.call("fork_repo", repoid="parent", fork_name="g/h/fork")
    assert reply.error == "failed to fork repository `parent` as `g/h/fork`"
    assert group_rows(engine) == []
    assert listing(repos_root(server)) == []


@pytest_twisted.ensureDeferred
async def test_create_repo_from_a_missing_remote_fails_and_leaves_nothing(
    server, engine, remote, kind
):
    reply = await server.call(
        "create_repo",
        repo_name="mirror",
        repo_type=kind,
        clone_uri=remote.url(kind, "no-such-repo"),
    )
    assert reply.error == "failed to create repository `mirror`"
    assert repo_rows(engine) == []
    root = repos_root(server)
    assert not root.exists() or listing(root) == []


# --- create_repo: names and arguments that fail -------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "..",
        ".",
        "/x",
        "a/../b",
        "a//b",
        "x/",
        "with space",
        "<test>",
        ":",
        "a--b",
        "_admin",
        "rm__x",
        ".hidden",
        "tab\there",
        "/",
        "",
    ],
)
@pytest_twisted.ensureDeferred
async def test_create_repo_bad_name_fails_and_creates_nothing(
    server, engine, kind, name
):
    reply = await server.call("create_repo", repo_name=name, repo_type=kind)
    assert reply.error == f"failed to create repository `{name}`"
    assert repo_rows(engine) == []
    assert group_rows(engine) == []
    root = repos_root(server)
    assert not root.exists() or listing(root) == []


@pytest_twisted.ensureDeferred
async def test_create_repo_unicode_name_works(server, kind):
    reply = await server.call("create_repo", repo_name="büro", repo_type=kind)
    assert reply.result == {"msg": "Created new repository `büro`", "success": True}
    got = await get_repo(server, "büro")
    assert (got["repo_name"], got["description"]) == ("büro", "büro")
    assert listing(repos_root(server)) == ["büro"]


@pytest_twisted.ensureDeferred
async def test_create_repo_unknown_type_fails(server, engine):
    reply = await server.call("create_repo", repo_name="api-repo", repo_type="svn")
    assert reply.error == "failed to create repository `api-repo`"
    assert repo_rows(engine) == []


@pytest_twisted.ensureDeferred
async def test_create_repo_landing_rev_without_colon_fails(server, engine, kind):
    reply = await server.call(
        "create_repo", repo_name="api-repo", repo_type=kind, landing_rev="tip"
    )
    assert reply.error == "failed to create repository `api-repo`"
    assert repo_rows(engine) == []


@pytest_twisted.ensureDeferred
async def test_create_repo_existing_name_already_exist(server, engine, kind):
    await create(server, "api-repo", kind)
    reply = await server.call("create_repo", repo_name="api-repo", repo_type=kind)
    assert reply.error == "repo `api-repo` already exist"
    assert repo_rows(engine) == [(1, "api-repo")]


@pytest_twisted.ensureDeferred
async def test_create_repo_name_of_other_type_already_exist(server, kind):
    await create(server, "api-repo", kind)
    other = "git" if kind == "hg" else "hg"
    reply = await server.call("create_repo", repo_name="api-repo", repo_type=other)
    assert reply.error == "repo `api-repo` already exist"


@pytest_twisted.ensureDeferred
async def test_concurrent_create_repo_of_one_name_has_one_winner(server, engine, kind):
    calls = [
        defer.ensureDeferred(
            server.call("create_repo", repo_name="race", repo_type=kind)
        )
        for _ in range(6)
    ]
    replies = await defer.gatherResults(calls)
    outcomes = sorted(
        "created" if reply.error is None else reply.error for reply in replies
    )
    assert outcomes == ["created"] + ["repo `race` already exist"] * 5
    assert [name for _, name in repo_rows(engine)] == ["race"]
    assert listing(repos_root(server)) == ["race"]


# --- create_repo by a regular user -------------------------------------------


@pytest_twisted.ensureDeferred
async def test_create_repo_regular_user_may_create_by_default(server, kind):
    key = await regular(server)
    reply = await server.call(
        "create_repo", key=key, repo_name="api-repo", repo_type=kind
    )
    assert reply.result == {"msg": "Created new repository `api-repo`", "success": True}
    got = await get_repo(server, "api-repo", key=key)
    assert got["owner"] == "test-api"
    assert got["followers"] == [user(FIRST_USER_ID, "test-api")]


@pytest_twisted.ensureDeferred
async def test_create_repo_regular_user_without_create_permission_is_denied(
    server, engine, kind
):
    key = await regular(server)
    await take_global_from_default(server, engine, "hg.create.repository")
    reply = await server.call(
        "create_repo", key=key, repo_name="api-repo", repo_type=kind
    )
    assert reply.error == ACCESS_DENIED
    assert repo_rows(engine) == []


@pytest_twisted.ensureDeferred
async def test_create_repo_regular_user_may_not_name_an_owner(server, engine, kind):
    key = await regular(server)
    reply = await server.call(
        "create_repo", key=key, repo_name="api-repo", repo_type=kind, owner="test-api"
    )
    assert reply.error == "Only Kallithea admin can specify `owner` param"
    assert repo_rows(engine) == []


@pytest_twisted.ensureDeferred
async def test_create_repo_regular_user_in_group_without_write_is_refused(
    server, engine, kind
):
    key = await regular(server)
    await create(server, "grp/admins", kind)
    reply = await server.call(
        "create_repo", key=key, repo_name="grp/mine", repo_type=kind
    )
    assert reply.error == "no permission to create repo in grp"
    assert repo_rows(engine) == [(1, "grp/admins")]
    assert listing(repos_root(server) / "grp") == ["admins"]


@pytest_twisted.ensureDeferred
async def test_create_repo_regular_user_in_missing_group_is_refused(
    server, engine, kind
):
    key = await regular(server)
    reply = await server.call(
        "create_repo", key=key, repo_name="newgrp/mine", repo_type=kind
    )
    assert reply.error == "no permission to create repo in newgrp"
    assert repo_rows(engine) == []
    assert group_rows(engine) == []


@pytest_twisted.ensureDeferred
async def test_create_repo_regular_user_with_group_write_may_create_in_it(
    server, engine, kind
):
    key = await regular(server)
    await create(server, "grp/admins", kind)
    await grant_on_repo_group(server, engine, FIRST_USER_ID, "grp", "group.write")
    reply = await server.call(
        "create_repo", key=key, repo_name="grp/mine", repo_type=kind
    )
    assert reply.result == {"msg": "Created new repository `grp/mine`", "success": True}
    assert (await get_repo(server, "grp/mine", key=key))["owner"] == "test-api"


# --- get_repo (T071-T078) ------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_repo_unknown_name_does_not_exist(server):
    reply = await server.call("get_repo", repoid="no-such-repo")
    assert reply.error == "repository `no-such-repo` does not exist"
    assert reply.document["result"] is None


@pytest_twisted.ensureDeferred
async def test_get_repo_by_integer_and_numeric_string_id(server, kind):
    await create(server, "first", kind)
    await create(server, "second", kind)
    by_int = await get_repo(server, 2)
    by_text = await get_repo(server, "2")
    assert by_int["repo_name"] == by_text["repo_name"] == "second"


@pytest_twisted.ensureDeferred
async def test_get_repo_unknown_id_does_not_exist(server, kind):
    await create(server, "first", kind)
    reply = await server.call("get_repo", repoid=42)
    assert reply.error == "repository `42` does not exist"


@pytest_twisted.ensureDeferred
async def test_get_repo_rescanned_repository_shows_its_history(server, tmp_path, kind):
    await rescanned(server, kind, "ondisk", tmp_path)
    assert without_created_on(await get_repo(server, "ondisk")) == {
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
async def test_get_repo_lists_user_rows_then_user_group_rows(server, kind):
    await server.create_user("test-api")
    await server.call("create_user_group", group_name="devs")
    await create(server, "api-repo", kind)
    await server.call(
        "grant_user_group_permission",
        repoid="api-repo",
        usergroupid="devs",
        perm="repository.write",
    )
    await server.call(
        "grant_user_permission",
        repoid="api-repo",
        userid="test-api",
        perm="repository.admin",
    )
    assert (await get_repo(server, "api-repo"))["members"] == [
        {"name": "default", "type": "user", "permission": "repository.read"},
        {"name": "test-api", "type": "user", "permission": "repository.admin"},
        {"name": "devs", "type": "user_group", "permission": "repository.write"},
    ]


@pytest_twisted.ensureDeferred
async def test_get_repo_regular_user_sees_a_public_repository(server, kind):
    key = await regular(server)
    await create(server, "api-repo", kind)
    got = await get_repo(server, "api-repo", key=key)
    assert got["repo_name"] == "api-repo"
    assert got["followers"] == [ADMIN_USER]


@pytest_twisted.ensureDeferred
async def test_get_repo_private_repository_is_hidden_from_a_regular_user(server, kind):
    key = await regular(server)
    await create(server, "secret", kind, private=True)
    reply = await server.call("get_repo", key=key, repoid="secret")
    assert reply.error == "repository `secret` does not exist"


@pytest_twisted.ensureDeferred
async def test_get_repo_private_repository_visible_with_an_explicit_grant(server, kind):
    key = await regular(server)
    await create(server, "secret", kind, private=True)
    await server.call(
        "grant_user_permission",
        repoid="secret",
        userid="test-api",
        perm="repository.read",
    )
    got = await get_repo(server, "secret", key=key)
    assert got["members"] == [
        {"name": "default", "type": "user", "permission": "repository.none"},
        {"name": "test-api", "type": "user", "permission": "repository.read"},
    ]


@pytest_twisted.ensureDeferred
async def test_get_repo_private_repository_visible_to_its_owner(server, kind):
    key = await regular(server)
    await create(server, "secret", kind, private=True, owner="test-api")
    got = await get_repo(server, "secret", key=key)
    assert (got["repo_name"], got["owner"]) == ("secret", "test-api")


@pytest_twisted.ensureDeferred
async def test_get_repo_default_none_hides_it_from_a_regular_user(server, kind):
    key = await regular(server)
    await create(server, "api-repo", kind)
    await server.call(
        "grant_user_permission",
        repoid="api-repo",
        userid="default",
        perm="repository.none",
    )
    reply = await server.call("get_repo", key=key, repoid="api-repo")
    assert reply.error == "repository `api-repo` does not exist"


# --- get_repos (T079, T080) ---------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_repos_on_a_fresh_install_is_empty(server):
    assert (await server.call("get_repos")).result == []


@pytest_twisted.ensureDeferred
async def test_get_repos_admin_sees_every_repository_in_id_order(server, kind):
    await server.create_user("test-api")
    await create(server, "zeta", kind)
    await create(server, "alpha", kind, private=True, owner="test-api")
    await create(server, "grp/mid", kind, description="in a group")
    reply = await server.call("get_repos")
    assert [without_created_on(r) for r in reply.result] == [
        repo_shape(1, "zeta", kind),
        repo_shape(2, "alpha", kind, private=True, owner="test-api"),
        repo_shape(3, "grp/mid", kind, description="in a group"),
    ]


@pytest_twisted.ensureDeferred
async def test_a_started_daemon_has_the_repository_list_ready(settings, kind):
    first = await start_server(settings)
    try:
        await create(first, "one", kind)
        await create(first, "two", kind, description="second")
    finally:
        await stop_server(first)
    again = await start_server(settings)
    try:
        # Encoded while starting, before any call asked for it.
        ready = again.service.memory.listings.get("repos")
        assert [name for name, _ in ready] == ["one", "two"]
        listed = (await again.call("get_repos")).result
        assert [(r["repo_name"], r["description"]) for r in listed] == [
            ("one", "one"),
            ("two", "second"),
        ]
    finally:
        await stop_server(again)


@pytest_twisted.ensureDeferred
async def test_get_repos_regular_user_sees_only_what_it_may_read(server, kind):
    key = await regular(server)
    await create(server, "public", kind)
    await create(server, "secret", kind, private=True)
    await create(server, "granted", kind, private=True)
    await create(server, "own", kind, private=True, owner="test-api")
    await create(server, "closed", kind)
    await server.call(
        "grant_user_permission",
        repoid="granted",
        userid="test-api",
        perm="repository.read",
    )
    await server.call(
        "grant_user_permission",
        repoid="closed",
        userid="default",
        perm="repository.none",
    )
    reply = await server.call("get_repos", key=key)
    assert [r["repo_name"] for r in reply.result] == ["public", "granted", "own"]
    assert "members" not in reply.result[0]
    assert "followers" not in reply.result[0]


# --- update_repo (T104-T123) --------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_update_repo_description_answers_the_updated_repository(server, kind):
    await create(server, "api-repo", kind)
    reply = await server.call(
        "update_repo", repoid="api-repo", description="new description"
    )
    result = reply.result
    assert result["msg"] == "updated repo ID:1 api-repo"
    assert without_created_on(result["repository"]) == repo_shape(
        1, "api-repo", kind, description="new description"
    )


@pytest_twisted.ensureDeferred
async def test_update_repo_flags_and_landing_rev(server, kind):
    await create(server, "api-repo", kind)
    reply = await server.call(
        "update_repo",
        repoid="api-repo",
        enable_statistics=True,
        enable_downloads=True,
        enable_locking=True,
        landing_rev="branch:stable",
    )
    repository = reply.result["repository"]
    assert (
        repository["enable_statistics"],
        repository["enable_downloads"],
        repository["enable_locking"],
        repository["landing_rev"],
    ) == (True, True, True, ["branch", "stable"])


@pytest_twisted.ensureDeferred
async def test_landing_rev_shows_two_parts_of_what_is_stored(server, engine, kind):
    await create(server, "api-repo", kind)
    reply = await server.call(
        "update_repo", repoid="api-repo", landing_rev="branch:default:extra"
    )
    assert reply.result["repository"]["landing_rev"] == ["branch", "default"]
    with engine.connect() as c:
        stored = c.execute(sa.select(t.repositories.c.landing_revision)).scalar()
    assert stored == "branch:default:extra"


@pytest_twisted.ensureDeferred
async def test_update_repo_with_nulls_changes_nothing(server, kind):
    await create(server, "api-repo", kind, description="kept")
    reply = await server.call(
        "update_repo",
        repoid="api-repo",
        name=None,
        owner=None,
        group=None,
        description=None,
        private=None,
        clone_uri=None,
        landing_rev=None,
        enable_statistics=None,
        enable_locking=None,
        enable_downloads=None,
    )
    assert reply.result["msg"] == "updated repo ID:1 api-repo"
    assert without_created_on(reply.result["repository"]) == repo_shape(
        1, "api-repo", kind, description="kept"
    )


@pytest_twisted.ensureDeferred
async def test_update_repo_private_sets_the_default_row_to_none(server, engine, kind):
    await create(server, "api-repo", kind)
    reply = await server.call("update_repo", repoid="api-repo", private=True)
    assert reply.result["repository"]["private"] is True
    assert user_rows_on_repo(engine, 1) == {("default", "repository.none")}


@pytest_twisted.ensureDeferred
async def test_update_repo_private_false_does_not_restore_the_default_row(
    server, engine, kind
):
    await create(server, "api-repo", kind, private=True)
    reply = await server.call("update_repo", repoid="api-repo", private=False)
    assert reply.result["repository"]["private"] is False
    assert user_rows_on_repo(engine, 1) == {("default", "repository.none")}


@pytest_twisted.ensureDeferred
async def test_update_repo_private_hides_it_from_a_regular_user(server, kind):
    key = await regular(server)
    await create(server, "api-repo", kind)
    await server.call("update_repo", repoid="api-repo", private=True)
    reply = await server.call("get_repo", key=key, repoid="api-repo")
    assert reply.error == "repository `api-repo` does not exist"


@pytest_twisted.ensureDeferred
async def test_update_repo_rename_moves_the_folder(server, tmp_path, kind):
    await rescanned(server, kind, "api-repo", tmp_path)
    reply = await server.call("update_repo", repoid="api-repo", name="new_repo_name")
    assert reply.result["msg"] == "updated repo ID:1 new_repo_name"
    assert listing(repos_root(server)) == ["new_repo_name"]
    got = await get_repo(server, "new_repo_name")
    assert got["last_changeset"] == changeset(kind, 2)
    reply = await server.call("get_repo", repoid="api-repo")
    assert reply.error == "repository `api-repo` does not exist"


@pytest_twisted.ensureDeferred
async def test_update_repo_rename_keeps_the_group(server, kind):
    await create(server, "grp/api-repo", kind)
    reply = await server.call("update_repo", repoid="grp/api-repo", name="renamed")
    assert reply.result["msg"] == "updated repo ID:1 grp/renamed"
    assert listing(repos_root(server) / "grp") == ["renamed"]


@pytest_twisted.ensureDeferred
async def test_update_repo_group_moves_it_into_the_group(server, kind):
    await create(server, "grp/other", kind)
    await create(server, "api-repo", kind)
    reply = await server.call("update_repo", repoid="api-repo", group="grp")
    assert reply.result["msg"] == "updated repo ID:2 grp/api-repo"
    assert reply.result["repository"]["repo_name"] == "grp/api-repo"
    assert listing(repos_root(server)) == ["grp"]
    assert listing(repos_root(server) / "grp") == ["api-repo", "other"]


@pytest_twisted.ensureDeferred
async def test_update_repo_group_by_id(server, kind):
    await create(server, "grp/other", kind)
    await create(server, "api-repo", kind)
    reply = await server.call("update_repo", repoid=2, group=1)
    assert reply.result["msg"] == "updated repo ID:2 grp/api-repo"


@pytest_twisted.ensureDeferred
async def test_update_repo_unknown_group_does_not_exist(server, kind):
    await create(server, "api-repo", kind)
    reply = await server.call(
        "update_repo", repoid="api-repo", group="test_group_for_update"
    )
    assert reply.error == "repository group `test_group_for_update` does not exist"
    assert listing(repos_root(server)) == ["api-repo"]


@pytest_twisted.ensureDeferred
async def test_update_repo_rename_onto_an_existing_name_fails(server, engine, kind):
    await create(server, "first", kind)
    await create(server, "second", kind)
    reply = await server.call("update_repo", repoid="first", name="second")
    assert reply.error == "failed to update repo `first`"
    assert repo_rows(engine) == [(1, "first"), (2, "second")]
    assert listing(repos_root(server)) == ["first", "second"]


@pytest_twisted.ensureDeferred
async def test_update_repo_failure_echoes_the_repoid_as_sent(server, kind):
    await create(server, "first", kind)
    await create(server, "second", kind)
    reply = await server.call("update_repo", repoid=1, name="second")
    assert reply.error == "failed to update repo `1`"


@pytest_twisted.ensureDeferred
async def test_update_repo_rename_onto_a_folder_on_disk_fails(server, engine, kind):
    await create(server, "first", kind)
    (repos_root(server) / "taken").mkdir()
    reply = await server.call("update_repo", repoid="first", name="taken")
    assert reply.error == "failed to update repo `first`"
    assert repo_rows(engine) == [(1, "first")]
    assert (repos_root(server) / "first").is_dir()


@pytest.mark.parametrize("name", ["..", "a/b", "with space", ""])
@pytest_twisted.ensureDeferred
async def test_update_repo_bad_name_fails(server, engine, kind, name):
    await create(server, "api-repo", kind)
    reply = await server.call("update_repo", repoid="api-repo", name=name)
    assert reply.error == "failed to update repo `api-repo`"
    assert repo_rows(engine) == [(1, "api-repo")]
    assert listing(repos_root(server)) == ["api-repo"]


@pytest_twisted.ensureDeferred
async def test_update_repo_owner_by_username(server, kind):
    await server.create_user("test_regular")
    await create(server, "api-repo", kind)
    reply = await server.call("update_repo", repoid="api-repo", owner="test_regular")
    assert reply.result["repository"]["owner"] == "test_regular"


@pytest.mark.parametrize("owner", ["i-dont-exist", FIRST_USER_ID])
@pytest_twisted.ensureDeferred
async def test_update_repo_owner_unknown_or_by_id_fails(server, kind, owner):
    await server.create_user("test_regular")
    await create(server, "api-repo", kind)
    reply = await server.call("update_repo", repoid="api-repo", owner=owner)
    assert reply.error == "failed to update repo `api-repo`"


@pytest_twisted.ensureDeferred
async def test_update_repo_landing_rev_without_colon_fails(server, kind):
    await create(server, "api-repo", kind)
    reply = await server.call("update_repo", repoid="api-repo", landing_rev="tip")
    assert reply.error == "failed to update repo `api-repo`"


@pytest_twisted.ensureDeferred
async def test_update_repo_clone_uri_http_is_stored(server, remote, kind):
    serve_history(remote, kind, "upstream")
    await create(server, "api-repo", kind)
    uri = remote.url(kind, "upstream")
    reply = await server.call("update_repo", repoid="api-repo", clone_uri=uri)
    assert reply.result["repository"]["clone_uri"] == uri


@pytest.mark.parametrize("where", ["missing", "other-kind", "no-server"])
@pytest_twisted.ensureDeferred
async def test_update_repo_clone_uri_that_is_no_repository_fails(
    server, remote, kind, where
):
    # Kallithea 0.6+ asks a new remote before storing it (T108).
    other = "git" if kind == "hg" else "hg"
    serve_history(remote, other, "upstream")
    uri = {
        "missing": remote.url(kind, "nothing-here"),
        "other-kind": remote.url(other, "upstream"),
        "no-server": "http://127.0.0.1:1/repo",
    }[where]
    await create(server, "api-repo", kind)
    reply = await server.call("update_repo", repoid="api-repo", clone_uri=uri)
    assert reply.error == "failed to update repo `api-repo`"
    assert (await get_repo(server, "api-repo"))["clone_uri"] is None


@pytest_twisted.ensureDeferred
async def test_update_repo_keeps_a_stored_clone_uri_without_asking_again(
    server, remote, kind
):
    serve_history(remote, kind, "upstream")
    uri = remote.url(kind, "upstream")
    await create(server, "api-repo", kind, clone_uri=uri)
    shutil.rmtree(remote.path(kind, "upstream"))
    reply = await server.call(
        "update_repo", repoid="api-repo", clone_uri=uri, description="kept"
    )
    assert reply.result["repository"]["clone_uri"] == uri
    assert reply.result["repository"]["description"] == "kept"


@pytest_twisted.ensureDeferred
async def test_update_repo_clone_uri_local_path_fails(server, remote, kind):
    serve_history(remote, kind, "upstream")
    await create(server, "api-repo", kind)
    reply = await server.call(
        "update_repo",
        repoid="api-repo",
        clone_uri=str(remote.path(kind, "upstream")),
    )
    assert reply.error == "failed to update repo `api-repo`"
    assert (await get_repo(server, "api-repo"))["clone_uri"] is None


@pytest_twisted.ensureDeferred
async def test_update_repo_empty_clone_uri_clears_it(server, remote, kind):
    serve_history(remote, kind, "upstream")
    await create(server, "api-repo", kind, clone_uri=remote.url(kind, "upstream"))
    reply = await server.call("update_repo", repoid="api-repo", clone_uri="")
    assert reply.result["repository"]["clone_uri"] is None


@pytest_twisted.ensureDeferred
async def test_update_repo_unknown_repository_does_not_exist(server):
    reply = await server.call("update_repo", repoid="nope", description="x")
    assert reply.error == "repository `nope` does not exist"


@pytest_twisted.ensureDeferred
async def test_update_repo_regular_user_without_admin_on_it_sees_nothing(server, kind):
    key = await regular(server)
    await create(server, "admin_owned", kind)
    reply = await server.call(
        "update_repo", key=key, repoid="admin_owned", description="something else"
    )
    assert reply.error == "repository `admin_owned` does not exist"


@pytest_twisted.ensureDeferred
async def test_update_repo_regular_user_with_admin_grant_may_update(server, kind):
    key = await regular(server)
    await create(server, "admin_owned", kind)
    await server.call(
        "grant_user_permission",
        repoid="admin_owned",
        userid="test-api",
        perm="repository.admin",
    )
    reply = await server.call(
        "update_repo", key=key, repoid="admin_owned", name="new_repo_name"
    )
    assert reply.result["msg"] == "updated repo ID:1 new_repo_name"


@pytest_twisted.ensureDeferred
async def test_update_repo_regular_owner_may_update_its_repository(server, kind):
    key = await regular(server)
    await create(server, "mine", kind, owner="test-api")
    reply = await server.call("update_repo", key=key, repoid="mine", description="d")
    assert reply.result["repository"]["description"] == "d"


@pytest_twisted.ensureDeferred
async def test_update_repo_regular_user_may_not_name_an_owner(server, kind):
    key = await regular(server)
    await create(server, "mine", kind, owner="test-api")
    reply = await server.call("update_repo", key=key, repoid="mine", owner="admin")
    assert reply.error == "Only Kallithea admin can specify `owner` param"


@pytest.mark.parametrize("change", [{"name": "moved"}, {"description": "d"}])
@pytest_twisted.ensureDeferred
async def test_update_repo_regular_user_without_create_permission_is_refused(
    server, engine, kind, change
):
    key = await regular(server)
    await create(server, "mine", kind, owner="test-api")
    await take_global_from_default(server, engine, "hg.create.repository")
    reply = await server.call("update_repo", key=key, repoid="mine", **change)
    assert reply.error == "no permission to create (or move) repositories"
    assert listing(repos_root(server)) == ["mine"]
    assert (await get_repo(server, "mine"))["description"] == "mine"


# --- fork_repo (T128-T137) ------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_fork_repo_answers_with_the_fork_message(server, tmp_path, kind):
    await rescanned(server, kind, "src", tmp_path)
    reply = await server.call("fork_repo", repoid="src", fork_name="src-fork")
    assert reply.result == {
        "msg": "Created fork of `src` as `src-fork`",
        "success": True,
    }


@pytest_twisted.ensureDeferred
async def test_fork_repo_is_a_clone_with_fork_of(server, tmp_path, kind):
    await rescanned(server, kind, "src", tmp_path)
    await server.call("fork_repo", repoid="src", fork_name="src-fork")
    assert without_created_on(await get_repo(server, "src-fork")) == {
        **repo_shape(
            2, "src-fork", kind, fork_of="src", last_changeset=changeset(kind, 2)
        ),
        "members": [
            {"name": "default", "type": "user", "permission": "repository.read"}
        ],
        "followers": [ADMIN_USER],
    }
    assert listing(repos_root(server)) == ["src", "src-fork"]


@pytest_twisted.ensureDeferred
async def test_fork_repo_has_the_whole_history(server, tmp_path, kind):
    await rescanned(server, kind, "src", tmp_path)
    await server.call("fork_repo", repoid="src", fork_name="src-fork")
    reply = await server.call("get_changesets", repoid="src-fork")
    assert reply.result == [changeset(kind, n) for n in range(3)]


@pytest_twisted.ensureDeferred
async def test_fork_repo_of_a_git_repository_is_bare(server, tmp_path):
    await rescanned(server, "git", "src", tmp_path)
    await server.call("fork_repo", repoid="src", fork_name="src-fork")
    folder = repos_root(server) / "src-fork"
    assert not (folder / ".git").exists()
    assert (folder / "HEAD").is_file()


@pytest_twisted.ensureDeferred
async def test_fork_repo_takes_description_private_and_landing_rev(
    server, engine, kind
):
    await create(server, "src", kind)
    await server.call(
        "fork_repo",
        repoid="src",
        fork_name="src-fork",
        description="my fork",
        private=True,
        landing_rev="branch:stable",
    )
    got = await get_repo(server, "src-fork")
    assert (got["description"], got["private"], got["landing_rev"]) == (
        "my fork",
        True,
        ["branch", "stable"],
    )
    assert user_rows_on_repo(engine, 2) == {("default", "repository.none")}


@pytest_twisted.ensureDeferred
async def test_fork_repo_records_the_fork_in_the_source_journal(
    server, engine, tmp_path, kind
):
    await rescanned(server, kind, "src", tmp_path)
    await server.call("fork_repo", repoid="src", fork_name="src-fork")
    entries = [entry for entry in journal(engine) if entry[1] == "src"]
    assert entries == [("admin", "src", "user_forked_repo:src-fork")]


@pytest_twisted.ensureDeferred
async def test_fork_repo_copy_permissions_copies_every_row(server, engine, kind):
    await server.create_user("test-api")
    await server.call("create_user_group", group_name="devs")
    await create(server, "src", kind)
    await server.call(
        "grant_user_permission",
        repoid="src",
        userid="test-api",
        perm="repository.write",
    )
    await server.call(
        "grant_user_group_permission",
        repoid="src",
        usergroupid="devs",
        perm="repository.admin",
    )
    await server.call(
        "fork_repo", repoid="src", fork_name="src-fork", copy_permissions=True
    )
    assert user_rows_on_repo(engine, 2) == {
        ("default", "repository.read"),
        ("test-api", "repository.write"),
    }
    assert group_rows_on_repo(engine, 2) == {("devs", "repository.admin")}


@pytest_twisted.ensureDeferred
async def test_fork_repo_without_copy_permissions_gets_the_default_row(
    server, engine, kind
):
    await server.create_user("test-api")
    await create(server, "src", kind)
    await server.call(
        "grant_user_permission",
        repoid="src",
        userid="test-api",
        perm="repository.write",
    )
    await server.call("fork_repo", repoid="src", fork_name="src-fork")
    assert user_rows_on_repo(engine, 2) == {("default", "repository.read")}
    assert group_rows_on_repo(engine, 2) == set()


@pytest_twisted.ensureDeferred
async def test_fork_repo_onto_a_fork_already_exist(server, kind):
    await create(server, "src", kind)
    await server.call("fork_repo", repoid="src", fork_name="src-fork")
    reply = await server.call("fork_repo", repoid="src", fork_name="src-fork")
    assert reply.error == "fork `src-fork` already exist"


@pytest_twisted.ensureDeferred
async def test_fork_repo_onto_a_plain_repository_already_exist(server, kind):
    await create(server, "src", kind)
    reply = await server.call("fork_repo", repoid="src", fork_name="src")
    assert reply.error == "repo `src` already exist"


@pytest_twisted.ensureDeferred
async def test_fork_repo_unknown_source_does_not_exist(server):
    reply = await server.call("fork_repo", repoid="nope", fork_name="nope-fork")
    assert reply.error == "repository `nope` does not exist"


@pytest_twisted.ensureDeferred
async def test_fork_repo_unknown_owner_does_not_exist(server, engine, kind):
    await create(server, "src", kind)
    reply = await server.call(
        "fork_repo", repoid="src", fork_name="src-fork", owner="i-dont-exist"
    )
    assert reply.error == "user `i-dont-exist` does not exist"
    assert repo_rows(engine) == [(1, "src")]


@pytest.mark.parametrize("name", ["..", "a/../b", "<test>", "rm__x", ""])
@pytest_twisted.ensureDeferred
async def test_fork_repo_bad_name_fails_and_creates_nothing(server, engine, kind, name):
    await create(server, "src", kind)
    reply = await server.call("fork_repo", repoid="src", fork_name=name)
    assert reply.error == f"failed to fork repository `src` as `{name}`"
    assert repo_rows(engine) == [(1, "src")]
    assert listing(repos_root(server)) == ["src"]


@pytest_twisted.ensureDeferred
async def test_fork_repo_into_a_missing_group_creates_it(server, engine, kind):
    await create(server, "src", kind)
    reply = await server.call("fork_repo", repoid="src", fork_name="team/src-fork")
    assert reply.result == {
        "msg": "Created fork of `src` as `team/src-fork`",
        "success": True,
    }
    assert group_rows(engine) == [("team", None, "team group", ADMIN_ID)]
    assert listing(repos_root(server) / "team") == ["src-fork"]


@pytest_twisted.ensureDeferred
async def test_fork_repo_regular_user_owns_its_fork(server, kind):
    key = await regular(server)
    await create(server, "src", kind)
    reply = await server.call("fork_repo", key=key, repoid="src", fork_name="mine")
    assert reply.result == {"msg": "Created fork of `src` as `mine`", "success": True}
    got = await get_repo(server, "mine", key=key)
    assert (got["owner"], got["fork_of"]) == ("test-api", "src")
    assert got["followers"] == [user(FIRST_USER_ID, "test-api")]


@pytest_twisted.ensureDeferred
async def test_fork_repo_regular_user_may_not_name_an_owner(server, kind):
    key = await regular(server)
    await create(server, "src", kind)
    reply = await server.call(
        "fork_repo", key=key, repoid="src", fork_name="mine", owner="admin"
    )
    assert reply.error == "Only Kallithea admin can specify `owner` param"


@pytest_twisted.ensureDeferred
async def test_fork_repo_regular_user_without_read_sees_nothing(server, engine, kind):
    key = await regular(server)
    await create(server, "src", kind, private=True)
    reply = await server.call("fork_repo", key=key, repoid="src", fork_name="mine")
    assert reply.error == "repository `src` does not exist"
    assert repo_rows(engine) == [(1, "src")]


@pytest_twisted.ensureDeferred
async def test_fork_repo_regular_user_without_fork_permission_is_denied(
    server, engine, kind
):
    key = await regular(server)
    await create(server, "src", kind)
    await take_global_from_default(server, engine, "hg.fork.repository")
    reply = await server.call("fork_repo", key=key, repoid="src", fork_name="mine")
    assert reply.error == ACCESS_DENIED


@pytest_twisted.ensureDeferred
async def test_fork_repo_regular_user_without_create_permission_is_refused(
    server, engine, kind
):
    key = await regular(server)
    await create(server, "src", kind)
    await take_global_from_default(server, engine, "hg.create.repository")
    reply = await server.call("fork_repo", key=key, repoid="src", fork_name="mine")
    assert reply.error == "no permission to create repositories"
    assert repo_rows(engine) == [(1, "src")]


@pytest_twisted.ensureDeferred
async def test_fork_repo_regular_user_into_group_without_write_is_refused(server, kind):
    key = await regular(server)
    await create(server, "src", kind)
    await create(server, "grp/other", kind)
    reply = await server.call("fork_repo", key=key, repoid="src", fork_name="grp/mine")
    assert reply.error == "no permission to create repo in grp"


# --- delete_repo (T124-T127) ----------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_delete_repo_answers_with_the_deleted_message(server, kind):
    await create(server, "api_delete_me", kind)
    reply = await server.call("delete_repo", repoid="api_delete_me")
    assert reply.result == {
        "msg": "Deleted repository `api_delete_me`",
        "success": True,
    }


@pytest_twisted.ensureDeferred
async def test_delete_repo_renames_the_folder_to_an_archive(server, tmp_path, kind):
    await rescanned(server, kind, "api_delete_me", tmp_path)
    await server.call("delete_repo", repoid="api_delete_me")
    [archived] = listing(repos_root(server))
    assert re.fullmatch(ARCHIVED + "api_delete_me", archived)
    folder = repos_root(server) / archived
    marker = ".hg" if kind == "hg" else "HEAD"
    assert (folder / marker).exists()


@pytest_twisted.ensureDeferred
async def test_delete_repo_in_a_group_archives_in_the_same_folder(server, kind):
    await create(server, "grp/api_delete_me", kind)
    await server.call("delete_repo", repoid="grp/api_delete_me")
    assert listing(repos_root(server)) == ["grp"]
    [archived] = listing(repos_root(server) / "grp")
    assert re.fullmatch(ARCHIVED + "api_delete_me", archived)


@pytest_twisted.ensureDeferred
async def test_delete_repo_removes_its_rows(server, engine, kind):
    await server.create_user("test-api")
    await server.call("create_user_group", group_name="devs")
    await create(server, "api_delete_me", kind)
    await server.call(
        "grant_user_permission",
        repoid="api_delete_me",
        userid="test-api",
        perm="repository.write",
    )
    await server.call(
        "grant_user_group_permission",
        repoid="api_delete_me",
        usergroupid="devs",
        perm="repository.read",
    )
    await server.call("delete_repo", repoid="api_delete_me")
    assert rows_about_repo(engine, 1) == NO_ROWS
    reply = await server.call("get_repo", repoid="api_delete_me")
    assert reply.error == "repository `api_delete_me` does not exist"


@pytest_twisted.ensureDeferred
async def test_delete_repo_then_the_name_can_be_used_again(server, kind):
    await create(server, "again", kind)
    await server.call("delete_repo", repoid="again")
    await create(server, "again", kind)
    assert len(listing(repos_root(server))) == 2


@pytest_twisted.ensureDeferred
async def test_delete_repo_unknown_does_not_exist(server):
    reply = await server.call("delete_repo", repoid="api_delete_me")
    assert reply.error == "repository `api_delete_me` does not exist"


@pytest_twisted.ensureDeferred
async def test_delete_repo_refused_while_forks_are_attached(server, engine, kind):
    await create(server, "src", kind)
    await server.call("fork_repo", repoid="src", fork_name="src-fork")
    reply = await server.call("delete_repo", repoid="src")
    assert reply.error == "Cannot delete `src` it still contains attached forks"
    assert repo_rows(engine) == [(1, "src"), (2, "src-fork")]
    assert listing(repos_root(server)) == ["src", "src-fork"]


@pytest_twisted.ensureDeferred
async def test_delete_repo_with_an_unknown_forks_value_is_refused(server, kind):
    await create(server, "src", kind)
    await server.call("fork_repo", repoid="src", fork_name="src-fork")
    reply = await server.call("delete_repo", repoid="src", forks="keep")
    assert reply.error == "Cannot delete `src` it still contains attached forks"


@pytest_twisted.ensureDeferred
async def test_delete_repo_detach_leaves_the_forks_without_parent(server, kind):
    await create(server, "src", kind)
    await server.call("fork_repo", repoid="src", fork_name="fork-one")
    await server.call("fork_repo", repoid="src", fork_name="fork-two")
    reply = await server.call("delete_repo", repoid="src", forks="detach")
    assert reply.result == {
        "msg": "Deleted repository `src` Detached 2 forks",
        "success": True,
    }
    for name in ("fork-one", "fork-two"):
        assert (await get_repo(server, name))["fork_of"] is None
    assert listing(repos_root(server))[:2] == ["fork-one", "fork-two"]


@pytest_twisted.ensureDeferred
async def test_delete_repo_delete_removes_forks_of_forks(server, engine, kind):
    await create(server, "src", kind)
    await server.call("fork_repo", repoid="src", fork_name="fork-one")
    await server.call("fork_repo", repoid="src", fork_name="fork-two")
    await server.call("fork_repo", repoid="fork-one", fork_name="fork-deep")
    reply = await server.call("delete_repo", repoid="src", forks="delete")
    assert reply.result == {
        "msg": "Deleted repository `src` Deleted 2 forks",
        "success": True,
    }
    assert repo_rows(engine) == []
    archived = listing(repos_root(server))
    assert sorted(name.rpartition("__")[2] for name in archived) == [
        "fork-deep",
        "fork-one",
        "fork-two",
        "src",
    ]
    assert all(re.match(ARCHIVED, name) for name in archived)


@pytest.mark.parametrize("forks", ["detach", "delete"])
@pytest_twisted.ensureDeferred
async def test_delete_repo_forks_option_without_forks_counts_zero(server, kind, forks):
    await create(server, "alone", kind)
    reply = await server.call("delete_repo", repoid="alone", forks=forks)
    word = "Detached" if forks == "detach" else "Deleted"
    assert reply.result == {
        "msg": f"Deleted repository `alone` {word} 0 forks",
        "success": True,
    }


@pytest_twisted.ensureDeferred
async def test_delete_repo_regular_owner_may_delete(server, kind):
    key = await regular(server)
    await server.call("create_repo", key=key, repo_name="api_delete_me", repo_type=kind)
    reply = await server.call("delete_repo", key=key, repoid="api_delete_me")
    assert reply.result == {
        "msg": "Deleted repository `api_delete_me`",
        "success": True,
    }


@pytest_twisted.ensureDeferred
async def test_delete_repo_regular_user_without_admin_sees_nothing(
    server, engine, kind
):
    key = await regular(server)
    await create(server, "api_delete_me", kind)
    await server.call(
        "grant_user_permission",
        repoid="api_delete_me",
        userid="test-api",
        perm="repository.write",
    )
    reply = await server.call("delete_repo", key=key, repoid="api_delete_me")
    assert reply.error == "repository `api_delete_me` does not exist"
    assert repo_rows(engine) == [(1, "api_delete_me")]


# --- grant and revoke on repositories (T159-T174) -------------------------------

LEVELS = ["repository.none", "repository.read", "repository.write", "repository.admin"]


@pytest.mark.parametrize("perm", LEVELS)
@pytest_twisted.ensureDeferred
async def test_grant_user_permission_each_level(server, engine, kind, perm):
    await server.create_user("test-api")
    await create(server, "api-repo", kind)
    reply = await server.call(
        "grant_user_permission", repoid="api-repo", userid="test-api", perm=perm
    )
    assert reply.result == {
        "msg": f"Granted perm: `{perm}` for user: `test-api` in repo: `api-repo`",
        "success": True,
    }
    assert user_rows_on_repo(engine, 1) == {
        ("default", "repository.read"),
        ("test-api", perm),
    }


@pytest_twisted.ensureDeferred
async def test_grant_user_permission_replaces_the_users_row(server, engine, kind):
    await server.create_user("test-api")
    await create(server, "api-repo", kind)
    for perm in ("repository.admin", "repository.write"):
        await server.call(
            "grant_user_permission", repoid="api-repo", userid="test-api", perm=perm
        )
    assert user_rows_on_repo(engine, 1) == {
        ("default", "repository.read"),
        ("test-api", "repository.write"),
    }


@pytest_twisted.ensureDeferred
async def test_grant_user_permission_unknown_perm_does_not_exist(server, kind):
    await server.create_user("test-api")
    await create(server, "api-repo", kind)
    reply = await server.call(
        "grant_user_permission",
        repoid="api-repo",
        userid="test-api",
        perm="haha.no.permission",
    )
    assert reply.error == "permission `haha.no.permission` does not exist"


@pytest_twisted.ensureDeferred
async def test_grant_user_permission_unknown_user_does_not_exist(server, kind):
    await create(server, "api-repo", kind)
    reply = await server.call(
        "grant_user_permission",
        repoid="api-repo",
        userid="nobody",
        perm="repository.read",
    )
    assert reply.error == "user `nobody` does not exist"


@pytest_twisted.ensureDeferred
async def test_grant_user_permission_unknown_repository_does_not_exist(server):
    await server.create_user("test-api")
    reply = await server.call(
        "grant_user_permission",
        repoid="nope",
        userid="test-api",
        perm="repository.read",
    )
    assert reply.error == "repository `nope` does not exist"


@pytest_twisted.ensureDeferred
async def test_grant_user_permission_is_for_admins(server, kind):
    key = await regular(server)
    await create(server, "mine", kind, owner="test-api")
    reply = await server.call(
        "grant_user_permission",
        key=key,
        repoid="mine",
        userid="test-api",
        perm="repository.read",
    )
    assert reply.error == ACCESS_DENIED


@pytest_twisted.ensureDeferred
async def test_grant_then_revoke_user_permission_opens_and_closes_access(server, kind):
    key = await regular(server)
    await create(server, "secret", kind, private=True)
    await server.call(
        "grant_user_permission",
        repoid="secret",
        userid="test-api",
        perm="repository.read",
    )
    assert (await get_repo(server, "secret", key=key))["repo_name"] == "secret"
    await server.call("revoke_user_permission", repoid="secret", userid="test-api")
    reply = await server.call("get_repo", key=key, repoid="secret")
    assert reply.error == "repository `secret` does not exist"


@pytest_twisted.ensureDeferred
async def test_revoke_user_permission_removes_the_row(server, engine, kind):
    await server.create_user("test-api")
    await create(server, "api-repo", kind)
    await server.call(
        "grant_user_permission",
        repoid="api-repo",
        userid="test-api",
        perm="repository.write",
    )
    reply = await server.call(
        "revoke_user_permission", repoid="api-repo", userid="test-api"
    )
    assert reply.result == {
        "msg": "Revoked perm for user: `test-api` in repo: `api-repo`",
        "success": True,
    }
    assert user_rows_on_repo(engine, 1) == {("default", "repository.read")}


@pytest_twisted.ensureDeferred
async def test_revoke_user_permission_without_a_row_succeeds(server, kind):
    await server.create_user("test-api")
    await create(server, "api-repo", kind)
    reply = await server.call("revoke_user_permission", repoid=1, userid=FIRST_USER_ID)
    assert reply.result == {
        "msg": "Revoked perm for user: `test-api` in repo: `api-repo`",
        "success": True,
    }


@pytest.mark.parametrize("perm", LEVELS)
@pytest_twisted.ensureDeferred
async def test_grant_user_group_permission_each_level(server, engine, kind, perm):
    await server.call("create_user_group", group_name="test_user_group")
    await create(server, "api-repo", kind)
    reply = await server.call(
        "grant_user_group_permission",
        repoid="api-repo",
        usergroupid="test_user_group",
        perm=perm,
    )
    assert reply.result == {
        "msg": f"Granted perm: `{perm}` for user group: `test_user_group` "
        "in repo: `api-repo`",
        "success": True,
    }
    assert group_rows_on_repo(engine, 1) == {("test_user_group", perm)}


@pytest_twisted.ensureDeferred
async def test_grant_user_group_permission_unknown_perm_does_not_exist(server, kind):
    await server.call("create_user_group", group_name="test_user_group")
    await create(server, "api-repo", kind)
    reply = await server.call(
        "grant_user_group_permission",
        repoid="api-repo",
        usergroupid="test_user_group",
        perm="haha.no.permission",
    )
    assert reply.error == "permission `haha.no.permission` does not exist"


@pytest_twisted.ensureDeferred
async def test_grant_user_group_permission_unknown_group_does_not_exist(server, kind):
    await create(server, "api-repo", kind)
    reply = await server.call(
        "grant_user_group_permission",
        repoid="api-repo",
        usergroupid="no-group",
        perm="repository.read",
    )
    assert reply.error == "user group `no-group` does not exist"


@pytest_twisted.ensureDeferred
async def test_grant_user_group_permission_gives_members_access(server, kind):
    key = await regular(server)
    await server.call("create_user_group", group_name="devs")
    await server.call("add_user_to_user_group", usergroupid="devs", userid="test-api")
    await create(server, "secret", kind, private=True)
    await server.call(
        "grant_user_group_permission",
        repoid="secret",
        usergroupid="devs",
        perm="repository.read",
    )
    assert (await get_repo(server, "secret", key=key))["repo_name"] == "secret"


@pytest_twisted.ensureDeferred
async def test_revoke_user_group_permission_removes_the_row(server, engine, kind):
    await server.call("create_user_group", group_name="test_user_group")
    await create(server, "api-repo", kind)
    await server.call(
        "grant_user_group_permission",
        repoid="api-repo",
        usergroupid="test_user_group",
        perm="repository.read",
    )
    reply = await server.call(
        "revoke_user_group_permission",
        repoid="api-repo",
        usergroupid="test_user_group",
    )
    assert reply.result == {
        "msg": "Revoked perm for user group: `test_user_group` in repo: `api-repo`",
        "success": True,
    }
    assert group_rows_on_repo(engine, 1) == set()


async def _no_default_read_on(server: Any, engine: sa.Engine, group: str) -> None:
    """Set the `default` user's row on a user group to usergroup.none."""
    table = t.user_user_group_to_perm
    with engine.begin() as c:
        group_id = c.execute(
            sa.select(t.users_groups.c.users_group_id).where(
                t.users_groups.c.users_group_name == group
            )
        ).scalar_one()
        changed = c.execute(
            table.update()
            .where(table.c.user_id == DEFAULT_ID, table.c.user_group_id == group_id)
            .values(permission_id=ID_BY_NAME["usergroup.none"])
        ).rowcount
    assert changed == 1
    await changed_elsewhere(server, engine)


@pytest_twisted.ensureDeferred
async def test_grant_user_group_permission_regular_user_needs_admin_on_repo(
    server, kind
):
    key = await regular(server)
    await server.call("create_user_group", group_name="devs")
    await create(server, "api-repo", kind)
    await server.call(
        "grant_user_permission",
        repoid="api-repo",
        userid="test-api",
        perm="repository.write",
    )
    reply = await server.call(
        "grant_user_group_permission",
        key=key,
        repoid="api-repo",
        usergroupid="devs",
        perm="repository.read",
    )
    assert reply.error == "repository `api-repo` does not exist"


@pytest_twisted.ensureDeferred
async def test_grant_user_group_permission_regular_user_needs_read_on_group(
    server, engine, kind
):
    key = await regular(server)
    await server.call("create_user_group", group_name="devs")
    await _no_default_read_on(server, engine, "devs")
    await create(server, "mine", kind, owner="test-api")
    reply = await server.call(
        "grant_user_group_permission",
        key=key,
        repoid="mine",
        usergroupid="devs",
        perm="repository.read",
    )
    assert reply.error == "user group `devs` does not exist"
    assert group_rows_on_repo(engine, 1) == set()


@pytest_twisted.ensureDeferred
async def test_grant_user_group_permission_regular_admin_with_group_read_may(
    server, engine, kind
):
    key = await regular(server)
    await server.call("create_user_group", group_name="devs")
    await create(server, "mine", kind, owner="test-api")
    reply = await server.call(
        "grant_user_group_permission",
        key=key,
        repoid="mine",
        usergroupid="devs",
        perm="repository.write",
    )
    assert reply.result == {
        "msg": "Granted perm: `repository.write` for user group: `devs` "
        "in repo: `mine`",
        "success": True,
    }
    assert group_rows_on_repo(engine, 1) == {("devs", "repository.write")}


@pytest_twisted.ensureDeferred
async def test_revoke_user_group_permission_regular_user_needs_read_on_group(
    server, engine, kind
):
    key = await regular(server)
    await server.call("create_user_group", group_name="devs")
    await create(server, "mine", kind, owner="test-api")
    await server.call(
        "grant_user_group_permission",
        repoid="mine",
        usergroupid="devs",
        perm="repository.read",
    )
    await _no_default_read_on(server, engine, "devs")
    reply = await server.call(
        "revoke_user_group_permission", key=key, repoid="mine", usergroupid="devs"
    )
    assert reply.error == "user group `devs` does not exist"
    assert group_rows_on_repo(engine, 1) == {("devs", "repository.read")}


# --- names, groups and access after changes -------------------------------------


@pytest_twisted.ensureDeferred
async def test_create_repo_named_like_an_existing_group_fails(server, engine, kind):
    await create(server, "grp/inner", kind)
    reply = await server.call("create_repo", repo_name="grp", repo_type=kind)
    assert reply.error == "failed to create repository `grp`"
    assert repo_rows(engine) == [(1, "grp/inner")]
    assert listing(repos_root(server) / "grp") == ["inner"]


@pytest_twisted.ensureDeferred
async def test_concurrent_create_repo_into_one_new_group(server, engine, kind):
    names = [f"team/repo{n}" for n in range(5)]
    calls = [
        defer.ensureDeferred(server.call("create_repo", repo_name=name, repo_type=kind))
        for name in names
    ]
    replies = await defer.gatherResults(calls)
    assert [reply.error for reply in replies] == [None] * 5
    assert group_rows(engine) == [("team", None, "team group", ADMIN_ID)]
    assert listing(repos_root(server) / "team") == [f"repo{n}" for n in range(5)]


@pytest_twisted.ensureDeferred
async def test_concurrent_failing_and_succeeding_creations_in_one_new_group(
    server, engine, remote, kind
):
    # Failed creations remove the groups they made, unless a creation that
    # succeeds uses them: whoever comes first, team stays with team/good*.
    missing = remote.url(kind, "no-such-repo")
    calls = []
    for n in range(4):
        calls.append(
            server.call(
                "create_repo",
                repo_name=f"team/bad{n}",
                repo_type=kind,
                clone_uri=missing,
            )
        )
        calls.append(
            server.call("create_repo", repo_name=f"team/good{n}", repo_type=kind)
        )
    replies = await defer.gatherResults([defer.ensureDeferred(c) for c in calls])
    errors = [reply.error for reply in replies]
    assert errors[1::2] == [None] * 4
    assert errors[0::2] == [
        f"failed to create repository `team/bad{n}`" for n in range(4)
    ]
    assert group_rows(engine) == [("team", None, "team group", ADMIN_ID)]
    assert sorted(name for _, name in repo_rows(engine)) == [
        f"team/good{n}" for n in range(4)
    ]
    assert listing(repos_root(server) / "team") == [f"good{n}" for n in range(4)]


@pytest_twisted.ensureDeferred
async def test_create_repo_clone_uri_with_credentials_is_shown_unmasked(
    server, remote, kind
):
    serve_history(remote, kind, "upstream")
    uri = remote.url(kind, "upstream").replace("http://", "http://user:secret@")
    await create(server, "mirror", kind, clone_uri=uri)
    got = await get_repo(server, "mirror")
    assert (got["clone_uri"], got["last_changeset"]) == (uri, changeset(kind, 2))


@pytest_twisted.ensureDeferred
async def test_update_repo_name_and_group_together(server, kind):
    await create(server, "grp/other", kind)
    await create(server, "api-repo", kind)
    reply = await server.call("update_repo", repoid="api-repo", name="x", group="grp")
    assert reply.result["msg"] == "updated repo ID:2 grp/x"
    assert listing(repos_root(server) / "grp") == ["other", "x"]


@pytest_twisted.ensureDeferred
async def test_update_repo_rename_of_a_parent_shows_in_its_forks(server, kind):
    await create(server, "src", kind)
    await server.call("fork_repo", repoid="src", fork_name="src-fork")
    await server.call("update_repo", repoid="src", name="renamed")
    assert (await get_repo(server, "src-fork"))["fork_of"] == "renamed"


@pytest_twisted.ensureDeferred
async def test_update_repo_rename_keeps_a_regular_users_grant(server, kind):
    key = await regular(server)
    await create(server, "secret", kind, private=True)
    await server.call(
        "grant_user_permission",
        repoid="secret",
        userid="test-api",
        perm="repository.read",
    )
    await server.call("update_repo", repoid="secret", name="renamed")
    assert (await get_repo(server, "renamed", key=key))["repo_name"] == "renamed"


@pytest_twisted.ensureDeferred
async def test_a_new_repository_with_a_deleted_ones_name_has_no_old_grants(
    server, kind
):
    key = await regular(server)
    await create(server, "secret", kind, private=True)
    await server.call(
        "grant_user_permission",
        repoid="secret",
        userid="test-api",
        perm="repository.read",
    )
    await server.call("delete_repo", repoid="secret")
    await create(server, "secret", kind, private=True)
    reply = await server.call("get_repo", key=key, repoid="secret")
    assert reply.error == "repository `secret` does not exist"


@pytest_twisted.ensureDeferred
async def test_create_repo_in_a_group_inherits_its_enable_locking(server, engine, kind):
    await create(server, "locking/first", kind)
    with engine.begin() as c:
        c.execute(
            t.repo_groups.update()
            .where(t.repo_groups.c.group_name == "locking")
            .values(enable_locking=True)
        )
    await create(server, "locking/second", kind)
    assert (await get_repo(server, "locking/second"))["enable_locking"] is True


@pytest_twisted.ensureDeferred
async def test_create_repo_copy_permissions_copies_user_group_rows(
    server, engine, kind
):
    await server.call("create_user_group", group_name="devs")
    await create(server, "grp/first", kind)
    with engine.begin() as c:
        c.execute(
            t.users_group_repo_group_to_perm.insert().values(
                users_group_id=1, group_id=1, permission_id=ID_BY_NAME["group.admin"]
            )
        )
    await changed_elsewhere(server, engine)
    await create(server, "grp/copied", kind, copy_permissions=True)
    assert group_rows_on_repo(engine, 2) == {("devs", "repository.admin")}
    assert user_rows_on_repo(engine, 2) == {("default", "repository.read")}


@pytest_twisted.ensureDeferred
async def test_get_repo_explicit_none_does_not_hide_a_readable_repository(server, kind):
    key = await regular(server)
    await create(server, "api-repo", kind)
    await server.call(
        "grant_user_permission",
        repoid="api-repo",
        userid="test-api",
        perm="repository.none",
    )
    assert (await get_repo(server, "api-repo", key=key))["repo_name"] == "api-repo"


@pytest_twisted.ensureDeferred
async def test_fork_repo_of_an_empty_repository(server, kind):
    await create(server, "empty", kind)
    reply = await server.call("fork_repo", repoid="empty", fork_name="empty-fork")
    assert reply.result["success"] is True
    got = await get_repo(server, "empty-fork")
    assert (got["fork_of"], got["last_changeset"]) == ("empty", EMPTY_CHANGESET)


@pytest_twisted.ensureDeferred
async def test_fork_repo_of_a_mirror_has_no_clone_uri(server, remote, kind):
    serve_history(remote, kind, "upstream")
    await create(server, "mirror", kind, clone_uri=remote.url(kind, "upstream"))
    await server.call("fork_repo", repoid="mirror", fork_name="mirror-fork")
    got = await get_repo(server, "mirror-fork")
    assert (got["clone_uri"], got["last_changeset"]) == (None, changeset(kind, 2))


@pytest_twisted.ensureDeferred
async def test_delete_repo_archive_name_carries_the_local_time(server, kind):
    await create(server, "api_delete_me", kind)
    before = datetime.datetime.now().replace(microsecond=0)
    await server.call("delete_repo", repoid="api_delete_me")
    after = datetime.datetime.now()
    [archived] = listing(repos_root(server))
    stamp = datetime.datetime.strptime(archived[4:26], "%Y%m%d_%H%M%S_%f")
    assert before <= stamp <= after
    assert archived[26:] == "__api_delete_me"
