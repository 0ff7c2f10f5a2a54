"""The repository group methods over real HTTP, on a real database and disk.

Expected values follow API-SPEC.md 2.6, 3.33 to 3.41, 6.7 and the cases
T175 to T245, with DESIGN.md section 1 (update_repo_group applies `parent`
and `owner` too) and the errata (a non-empty group is not deleted).

A fresh installation holds `default` (id 1) and `admin` (id 2): the first
user a test creates has id 3, the first repository group id 1.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import defer

from kallithead.auth.permissions import NAME_BY_ID
from kallithead.db import schema as t
from tests.test_repos import (
    ACCESS_DENIED,
    FIRST_USER_ID,
    changed_elsewhere,
    create,
    grant_on_repo_group,
    listing,
    regular,
    repos_root,
)

KINDS = ("hg", "git")
LEVELS = ("group.none", "group.read", "group.write", "group.admin")
REACHES = ("none", "all", "repos", "groups")
DEFAULT_MEMBER = {"name": "default", "type": "user", "permission": "group.read"}


@pytest.fixture(params=KINDS)
def kind(request: Any) -> str:
    return request.param


async def make_group(server: Any, name: str, **extra: Any) -> dict[str, Any]:
    reply = await server.call("create_repo_group", group_name=name, **extra)
    assert reply.error is None, reply.error
    return reply.result["repo_group"]


def group_grants(engine: sa.Engine) -> list[tuple[str, str, str]]:
    """(group name, subject name, permission) of every grant on a group."""
    rows = []
    with engine.connect() as c:
        for table, subject_table, subject, subject_name in (
            (t.user_repo_group_to_perm, t.users, "user_id", "username"),
            (
                t.users_group_repo_group_to_perm,
                t.users_groups,
                "users_group_id",
                "users_group_name",
            ),
        ):
            rows += [
                (group, name, NAME_BY_ID[permission_id])
                for group, name, permission_id in c.execute(
                    sa.select(
                        t.repo_groups.c.group_name,
                        subject_table.c[subject_name],
                        table.c.permission_id,
                    )
                    .select_from(table)
                    .join(t.repo_groups, t.repo_groups.c.group_id == table.c.group_id)
                    .join(
                        subject_table,
                        subject_table.c[subject] == table.c[subject],
                    )
                )
            ]
    return sorted(rows)


def repo_grants(engine: sa.Engine, subject: str) -> list[tuple[str, str]]:
    """(repository, permission) of every grant to the user ``subject``."""
    with engine.connect() as c:
        return sorted(
            (name, NAME_BY_ID[permission_id])
            for name, permission_id in c.execute(
                sa.select(t.repositories.c.repo_name, t.repo_to_perm.c.permission_id)
                .select_from(t.repo_to_perm)
                .join(
                    t.repositories,
                    t.repositories.c.repo_id == t.repo_to_perm.c.repository_id,
                )
                .join(t.users, t.users.c.user_id == t.repo_to_perm.c.user_id)
                .where(t.users.c.username == subject)
            )
        )


def group_names(engine: sa.Engine) -> list[str]:
    with engine.connect() as c:
        return sorted(c.execute(sa.select(t.repo_groups.c.group_name)).scalars())


# --- create_repo_group ----------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_create_top_level_group(server, engine):
    reply = await server.call(
        "create_repo_group", group_name="grp1", description="Group one"
    )
    assert reply.result == {
        "msg": "created new repo group `grp1`",
        "repo_group": {
            "group_id": 1,
            "group_name": "grp1",
            "group_description": "Group one",
            "parent_group": None,
            "repositories": [],
            "owner": "admin",
        },
    }
    assert (repos_root(server) / "grp1").is_dir()
    assert group_grants(engine) == [("grp1", "default", "group.read")]


@pytest_twisted.ensureDeferred
async def test_create_without_description_takes_the_short_name(server):
    parent = await make_group(server, "top")
    group = await make_group(server, "inner", parent="top")
    assert group["group_description"] == "inner"
    assert group["group_name"] == "top/inner"
    assert group["parent_group"] == "top"
    assert parent["group_description"] == "top"
    assert (repos_root(server) / "top" / "inner").is_dir()


@pytest_twisted.ensureDeferred
async def test_create_existing_name(server):
    await make_group(server, "grp1")
    reply = await server.call("create_repo_group", group_name="grp1")
    assert reply.error == "repo group `grp1` already exist"


@pytest_twisted.ensureDeferred
async def test_create_existing_name_under_a_parent_fails_later(server, engine):
    await make_group(server, "top")
    await make_group(server, "inner", parent="top")
    reply = await server.call("create_repo_group", group_name="inner", parent=1)
    assert reply.error == "failed to create repo group `inner`"
    assert group_names(engine) == ["top", "top/inner"]


@pytest_twisted.ensureDeferred
async def test_create_under_unknown_parent(server, engine):
    reply = await server.call("create_repo_group", group_name="x", parent="nope")
    assert reply.error == "repository group `nope` does not exist"
    assert group_names(engine) == []


@pytest.mark.parametrize(
    "name", ["a/b", "..", ".hidden", "a b", "_admin", "rm__x", "a--b", "", "x\x00"]
)
@pytest_twisted.ensureDeferred
async def test_create_invalid_name_makes_nothing(server, engine, name):
    reply = await server.call("create_repo_group", group_name=name)
    assert reply.error == f"failed to create repo group `{name}`"
    assert group_names(engine) == []
    assert listing(repos_root(server)) == []


@pytest_twisted.ensureDeferred
async def test_create_with_unknown_owner(server, engine):
    reply = await server.call("create_repo_group", group_name="g", owner="ghost")
    assert reply.error == "failed to create repo group `g`"
    assert group_names(engine) == []


@pytest_twisted.ensureDeferred
async def test_create_where_the_folder_exists(server, engine):
    (repos_root(server) / "there").mkdir(parents=True)
    reply = await server.call("create_repo_group", group_name="there")
    assert reply.error == "failed to create repo group `there`"
    assert group_names(engine) == []


@pytest_twisted.ensureDeferred
async def test_create_named_like_a_repository(server, engine, kind):
    await create(server, "taken", kind)
    reply = await server.call("create_repo_group", group_name="taken")
    assert reply.error == "failed to create repo group `taken`"
    assert group_names(engine) == []


@pytest_twisted.ensureDeferred
async def test_regular_owner_gets_group_admin(server, engine):
    await regular(server, "alice")
    group = await make_group(server, "g", owner="alice")
    assert group["owner"] == "alice"
    reply = await server.call("get_repo_group", repogroupid="g")
    assert reply.result["members"] == [
        DEFAULT_MEMBER,
        {"name": "alice", "type": "user", "permission": "group.admin"},
    ]


@pytest_twisted.ensureDeferred
async def test_copy_permissions_from_the_parent(server, engine):
    await regular(server, "alice")
    await regular(server, "bob")
    await server.call("create_user_group", group_name="devs")
    await make_group(server, "top")
    await server.call(
        "grant_user_permission_to_repo_group",
        repogroupid="top",
        userid="bob",
        perm="group.write",
    )
    await server.call(
        "grant_user_group_permission_to_repo_group",
        repogroupid="top",
        usergroupid="devs",
        perm="group.read",
    )
    await server.call(
        "grant_user_permission_to_repo_group",
        repogroupid="top",
        userid="alice",
        perm="group.read",
    )
    await make_group(
        server, "copied", parent="top", owner="alice", copy_permissions=True
    )
    await make_group(server, "plain", parent="top")
    members = (await server.call("get_repo_group", repogroupid="top/copied")).result[
        "members"
    ]
    # alice's own row is not copied: as a regular owner she gets group.admin.
    assert members == [
        DEFAULT_MEMBER,
        {"name": "bob", "type": "user", "permission": "group.write"},
        {"name": "alice", "type": "user", "permission": "group.admin"},
        {"name": "devs", "type": "user_group", "permission": "group.read"},
    ]
    plain = (await server.call("get_repo_group", repogroupid="top/plain")).result
    assert plain["members"] == [DEFAULT_MEMBER]


@pytest_twisted.ensureDeferred
async def test_regular_user_may_not_create_groups(server, engine):
    key = await regular(server)
    reply = await server.call("create_repo_group", key=key, group_name="x")
    assert reply.error == ACCESS_DENIED
    assert group_names(engine) == []


@pytest_twisted.ensureDeferred
async def test_concurrent_creations_of_one_name(server, engine):
    replies = await defer.gatherResults(
        [
            defer.Deferred.fromCoroutine(
                server.call("create_repo_group", group_name="race")
            )
            for _ in range(4)
        ]
    )
    made = [r for r in replies if r.error is None]
    assert len(made) == 1
    assert {r.error for r in replies if r.error is not None} <= {
        "repo group `race` already exist",
        "failed to create repo group `race`",
    }
    assert group_names(engine) == ["race"]
    assert listing(repos_root(server)) == ["race"]


# --- get_repo_group, get_repo_groups ---------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_repo_group_lists_direct_repositories_sorted(server, kind):
    await make_group(server, "grp")
    await create(server, "grp/zeta", kind)
    await create(server, "grp/alpha", kind)
    await create(server, "grp/sub/deep", kind)
    reply = await server.call("get_repo_group", repogroupid="grp")
    assert reply.result == {
        "group_id": 1,
        "group_name": "grp",
        "group_description": "grp",
        "parent_group": None,
        "repositories": ["grp/alpha", "grp/zeta"],
        "owner": "admin",
        "members": [DEFAULT_MEMBER],
    }
    by_id = await server.call("get_repo_group", repogroupid=1)
    assert by_id.result == reply.result
    by_digits = await server.call("get_repo_group", repogroupid="1")
    assert by_digits.result == reply.result


@pytest.mark.parametrize("ident", ["nope", 99, "99", "grp/"])
@pytest_twisted.ensureDeferred
async def test_get_unknown_repo_group(server, ident):
    await make_group(server, "grp")
    reply = await server.call("get_repo_group", repogroupid=ident)
    assert reply.error == f"repository group `{ident}` does not exist"


@pytest_twisted.ensureDeferred
async def test_get_repo_groups(server, kind):
    assert (await server.call("get_repo_groups")).result == []
    await make_group(server, "b")
    await make_group(server, "a", description="A")
    await create(server, "a/r", kind)
    await make_group(server, "c", parent="a")
    reply = await server.call("get_repo_groups")
    assert reply.result == [
        {
            "group_id": 1,
            "group_name": "b",
            "group_description": "b",
            "parent_group": None,
            "repositories": [],
            "owner": "admin",
        },
        {
            "group_id": 2,
            "group_name": "a",
            "group_description": "A",
            "parent_group": None,
            "repositories": ["a/r"],
            "owner": "admin",
        },
        {
            "group_id": 3,
            "group_name": "a/c",
            "group_description": "c",
            "parent_group": "a",
            "repositories": [],
            "owner": "admin",
        },
    ]


@pytest.mark.parametrize(
    "method, args",
    [
        ("get_repo_group", {"repogroupid": "grp"}),
        ("get_repo_groups", {}),
        ("update_repo_group", {"repogroupid": "grp", "description": "x"}),
        ("delete_repo_group", {"repogroupid": "grp"}),
    ],
)
@pytest_twisted.ensureDeferred
async def test_admin_only_methods(server, engine, method, args):
    await make_group(server, "grp")
    key = await regular(server)
    await grant_on_repo_group(server, engine, FIRST_USER_ID, "grp", "group.admin")
    reply = await server.call(method, key=key, **args)
    assert reply.error == ACCESS_DENIED
    assert group_names(engine) == ["grp"]


# --- update_repo_group -----------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_update_description(server):
    await make_group(server, "grp1", description="Group one")
    reply = await server.call(
        "update_repo_group", repogroupid="grp1", description="Group one (updated)"
    )
    assert reply.result == {
        "msg": "updated repository group ID:1 grp1",
        "repo_group": {
            "group_id": 1,
            "group_name": "grp1",
            "group_description": "Group one (updated)",
            "parent_group": None,
            "repositories": [],
            "owner": "admin",
        },
    }


@pytest_twisted.ensureDeferred
async def test_rename_moves_folders_and_everything_inside(server, engine, kind):
    await make_group(server, "old")
    await create(server, "old/repo", kind)
    await create(server, "old/sub/deep", kind)
    await create(server, "older", kind)
    # Opened, and kept open, under the old names.
    for name in ("old/repo", "old/sub/deep"):
        assert (await server.call("invalidate_cache", repoid=name)).error is None
    reply = await server.call("update_repo_group", repogroupid="old", group_name="new")
    assert reply.result["msg"] == "updated repository group ID:1 new"
    assert reply.result["repo_group"]["repositories"] == ["new/repo"]
    assert group_names(engine) == ["new", "new/sub"]
    assert listing(repos_root(server)) == ["new", "older"]
    assert listing(repos_root(server) / "new") == ["repo", "sub"]
    for name in ("new/repo", "new/sub/deep"):
        repo = (await server.call("get_repo", repoid=name)).result
        assert repo["repo_name"] == name
        # Opened from its new folder.
        opened = await server.call("invalidate_cache", repoid=name)
        assert opened.error is None, opened.error
    old = await server.call("get_repo", repoid="old/repo")
    assert old.error == "repository `old/repo` does not exist"
    sub = (await server.call("get_repo_group", repogroupid="new/sub")).result
    assert sub["parent_group"] == "new"
    assert sub["repositories"] == ["new/sub/deep"]
    # A rescan finds nothing new and nothing gone.
    rescan = await server.call("rescan_repos")
    assert rescan.result == {"added": [], "removed": []}


@pytest_twisted.ensureDeferred
async def test_move_under_another_parent_and_back_to_the_top(server, engine, kind):
    await make_group(server, "a")
    await make_group(server, "b")
    await create(server, "b/r", kind)
    moved = await server.call("update_repo_group", repogroupid="b", parent="a")
    assert moved.result["msg"] == "updated repository group ID:2 a/b"
    assert moved.result["repo_group"]["parent_group"] == "a"
    assert (repos_root(server) / "a" / "b" / "r").is_dir()
    back = await server.call("update_repo_group", repogroupid="a/b", parent="")
    assert back.result["msg"] == "updated repository group ID:2 b"
    assert back.result["repo_group"]["parent_group"] is None
    assert (await server.call("get_repo", repoid="b/r")).result["repo_name"] == "b/r"
    assert listing(repos_root(server)) == ["a", "b"]


@pytest.mark.parametrize("parent", ["a", "a/b"])
@pytest_twisted.ensureDeferred
async def test_move_into_itself_fails(server, engine, parent):
    await make_group(server, "a")
    await make_group(server, "b", parent="a")
    reply = await server.call("update_repo_group", repogroupid="a", parent=parent)
    assert reply.error == "failed to update repository group `a`"
    assert group_names(engine) == ["a", "a/b"]
    assert (repos_root(server) / "a" / "b").is_dir()


@pytest_twisted.ensureDeferred
async def test_rename_onto_a_taken_name_moves_nothing(server, engine, kind):
    await make_group(server, "a")
    await create(server, "a/r", kind)
    await create(server, "b", kind)
    reply = await server.call("update_repo_group", repogroupid="a", group_name="b")
    assert reply.error == "failed to update repository group `a`"
    assert group_names(engine) == ["a"]
    assert listing(repos_root(server)) == ["a", "b"]
    assert (await server.call("get_repo", repoid="a/r")).error is None


@pytest_twisted.ensureDeferred
async def test_rename_where_a_stray_folder_is_moves_nothing(server, engine):
    await make_group(server, "a")
    (repos_root(server) / "stray").mkdir()
    reply = await server.call("update_repo_group", repogroupid="a", group_name="stray")
    assert reply.error == "failed to update repository group `a`"
    assert group_names(engine) == ["a"]


@pytest.mark.parametrize("name", ["x/y", "..", "a b", ""])
@pytest_twisted.ensureDeferred
async def test_rename_to_an_invalid_name(server, engine, name):
    await make_group(server, "a")
    reply = await server.call("update_repo_group", repogroupid=1, group_name=name)
    assert reply.error == "failed to update repository group `1`"
    assert group_names(engine) == ["a"]


@pytest_twisted.ensureDeferred
async def test_update_owner_and_locking(server, engine):
    await regular(server, "alice")
    await make_group(server, "a")
    reply = await server.call(
        "update_repo_group", repogroupid="a", owner="alice", enable_locking=True
    )
    assert reply.result["repo_group"]["owner"] == "alice"
    with engine.connect() as c:
        assert c.execute(sa.select(t.repo_groups.c.enable_locking)).scalar() is True
    unknown = await server.call("update_repo_group", repogroupid="a", owner="ghost")
    assert unknown.error == "failed to update repository group `a`"


@pytest_twisted.ensureDeferred
async def test_update_unknown_group(server):
    reply = await server.call("update_repo_group", repogroupid="nope")
    assert reply.error == "repository group `nope` does not exist"


# --- delete_repo_group -----------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_delete_moves_the_folder_aside(server, engine):
    await make_group(server, "top")
    await make_group(server, "grp1", parent="top")
    reply = await server.call("delete_repo_group", repogroupid="top/grp1")
    assert reply.result == {
        "msg": "deleted repo group ID:2 top/grp1",
        "repo_group": None,
    }
    assert group_names(engine) == ["top"]
    assert group_grants(engine) == [("top", "default", "group.read")]
    [archived] = listing(repos_root(server) / "top")
    assert re.fullmatch(r"rm__\d{8}_\d{6}_\d{6}_GROUP_grp1", archived)
    assert (await server.call("get_repo_group", repogroupid=2)).error == (
        "repository group `2` does not exist"
    )


@pytest_twisted.ensureDeferred
async def test_delete_refuses_a_group_that_is_not_empty(server, engine, kind):
    await make_group(server, "withrepo")
    await create(server, "withrepo/r", kind)
    await make_group(server, "withgroup")
    await make_group(server, "inner", parent="withgroup")
    for group_id, name in ((1, "withrepo"), (2, "withgroup")):
        reply = await server.call("delete_repo_group", repogroupid=name)
        assert reply.error == f"failed to delete repo group ID:{group_id} {name}"
    assert group_names(engine) == ["withgroup", "withgroup/inner", "withrepo"]
    assert listing(repos_root(server)) == ["withgroup", "withrepo"]
    assert (await server.call("get_repo", repoid="withrepo/r")).error is None


@pytest_twisted.ensureDeferred
async def test_delete_unknown_group(server):
    reply = await server.call("delete_repo_group", repogroupid="nope")
    assert reply.error == "repository group `nope` does not exist"


# --- grants on repository groups (T175 to T245) ------------------------------


@pytest.mark.parametrize("perm", LEVELS)
@pytest.mark.parametrize("reach", REACHES)
@pytest_twisted.ensureDeferred
async def test_grant_user_messages(server, perm, reach):
    await make_group(server, "test_repo_group")
    reply = await server.call(
        "grant_user_permission_to_repo_group",
        repogroupid="test_repo_group",
        userid="admin",
        perm=perm,
        apply_to_children=reach,
    )
    assert reply.result == {
        "msg": f"Granted perm: `{perm}` (recursive:{reach}) for user: `admin` "
        "in repo group: `test_repo_group`",
        "success": True,
    }


async def tree(server: Any, kind: str) -> None:
    """top (with top/r), top/sub (with top/sub/r2), elsewhere (with e/r)."""
    await regular(server, "bob")
    await make_group(server, "top")
    await make_group(server, "sub", parent="top")
    await make_group(server, "elsewhere")
    await create(server, "top/r", kind)
    await create(server, "top/sub/r2", kind)
    await create(server, "elsewhere/r", kind)


@pytest.mark.parametrize(
    "reach, groups, repos",
    [
        ("none", ["top"], []),
        ("bogus", ["top"], []),
        ("groups", ["top", "top/sub"], []),
        ("repos", ["top"], ["top/r", "top/sub/r2"]),
        ("all", ["top", "top/sub"], ["top/r", "top/sub/r2"]),
    ],
)
@pytest_twisted.ensureDeferred
async def test_grant_and_revoke_reach(server, engine, kind, reach, groups, repos):
    await tree(server, kind)
    reply = await server.call(
        "grant_user_permission_to_repo_group",
        repogroupid="top",
        userid="bob",
        perm="group.write",
        apply_to_children=reach,
    )
    assert reply.result["msg"] == (
        f"Granted perm: `group.write` (recursive:{reach}) for user: `bob` "
        "in repo group: `top`"
    )
    bobs = [(g, p) for g, who, p in group_grants(engine) if who == "bob"]
    assert bobs == [(g, "group.write") for g in groups]
    assert repo_grants(engine, "bob") == [(r, "repository.write") for r in repos]
    revoked = await server.call(
        "revoke_user_permission_from_repo_group",
        repogroupid="top",
        userid="bob",
        apply_to_children=reach,
    )
    assert revoked.result == {
        "msg": f"Revoked perm (recursive:{reach}) for user: `bob` in repo group: `top`",
        "success": True,
    }
    assert [g for g, who, _ in group_grants(engine) if who == "bob"] == []
    assert repo_grants(engine, "bob") == []


@pytest_twisted.ensureDeferred
async def test_grant_on_a_group_gives_effective_permissions(server, engine, kind):
    await tree(server, kind)
    await server.call("update_repo", repoid="top/r", private=True)
    key = (await server.call("get_user", userid="bob")).result["api_key"]
    hidden = await server.call("get_repo", key=key, repoid="top/r")
    assert hidden.error == "repository `top/r` does not exist"
    await server.call(
        "grant_user_permission_to_repo_group",
        repogroupid="top",
        userid="bob",
        perm="group.read",
        apply_to_children="repos",
    )
    seen = await server.call("get_repo", key=key, repoid="top/r")
    assert seen.result["repo_name"] == "top/r"
    perms = (await server.call("get_user", key=key)).result["permissions"]
    assert perms["repositories_groups"]["top"] == "group.read"


@pytest.mark.parametrize("perm", LEVELS)
@pytest_twisted.ensureDeferred
async def test_regular_user_needs_group_admin_to_grant(server, engine, perm):
    await make_group(server, "test_repo_group")
    key = await regular(server)
    args = {"repogroupid": "test_repo_group", "userid": "admin", "perm": perm}
    denied = await server.call("grant_user_permission_to_repo_group", key=key, **args)
    assert denied.error == "repository group `test_repo_group` does not exist"
    revoke = await server.call(
        "revoke_user_permission_from_repo_group",
        key=key,
        repogroupid="test_repo_group",
        userid="admin",
    )
    assert revoke.error == "repository group `test_repo_group` does not exist"
    await grant_on_repo_group(
        server, engine, FIRST_USER_ID, "test_repo_group", "group.admin"
    )
    allowed = await server.call("grant_user_permission_to_repo_group", key=key, **args)
    assert allowed.result["msg"] == (
        f"Granted perm: `{perm}` (recursive:none) for user: `admin` "
        "in repo group: `test_repo_group`"
    )


@pytest.mark.parametrize(
    "perm, error",
    [
        ("haha.no.permission", "permission `haha.no.permission` does not exist"),
        (
            "repository.read",
            "permission `repository.read` is invalid, should start with group.",
        ),
        (None, "permission `None` does not exist"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_grant_with_a_bad_permission(server, engine, perm, error):
    await make_group(server, "test_repo_group")
    for method, subject in (
        ("grant_user_permission_to_repo_group", {"userid": "admin"}),
        ("grant_user_group_permission_to_repo_group", {"usergroupid": "devs"}),
    ):
        await server.call("create_user_group", group_name="devs")
        reply = await server.call(
            method, repogroupid="test_repo_group", perm=perm, **subject
        )
        assert reply.error == error
    assert group_grants(engine) == [("test_repo_group", "default", "group.read")]


@pytest_twisted.ensureDeferred
async def test_grant_to_unknown_user_or_on_unknown_group(server):
    await make_group(server, "g")
    reply = await server.call(
        "grant_user_permission_to_repo_group",
        repogroupid="g",
        userid="ghost",
        perm="group.read",
    )
    assert reply.error == "user `ghost` does not exist"
    reply = await server.call(
        "grant_user_permission_to_repo_group",
        repogroupid="nope",
        userid="ghost",
        perm="bad",
    )
    assert reply.error == "repository group `nope` does not exist"


@pytest.mark.parametrize("perm", LEVELS)
@pytest.mark.parametrize("reach", REACHES)
@pytest_twisted.ensureDeferred
async def test_user_group_grant_and_revoke_messages(server, engine, perm, reach):
    await make_group(server, "test_repo_group")
    await server.call("create_user_group", group_name="test_user_group")
    reply = await server.call(
        "grant_user_group_permission_to_repo_group",
        repogroupid="test_repo_group",
        usergroupid="test_user_group",
        perm=perm,
        apply_to_children=reach,
    )
    assert reply.result == {
        "msg": f"Granted perm: `{perm}` (recursive:{reach}) for user group: "
        "`test_user_group` in repo group: `test_repo_group`",
        "success": True,
    }
    assert ("test_repo_group", "test_user_group", perm) in group_grants(engine)
    revoked = await server.call(
        "revoke_user_group_permission_from_repo_group",
        repogroupid="test_repo_group",
        usergroupid="test_user_group",
        apply_to_children=reach,
    )
    assert revoked.result == {
        "msg": f"Revoked perm (recursive:{reach}) for user group: "
        "`test_user_group` in repo group: `test_repo_group`",
        "success": True,
    }
    assert group_grants(engine) == [("test_repo_group", "default", "group.read")]


@pytest_twisted.ensureDeferred
async def test_user_group_grant_checks_in_order(server, engine):
    await make_group(server, "test_repo_group")
    await server.call("create_user_group", group_name="test_user_group")
    key = await regular(server)
    method = "grant_user_group_permission_to_repo_group"
    cases = [
        (
            {"repogroupid": "nope", "usergroupid": "nope", "perm": "bad"},
            "repository group `nope` does not exist",
        ),
        (
            {"repogroupid": "test_repo_group", "usergroupid": "nope", "perm": "bad"},
            "permission `bad` does not exist",
        ),
        (
            {
                "repogroupid": "test_repo_group",
                "usergroupid": "nope",
                "perm": "group.read",
            },
            "user group `nope` does not exist",
        ),
        (
            {
                "repogroupid": "test_repo_group",
                "usergroupid": "test_user_group",
                "perm": "group.read",
            },
            "repository group `test_repo_group` does not exist",
        ),
    ]
    for args, error in cases:
        assert (await server.call(method, key=key, **args)).error == error
    await grant_on_repo_group(
        server, engine, FIRST_USER_ID, "test_repo_group", "group.admin"
    )
    # Read on the user group comes from the default user's usergroup.read.
    allowed = await server.call(
        method,
        key=key,
        repogroupid="test_repo_group",
        usergroupid="test_user_group",
        perm="group.write",
    )
    assert allowed.result["msg"] == (
        "Granted perm: `group.write` (recursive:none) for user group: "
        "`test_user_group` in repo group: `test_repo_group`"
    )
    revoked = await server.call(
        "revoke_user_group_permission_from_repo_group",
        key=key,
        repogroupid="test_repo_group",
        usergroupid="test_user_group",
    )
    assert revoked.error is None


@pytest_twisted.ensureDeferred
async def test_rename_waits_for_creations_inside(server, engine, kind):
    """A repository still being built inside the group (its row pending)
    keeps the group where it is: its build would land in the old folder."""
    await make_group(server, "a")
    await create(server, "a/building", kind)
    with engine.begin() as c:
        c.execute(t.repositories.update().values(repo_state="repo_state_pending"))
    await changed_elsewhere(server, engine)
    reply = await server.call("update_repo_group", repogroupid="a", group_name="b")
    assert reply.error == "failed to update repository group `a`"
    assert group_names(engine) == ["a"]
    assert listing(repos_root(server)) == ["a"]
    assert listing(repos_root(server) / "a") == ["building"]


@pytest_twisted.ensureDeferred
async def test_user_group_grant_reaches_repositories(server, engine, kind):
    await tree(server, kind)
    await server.call("create_user_group", group_name="devs")
    await server.call(
        "grant_user_group_permission_to_repo_group",
        repogroupid="top",
        usergroupid="devs",
        perm="group.admin",
        apply_to_children="all",
    )
    table = t.users_group_repo_to_perm
    with engine.connect() as c:
        granted = sorted(
            (name, NAME_BY_ID[permission_id])
            for name, permission_id in c.execute(
                sa.select(t.repositories.c.repo_name, table.c.permission_id).join(
                    t.repositories,
                    t.repositories.c.repo_id == table.c.repository_id,
                )
            )
        )
    assert granted == [
        ("top/r", "repository.admin"),
        ("top/sub/r2", "repository.admin"),
    ]
    devs_on_groups = [g for g, who, _ in group_grants(engine) if who == "devs"]
    assert devs_on_groups == ["top", "top/sub"]
