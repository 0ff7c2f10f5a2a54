"""The permission calculation, run directly against a real database."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from kallithead.auth.calculation import effective_permissions, global_permissions
from kallithead.auth.permissions import ID_BY_NAME
from kallithead.db import schema as t
from kallithead.tap import prepare_database

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0)


@pytest.fixture
def db(settings, engine) -> Iterator[sa.Engine]:
    prepare_database(settings)
    yield engine


def _id(c, table, column, name):
    return c.execute(
        sa.select(table.c[column[0]]).where(table.c[column[1]] == name)
    ).scalar_one()


def user(c, name: str, admin: bool = False) -> int:
    return c.execute(
        t.users.insert().values(
            username=name,
            active=True,
            admin=admin,
            firstname="",
            lastname="",
            email=f"{name}@example.com",
            api_key=name.ljust(40, "0"),
            inherit_default_permissions=True,
            created_on=NOW,
        )
    ).inserted_primary_key[0]


def default_id(c) -> int:
    return _id(c, t.users, ("user_id", "username"), "default")


def repo(
    c,
    name: str,
    owner: int,
    private: bool = False,
    default: str | None = "repository.read",
) -> int:
    repo_id = c.execute(
        t.repositories.insert().values(
            repo_name=name,
            repo_state="repo_state_created",
            repo_type="hg",
            user_id=owner,
            private=private,
            statistics=False,
            downloads=False,
            enable_locking=False,
            description="",
            created_on=NOW,
            updated_on=NOW,
            landing_revision="rev:tip",
        )
    ).inserted_primary_key[0]
    if default is not None:
        grant_repo(c, default_id(c), repo_id, default)
    return repo_id


def grant_repo(c, user_id: int, repo_id: int, perm: str) -> None:
    c.execute(
        t.repo_to_perm.insert().values(
            user_id=user_id, repository_id=repo_id, permission_id=ID_BY_NAME[perm]
        )
    )


def user_group(
    c, name: str, owner: int, members: list[int], active: bool = True
) -> int:
    group_id = c.execute(
        t.users_groups.insert().values(
            users_group_name=name,
            user_group_description="",
            users_group_active=active,
            inherit_default_permissions=True,
            user_id=owner,
            created_on=NOW,
        )
    ).inserted_primary_key[0]
    for member in members:
        c.execute(
            t.users_groups_members.insert().values(
                users_group_id=group_id, user_id=member
            )
        )
    return group_id


def grant_repo_to_group(c, group_id: int, repo_id: int, perm: str) -> None:
    c.execute(
        t.users_group_repo_to_perm.insert().values(
            users_group_id=group_id,
            repository_id=repo_id,
            permission_id=ID_BY_NAME[perm],
        )
    )


def test_regular_user_gets_the_default_users_global_permissions(db):
    with db.begin() as c:
        alice = user(c, "alice")
        assert global_permissions(c, alice, admin=False) == {
            "repository.read",
            "group.read",
            "usergroup.read",
            "hg.create.repository",
            "hg.fork.repository",
            "hg.register.manual_activate",
            "hg.extern_activate.auto",
        }


def test_admin_global_permissions_are_hg_admin_only(db):
    with db.begin() as c:
        boss = user(c, "boss", admin=True)
        assert global_permissions(c, boss, admin=True) == {"hg.admin"}


def test_group_global_permission_keeps_strongest_of_family(db):
    with db.begin() as c:
        alice = user(c, "alice")
        group = user_group(c, "creators", alice, [alice])
        c.execute(
            t.users_group_to_perm.insert().values(
                users_group_id=group,
                permission_id=ID_BY_NAME["hg.usergroup.create.true"],
            )
        )
        c.execute(
            t.user_to_perm.insert().values(
                user_id=alice, permission_id=ID_BY_NAME["hg.usergroup.create.false"]
            )
        )
        names = global_permissions(c, alice, admin=False)
        assert "hg.usergroup.create.true" in names
        assert "hg.usergroup.create.false" not in names


def test_inactive_group_global_permission_does_not_count(db):
    with db.begin() as c:
        alice = user(c, "alice")
        group = user_group(c, "sleepers", alice, [alice], active=False)
        c.execute(
            t.users_group_to_perm.insert().values(
                users_group_id=group,
                permission_id=ID_BY_NAME["hg.usergroup.create.true"],
            )
        )
        assert "hg.usergroup.create.true" not in global_permissions(c, alice, False)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("default read", "repository.read"),
        ("default none", "repository.none"),
        ("private", "repository.none"),
        ("owner of private", "repository.admin"),
        ("explicit write on private", "repository.write"),
        ("explicit none does not lower default read", "repository.read"),
        ("group write", "repository.write"),
        ("inactive group write", "repository.read"),
        ("two groups, strongest wins", "repository.admin"),
        ("group lower than explicit", "repository.write"),
        ("not a member of the group", "repository.read"),
    ],
)
def test_repository_level(db, case, expected):
    with db.begin() as c:
        owner = user(c, "owner")
        alice = user(c, "alice")
        bob = user(c, "bob")
        if case == "default read":
            r = repo(c, "r", owner)
        elif case == "default none":
            r = repo(c, "r", owner, default="repository.none")
        elif case == "private":
            r = repo(c, "r", owner, private=True, default="repository.none")
        elif case == "owner of private":
            r = repo(c, "r", alice, private=True, default="repository.none")
        elif case == "explicit write on private":
            r = repo(c, "r", owner, private=True, default="repository.none")
            grant_repo(c, alice, r, "repository.write")
        elif case == "explicit none does not lower default read":
            r = repo(c, "r", owner)
            grant_repo(c, alice, r, "repository.none")
        elif case == "group write":
            r = repo(c, "r", owner)
            grant_repo_to_group(
                c, user_group(c, "g", owner, [alice]), r, "repository.write"
            )
        elif case == "inactive group write":
            r = repo(c, "r", owner)
            group = user_group(c, "g", owner, [alice], active=False)
            grant_repo_to_group(c, group, r, "repository.write")
        elif case == "two groups, strongest wins":
            r = repo(c, "r", owner)
            grant_repo_to_group(
                c, user_group(c, "g1", owner, [alice]), r, "repository.write"
            )
            grant_repo_to_group(
                c, user_group(c, "g2", owner, [alice]), r, "repository.admin"
            )
        elif case == "group lower than explicit":
            r = repo(c, "r", owner)
            grant_repo(c, alice, r, "repository.write")
            grant_repo_to_group(
                c, user_group(c, "g", owner, [alice]), r, "repository.read"
            )
        elif case == "not a member of the group":
            r = repo(c, "r", owner)
            grant_repo_to_group(
                c, user_group(c, "g", owner, [bob]), r, "repository.admin"
            )
        assert r
        permissions = effective_permissions(c, alice, admin=False)
        assert permissions.repositories == {"r": expected}


def test_admin_has_admin_on_every_object(db):
    with db.begin() as c:
        owner = user(c, "owner")
        boss = user(c, "boss", admin=True)
        repo(c, "public", owner)
        repo(c, "hidden", owner, private=True, default="repository.none")
        user_group(c, "team", owner, [])
        permissions = effective_permissions(c, boss, admin=True)
        assert permissions.as_api() == {
            "global": ["hg.admin"],
            "repositories": {
                "public": "repository.admin",
                "hidden": "repository.admin",
            },
            "repositories_groups": {},
            "user_groups": {"team": "usergroup.admin"},
        }


def test_user_group_owner_has_admin_and_others_default(db):
    with db.begin() as c:
        owner = user(c, "owner")
        alice = user(c, "alice")
        group = user_group(c, "team", owner, [])
        c.execute(
            t.user_user_group_to_perm.insert().values(
                user_id=default_id(c),
                user_group_id=group,
                permission_id=ID_BY_NAME["usergroup.read"],
            )
        )
        assert effective_permissions(c, owner, False).user_groups == {
            "team": "usergroup.admin"
        }
        assert effective_permissions(c, alice, False).user_groups == {
            "team": "usergroup.read"
        }


def repo_group(c, name: str, owner: int, default: str | None = "group.read") -> int:
    group_id = c.execute(
        t.repo_groups.insert().values(
            group_name=name,
            group_description="",
            enable_locking=False,
            user_id=owner,
            created_on=NOW,
        )
    ).inserted_primary_key[0]
    if default is not None:
        c.execute(
            t.user_repo_group_to_perm.insert().values(
                user_id=default_id(c),
                group_id=group_id,
                permission_id=ID_BY_NAME[default],
            )
        )
    return group_id


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("default read", "group.read"),
        ("default none", "group.none"),
        ("no default row", "group.none"),
        ("owner", "group.admin"),
        ("explicit write", "group.write"),
        ("explicit none keeps default", "group.read"),
        ("active group admin", "group.admin"),
        ("inactive group admin", "group.read"),
        ("strongest of explicit and group", "group.write"),
    ],
)
def test_repository_group_level(db, case, expected):
    with db.begin() as c:
        owner = user(c, "owner")
        alice = user(c, "alice")
        g = repo_group(
            c,
            "projects",
            alice if case == "owner" else owner,
            default={"default none": "group.none", "no default row": None}.get(
                case, "group.read"
            ),
        )

        def grant_user(level):
            c.execute(
                t.user_repo_group_to_perm.insert().values(
                    user_id=alice, group_id=g, permission_id=ID_BY_NAME[level]
                )
            )

        def grant_group(level, active=True, name="team"):
            team = user_group(c, name, owner, [alice], active=active)
            c.execute(
                t.users_group_repo_group_to_perm.insert().values(
                    users_group_id=team, group_id=g, permission_id=ID_BY_NAME[level]
                )
            )

        if case == "explicit write":
            grant_user("group.write")
        elif case == "explicit none keeps default":
            grant_user("group.none")
        elif case == "active group admin":
            grant_group("group.admin")
        elif case == "inactive group admin":
            grant_group("group.admin", active=False)
        elif case == "strongest of explicit and group":
            grant_user("group.write")
            grant_group("group.read")
        levels = effective_permissions(c, alice, admin=False).repository_groups
        assert levels == {"projects": expected}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("explicit admin", "usergroup.admin"),
        ("through an active group", "usergroup.write"),
        ("through an inactive group", "usergroup.read"),
        ("through a group the user is not in", "usergroup.read"),
        ("two groups, strongest wins", "usergroup.admin"),
    ],
)
def test_user_group_level(db, case, expected):
    with db.begin() as c:
        owner = user(c, "owner")
        alice = user(c, "alice")
        bob = user(c, "bob")
        target = user_group(c, "target", owner, [])
        c.execute(
            t.user_user_group_to_perm.insert().values(
                user_id=default_id(c),
                user_group_id=target,
                permission_id=ID_BY_NAME["usergroup.read"],
            )
        )

        def grant_through(name, level, members, active=True):
            grantee = user_group(c, name, owner, members, active=active)
            c.execute(
                t.user_group_user_group_to_perm.insert().values(
                    user_group_id=grantee,
                    target_user_group_id=target,
                    permission_id=ID_BY_NAME[level],
                )
            )

        if case == "explicit admin":
            c.execute(
                t.user_user_group_to_perm.insert().values(
                    user_id=alice,
                    user_group_id=target,
                    permission_id=ID_BY_NAME["usergroup.admin"],
                )
            )
        elif case == "through an active group":
            grant_through("writers", "usergroup.write", [alice])
        elif case == "through an inactive group":
            grant_through("writers", "usergroup.write", [alice], active=False)
        elif case == "through a group the user is not in":
            grant_through("writers", "usergroup.admin", [bob])
        elif case == "two groups, strongest wins":
            grant_through("writers", "usergroup.write", [alice])
            grant_through("admins", "usergroup.admin", [alice])
        levels = effective_permissions(c, alice, admin=False).user_groups
        assert levels["target"] == expected


def test_default_user_gets_its_own_rows(db):
    """`default` stands for everyone, anonymous visitors included."""
    with db.begin() as c:
        owner = user(c, "owner")
        repo(c, "open", owner)
        repo(c, "closed", owner, private=True, default="repository.none")
        levels = effective_permissions(c, default_id(c), admin=False).repositories
        assert levels == {"open": "repository.read", "closed": "repository.none"}


def test_calculation_costs_the_same_queries_whatever_the_object_count(db):
    counts = []

    def count(*_args):
        counts[-1] += 1

    with db.begin() as c:
        owner = user(c, "owner")
        alice = user(c, "alice")
        team = user_group(c, "team", owner, [alice])
        for size in (1, 50):
            for n in range(size):
                r = repo(c, f"r{size}-{n}", owner)
                grant_repo_to_group(c, team, r, "repository.write")
            counts.append(0)
            sa.event.listen(db, "before_cursor_execute", count)
            try:
                effective_permissions(c, alice, admin=False)
            finally:
                sa.event.remove(db, "before_cursor_execute", count)
    assert counts == [7, 7]
