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
