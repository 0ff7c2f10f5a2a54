"""The user group methods over real HTTP, against the real database.

Expected values follow API-SPEC.md (1.6, 1.7, 2.4, 3.15-3.21, 4.4, 4.5 and the
cases T138-T158) with DESIGN.md section 1: an explicit null for an optional
argument counts as omitted, and a regular user without a needed global
permission gets `Access was denied to this resource.`.

A fresh installation holds the users `default` (id 1) and `admin` (id 2) and
no user group, so the first user a test creates gets id 3 and the first user
group id 1.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import defer

from kallithead.auth.permissions import ID_BY_NAME
from kallithead.db import schema as t
from kallithead.db.access import bump_access_token

DEFAULT_ID = 1
ADMIN_ID = 2
FIRST_USER_ID = 3

ACCESS_DENIED = "Access was denied to this resource."
NOW = datetime.datetime(2026, 1, 1, 12, 0, 0)

ADMIN_MEMBER = {
    "user_id": ADMIN_ID,
    "username": "admin",
    "firstname": "Kallithea",
    "lastname": "Admin",
    "email": "admin@localhost",
    "emails": ["admin@localhost"],
    "active": True,
    "admin": True,
}


def member(
    user_id: int,
    username: str,
    *,
    firstname: str = "",
    lastname: str = "",
    active: bool = True,
    admin: bool = False,
) -> dict[str, Any]:
    """The eight-key user object of a user made by ``server.create_user``."""
    email = f"{username}@example.com"
    return {
        "user_id": user_id,
        "username": username,
        "firstname": firstname,
        "lastname": lastname,
        "email": email,
        "emails": [email],
        "active": active,
        "admin": admin,
    }


def group_object(
    group_id: int,
    name: str,
    *,
    description: str = "",
    active: bool = True,
    owner: str = "admin",
    members: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "users_group_id": group_id,
        "group_name": name,
        "group_description": description,
        "active": active,
        "owner": owner,
        "members": [] if members is None else members,
    }


async def make_group(server: Any, name: str, **extra: Any) -> dict[str, Any]:
    """Create a user group as the admin; returns the group object."""
    reply = await server.call("create_user_group", group_name=name, **extra)
    return reply.result["user_group"]


async def join(server: Any, group: Any, user: Any) -> None:
    reply = await server.call("add_user_to_user_group", usergroupid=group, userid=user)
    assert reply.result["success"] is True


async def regular(server: Any, name: str = "test-api") -> str:
    """Create a regular user; returns its API key."""
    return (await server.create_user(name))["api_key"]


# --- writing rows directly, as another process would ------------------------


async def changed_elsewhere(server: Any, engine: sa.Engine) -> None:
    """Announce rows written with the engine: bump the access token, then let
    the server poll it as its timer would."""
    with engine.begin() as c:
        bump_access_token(c)
    await server.service.users.poll_access_token()


def grant_global(engine: sa.Engine, user_id: int, perm: str) -> None:
    with engine.begin() as c:
        c.execute(
            t.user_to_perm.insert().values(
                user_id=user_id, permission_id=ID_BY_NAME[perm]
            )
        )


def grant_global_to_group(engine: sa.Engine, group_id: int, perm: str) -> None:
    with engine.begin() as c:
        c.execute(
            t.users_group_to_perm.insert().values(
                users_group_id=group_id, permission_id=ID_BY_NAME[perm]
            )
        )


def set_default_level(engine: sa.Engine, group_id: int, perm: str) -> None:
    """Change the `default` user's row on a user group."""
    table = t.user_user_group_to_perm
    with engine.begin() as c:
        changed = c.execute(
            table.update()
            .where(table.c.user_id == DEFAULT_ID, table.c.user_group_id == group_id)
            .values(permission_id=ID_BY_NAME[perm])
        ).rowcount
    assert changed == 1


def grant_user_on_group(
    engine: sa.Engine, user_id: int, group_id: int, perm: str
) -> None:
    with engine.begin() as c:
        c.execute(
            t.user_user_group_to_perm.insert().values(
                user_id=user_id, user_group_id=group_id, permission_id=ID_BY_NAME[perm]
            )
        )


def grant_group_on_group(
    engine: sa.Engine, grantee_id: int, target_id: int, perm: str
) -> None:
    """Give the user group ``grantee_id`` a level on the group ``target_id``."""
    with engine.begin() as c:
        c.execute(
            t.user_group_user_group_to_perm.insert().values(
                user_group_id=grantee_id,
                target_user_group_id=target_id,
                permission_id=ID_BY_NAME[perm],
            )
        )


def set_group_active(engine: sa.Engine, group_id: int, active: bool) -> None:
    with engine.begin() as c:
        c.execute(
            t.users_groups.update()
            .where(t.users_groups.c.users_group_id == group_id)
            .values(users_group_active=active)
        )


def repo(engine: sa.Engine, name: str, owner: int = ADMIN_ID) -> int:
    with engine.begin() as c:
        return c.execute(
            t.repositories.insert().values(
                repo_name=name,
                repo_state="repo_state_created",
                repo_type="hg",
                user_id=owner,
                private=False,
                statistics=False,
                downloads=False,
                enable_locking=False,
                description="",
                created_on=NOW,
                updated_on=NOW,
                landing_revision="rev:tip",
            )
        ).inserted_primary_key[0]


def grant_group_on_repo(
    engine: sa.Engine, group_id: int, repo_id: int, perm: str
) -> None:
    with engine.begin() as c:
        c.execute(
            t.users_group_repo_to_perm.insert().values(
                users_group_id=group_id,
                repository_id=repo_id,
                permission_id=ID_BY_NAME[perm],
            )
        )


def repo_group(engine: sa.Engine, name: str, owner: int = ADMIN_ID) -> int:
    with engine.begin() as c:
        return c.execute(
            t.repo_groups.insert().values(
                group_name=name,
                group_description="",
                enable_locking=False,
                user_id=owner,
                created_on=NOW,
            )
        ).inserted_primary_key[0]


def grant_group_on_repo_group(
    engine: sa.Engine, group_id: int, repo_group_id: int, perm: str
) -> None:
    with engine.begin() as c:
        c.execute(
            t.users_group_repo_group_to_perm.insert().values(
                users_group_id=group_id,
                group_id=repo_group_id,
                permission_id=ID_BY_NAME[perm],
            )
        )


# --- reading rows -----------------------------------------------------------


def user_rows_on_group(engine: sa.Engine, group_id: int) -> set[tuple[int, str]]:
    """(user id, permission name) of every user's row on a user group."""
    table = t.user_user_group_to_perm
    with engine.connect() as c:
        rows = c.execute(
            sa.select(table.c.user_id, t.permissions.c.permission_name)
            .join(t.permissions, t.permissions.c.permission_id == table.c.permission_id)
            .where(table.c.user_group_id == group_id)
        ).all()
    return {(row[0], row[1]) for row in rows}


def membership_rows(engine: sa.Engine, group_id: int) -> list[int]:
    members = t.users_groups_members
    with engine.connect() as c:
        return list(
            c.execute(
                sa.select(members.c.user_id)
                .where(members.c.users_group_id == group_id)
                .order_by(members.c.users_group_member_id)
            ).scalars()
        )


def groups_named(engine: sa.Engine, name: str) -> int:
    with engine.connect() as c:
        return c.execute(
            sa.select(sa.func.count())
            .select_from(t.users_groups)
            .where(t.users_groups.c.users_group_name == name)
        ).scalar_one()


def group_count(engine: sa.Engine) -> int:
    with engine.connect() as c:
        return c.execute(
            sa.select(sa.func.count()).select_from(t.users_groups)
        ).scalar_one()


def rows_where(engine: sa.Engine, table: sa.Table, column: str, value: int) -> int:
    with engine.connect() as c:
        return c.execute(
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c[column] == value)
        ).scalar_one()


# --- get_user_group (T138) --------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_user_group_by_name_lists_its_member(server):
    await make_group(server, "test_user_group")
    await join(server, "test_user_group", "admin")
    reply = await server.call("get_user_group", usergroupid="test_user_group")
    assert reply.result == group_object(1, "test_user_group", members=[ADMIN_MEMBER])


@pytest_twisted.ensureDeferred
async def test_get_user_group_by_integer_id(server):
    await make_group(server, "first")
    await make_group(server, "second", description="the second one")
    reply = await server.call("get_user_group", usergroupid=2)
    assert reply.result == group_object(2, "second", description="the second one")


@pytest_twisted.ensureDeferred
async def test_get_user_group_by_numeric_string_id(server):
    await make_group(server, "first")
    await make_group(server, "second")
    reply = await server.call("get_user_group", usergroupid="2")
    assert reply.result == group_object(2, "second")


@pytest_twisted.ensureDeferred
async def test_get_users_group_alias_with_usersgroupid_argument(server):
    await make_group(server, "devs")
    reply = await server.call("get_users_group", usersgroupid="devs")
    assert reply.result == group_object(1, "devs")


@pytest_twisted.ensureDeferred
async def test_get_user_group_accepts_usersgroupid_under_its_own_name(server):
    await make_group(server, "devs")
    reply = await server.call("get_user_group", usersgroupid=1)
    assert reply.result == group_object(1, "devs")


@pytest_twisted.ensureDeferred
async def test_get_user_group_unknown_name_does_not_exist(server):
    await make_group(server, "devs")
    reply = await server.call("get_user_group", usergroupid="false-group")
    assert reply.error == "user group `false-group` does not exist"
    assert reply.document["result"] is None


@pytest_twisted.ensureDeferred
async def test_get_user_group_unknown_integer_id_does_not_exist(server):
    await make_group(server, "devs")
    reply = await server.call("get_user_group", usergroupid=42)
    assert reply.error == "user group `42` does not exist"


@pytest_twisted.ensureDeferred
async def test_get_user_group_unknown_numeric_string_id_does_not_exist(server):
    await make_group(server, "devs")
    reply = await server.call("get_user_group", usergroupid="42")
    assert reply.error == "user group `42` does not exist"


@pytest_twisted.ensureDeferred
async def test_get_user_group_name_is_case_sensitive(server):
    await make_group(server, "devs")
    reply = await server.call("get_user_group", usergroupid="DEVS")
    assert reply.error == "user group `DEVS` does not exist"


@pytest_twisted.ensureDeferred
async def test_get_user_group_with_null_usergroupid_does_not_exist(server):
    await make_group(server, "devs")
    reply = await server.call("get_user_group", usergroupid=None)
    assert reply.error == "user group `None` does not exist"


@pytest_twisted.ensureDeferred
async def test_get_user_group_with_zero_does_not_exist(server):
    await make_group(server, "devs")
    reply = await server.call("get_user_group", usergroupid=0)
    assert reply.error == "user group `0` does not exist"


@pytest_twisted.ensureDeferred
async def test_get_user_group_without_usergroupid_is_missing_argument(server):
    reply = await server.call("get_user_group")
    assert reply.error == "Missing non optional `usergroupid` arg in JSON DATA"


# --- get_user_groups (T139) -------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_user_groups_on_fresh_install_is_empty(server):
    reply = await server.call("get_user_groups")
    assert reply.result == []


@pytest_twisted.ensureDeferred
async def test_get_user_groups_lists_every_group_in_id_order(server):
    await make_group(server, "test_user_group")
    await join(server, "test_user_group", "admin")
    await make_group(server, "test_user_group2")
    await make_group(server, "a_group_made_last", active=False)
    reply = await server.call("get_user_groups")
    assert reply.result == [
        group_object(1, "test_user_group", members=[ADMIN_MEMBER]),
        group_object(2, "test_user_group2"),
        group_object(3, "a_group_made_last", active=False),
    ]


@pytest_twisted.ensureDeferred
async def test_get_users_groups_alias(server):
    await make_group(server, "devs")
    reply = await server.call("get_users_groups")
    assert reply.result == [group_object(1, "devs")]


@pytest_twisted.ensureDeferred
async def test_get_user_groups_lists_members_in_the_order_they_joined(server):
    await server.create_user("carol", firstname="Carol", lastname="C")
    await server.create_user("alice")
    await server.create_user("bob", active=False)
    await make_group(server, "devs")
    for name in ("bob", "admin", "carol", "alice"):
        await join(server, "devs", name)
    reply = await server.call("get_user_groups")
    assert reply.result == [
        group_object(
            1,
            "devs",
            members=[
                member(5, "bob", active=False),
                ADMIN_MEMBER,
                member(3, "carol", firstname="Carol", lastname="C"),
                member(4, "alice"),
            ],
        )
    ]


# --- create_user_group (T140, T141) -----------------------------------------


@pytest_twisted.ensureDeferred
async def test_create_user_group_returns_message_and_group(server):
    reply = await server.call("create_user_group", group_name="some_new_group")
    assert reply.result == {
        "msg": "created new user group `some_new_group`",
        "user_group": group_object(1, "some_new_group"),
    }


@pytest_twisted.ensureDeferred
async def test_create_user_group_is_then_found(server):
    await server.call("create_user_group", group_name="devs", description="Developers")
    reply = await server.call("get_user_group", usergroupid="devs")
    assert reply.result == group_object(1, "devs", description="Developers")


@pytest_twisted.ensureDeferred
async def test_create_user_group_inactive(server):
    reply = await server.call("create_user_group", group_name="idle", active=False)
    assert reply.result["user_group"] == group_object(1, "idle", active=False)


@pytest_twisted.ensureDeferred
async def test_create_user_group_with_nulls_takes_the_defaults(server):
    reply = await server.call(
        "create_user_group",
        group_name="devs",
        description=None,
        owner=None,
        active=None,
    )
    assert reply.result["user_group"] == group_object(1, "devs")


@pytest_twisted.ensureDeferred
async def test_create_users_group_alias(server):
    reply = await server.call("create_users_group", group_name="devs")
    assert reply.result == {
        "msg": "created new user group `devs`",
        "user_group": group_object(1, "devs"),
    }


@pytest_twisted.ensureDeferred
async def test_create_user_group_existing_name_already_exist(server, engine):
    await make_group(server, "test_user_group")
    reply = await server.call("create_user_group", group_name="test_user_group")
    assert reply.error == "user group `test_user_group` already exist"
    assert reply.document["result"] is None
    assert groups_named(engine, "test_user_group") == 1


@pytest_twisted.ensureDeferred
async def test_create_user_group_existing_name_checked_before_owner(server):
    await make_group(server, "devs")
    reply = await server.call("create_user_group", group_name="devs", owner="nobody")
    assert reply.error == "user group `devs` already exist"


@pytest_twisted.ensureDeferred
async def test_create_user_group_with_owner_by_name(server, engine):
    await server.create_user("test_regular")
    reply = await server.call(
        "create_user_group", group_name="devs", owner="test_regular"
    )
    assert reply.result["user_group"] == group_object(1, "devs", owner="test_regular")
    assert user_rows_on_group(engine, 1) == {
        (DEFAULT_ID, "usergroup.read"),
        (FIRST_USER_ID, "usergroup.admin"),
    }


@pytest_twisted.ensureDeferred
async def test_create_user_group_with_owner_by_id(server):
    await server.create_user("test_regular")
    reply = await server.call("create_user_group", group_name="devs", owner=3)
    assert reply.result["user_group"] == group_object(1, "devs", owner="test_regular")


@pytest_twisted.ensureDeferred
async def test_create_user_group_with_unknown_owner(server, engine):
    reply = await server.call("create_user_group", group_name="devs", owner="nobody")
    assert reply.error == "user `nobody` does not exist"
    assert group_count(engine) == 0


@pytest_twisted.ensureDeferred
async def test_create_user_group_with_unknown_owner_id(server, engine):
    reply = await server.call("create_user_group", group_name="devs", owner=99)
    assert reply.error == "user `99` does not exist"
    assert group_count(engine) == 0


@pytest_twisted.ensureDeferred
async def test_create_user_group_unknown_owner_checked_before_the_name(server):
    reply = await server.call("create_user_group", group_name="", owner="nobody")
    assert reply.error == "user `nobody` does not exist"


@pytest.mark.parametrize(
    "name",
    ["", " devs", "devs ", "de\tvs", "de\nvs", "de\x00vs", "x" * 256],
)
@pytest_twisted.ensureDeferred
async def test_create_user_group_with_bad_name_fails(server, engine, name):
    reply = await server.call("create_user_group", group_name=name)
    assert reply.error == f"failed to create group `{name}`"
    assert group_count(engine) == 0


@pytest_twisted.ensureDeferred
async def test_create_user_group_with_name_of_255_characters(server):
    name = "x" * 255
    reply = await server.call("create_user_group", group_name=name)
    assert reply.result["user_group"] == group_object(1, name)


@pytest_twisted.ensureDeferred
async def test_create_user_group_without_group_name_is_missing_argument(server):
    reply = await server.call("create_user_group", description="nameless")
    assert reply.error == "Missing non optional `group_name` arg in JSON DATA"


@pytest_twisted.ensureDeferred
async def test_create_user_group_writes_default_and_owner_rows(server, engine):
    await make_group(server, "devs")
    assert user_rows_on_group(engine, 1) == {
        (DEFAULT_ID, "usergroup.read"),
        (ADMIN_ID, "usergroup.admin"),
    }


@pytest_twisted.ensureDeferred
async def test_create_user_group_default_row_follows_default_users_level(
    server, engine
):
    with engine.begin() as c:
        c.execute(
            t.user_to_perm.update()
            .where(
                t.user_to_perm.c.user_id == DEFAULT_ID,
                t.user_to_perm.c.permission_id == ID_BY_NAME["usergroup.read"],
            )
            .values(permission_id=ID_BY_NAME["usergroup.write"])
        )
    await changed_elsewhere(server, engine)
    await make_group(server, "devs")
    assert user_rows_on_group(engine, 1) == {
        (DEFAULT_ID, "usergroup.write"),
        (ADMIN_ID, "usergroup.admin"),
    }


@pytest_twisted.ensureDeferred
async def test_create_user_group_default_row_falls_back_to_read(server, engine):
    with engine.begin() as c:
        c.execute(
            t.user_to_perm.delete().where(
                t.user_to_perm.c.user_id == DEFAULT_ID,
                t.user_to_perm.c.permission_id == ID_BY_NAME["usergroup.read"],
            )
        )
    await changed_elsewhere(server, engine)
    await make_group(server, "devs")
    assert user_rows_on_group(engine, 1) == {
        (DEFAULT_ID, "usergroup.read"),
        (ADMIN_ID, "usergroup.admin"),
    }


@pytest_twisted.ensureDeferred
async def test_create_user_group_named_with_digits_is_created(server, engine):
    reply = await server.call("create_user_group", group_name="123")
    assert reply.result == {
        "msg": "created new user group `123`",
        "user_group": group_object(1, "123"),
    }
    assert groups_named(engine, "123") == 1


@pytest_twisted.ensureDeferred
async def test_group_named_with_digits_is_looked_up_by_id_not_name(server):
    # API-SPEC.md 1.6: a string of digits is always a primary-key lookup.
    await make_group(server, "123")
    reply = await server.call("get_user_group", usergroupid="123")
    assert reply.error == "user group `123` does not exist"
    reply = await server.call("get_user_group", usergroupid=1)
    assert reply.result == group_object(1, "123")


@pytest_twisted.ensureDeferred
async def test_group_named_like_another_groups_id_is_created(server):
    await make_group(server, "alpha")
    reply = await server.call("create_user_group", group_name="1")
    assert reply.result["user_group"] == group_object(2, "1")
    reply = await server.call("get_user_group", usergroupid="1")
    assert reply.result == group_object(1, "alpha")


# --- update_user_group (T143-T147) ------------------------------------------


@pytest_twisted.ensureDeferred
async def test_update_user_group_renames(server):
    await make_group(server, "test_group_for_update")
    reply = await server.call(
        "update_user_group",
        usergroupid="test_group_for_update",
        group_name="new_group_name",
    )
    assert reply.result == {
        "msg": "updated user group ID:1 new_group_name",
        "user_group": group_object(1, "new_group_name"),
    }
    reply = await server.call("get_user_group", usergroupid="test_group_for_update")
    assert reply.error == "user group `test_group_for_update` does not exist"
    reply = await server.call("get_user_group", usergroupid="new_group_name")
    assert reply.result == group_object(1, "new_group_name")


@pytest_twisted.ensureDeferred
async def test_update_user_group_to_its_own_name(server):
    await make_group(server, "test_group_for_update")
    reply = await server.call(
        "update_user_group",
        usergroupid="test_group_for_update",
        group_name="test_group_for_update",
    )
    assert reply.result == {
        "msg": "updated user group ID:1 test_group_for_update",
        "user_group": group_object(1, "test_group_for_update"),
    }


@pytest_twisted.ensureDeferred
async def test_update_user_group_owner(server):
    await server.create_user("test_regular")
    await make_group(server, "test_group_for_update")
    reply = await server.call(
        "update_user_group", usergroupid="test_group_for_update", owner="test_regular"
    )
    assert reply.result == {
        "msg": "updated user group ID:1 test_group_for_update",
        "user_group": group_object(1, "test_group_for_update", owner="test_regular"),
    }


@pytest_twisted.ensureDeferred
async def test_update_user_group_owner_by_id(server):
    await server.create_user("test_regular")
    await make_group(server, "devs")
    reply = await server.call("update_user_group", usergroupid="devs", owner=3)
    assert reply.result["user_group"] == group_object(1, "devs", owner="test_regular")


@pytest_twisted.ensureDeferred
async def test_update_user_group_deactivates(server):
    await make_group(server, "test_group_for_update")
    reply = await server.call(
        "update_user_group", usergroupid="test_group_for_update", active=False
    )
    assert reply.result == {
        "msg": "updated user group ID:1 test_group_for_update",
        "user_group": group_object(1, "test_group_for_update", active=False),
    }


@pytest_twisted.ensureDeferred
async def test_update_user_group_activates(server):
    await make_group(server, "test_group_for_update", active=False)
    reply = await server.call(
        "update_user_group", usergroupid="test_group_for_update", active=True
    )
    assert reply.result == {
        "msg": "updated user group ID:1 test_group_for_update",
        "user_group": group_object(1, "test_group_for_update"),
    }


@pytest_twisted.ensureDeferred
async def test_update_user_group_description(server):
    await make_group(server, "devs", description="Developers")
    reply = await server.call(
        "update_user_group", usergroupid="devs", description="Dev team"
    )
    assert reply.result == {
        "msg": "updated user group ID:1 devs",
        "user_group": group_object(1, "devs", description="Dev team"),
    }


@pytest_twisted.ensureDeferred
async def test_update_user_group_changes_only_what_is_supplied(server):
    await server.create_user("test_regular")
    await make_group(
        server, "devs", description="Developers", owner="test_regular", active=False
    )
    await join(server, "devs", "admin")
    reply = await server.call("update_user_group", usergroupid="devs")
    assert reply.result == {
        "msg": "updated user group ID:1 devs",
        "user_group": group_object(
            1,
            "devs",
            description="Developers",
            owner="test_regular",
            active=False,
            members=[ADMIN_MEMBER],
        ),
    }


@pytest_twisted.ensureDeferred
async def test_update_user_group_ignores_null_arguments(server):
    await make_group(server, "devs", description="Developers")
    reply = await server.call(
        "update_user_group",
        usergroupid="devs",
        group_name=None,
        description=None,
        owner=None,
        active=None,
    )
    assert reply.result["user_group"] == group_object(
        1, "devs", description="Developers"
    )


@pytest_twisted.ensureDeferred
async def test_update_user_group_by_integer_id(server):
    await make_group(server, "first")
    await make_group(server, "second")
    reply = await server.call("update_user_group", usergroupid=2, group_name="2nd")
    assert reply.result == {
        "msg": "updated user group ID:2 2nd",
        "user_group": group_object(2, "2nd"),
    }


@pytest_twisted.ensureDeferred
async def test_update_user_group_by_numeric_string_id(server):
    await make_group(server, "first")
    await make_group(server, "second")
    reply = await server.call("update_user_group", usergroupid="2", active=False)
    assert reply.result == {
        "msg": "updated user group ID:2 second",
        "user_group": group_object(2, "second", active=False),
    }


@pytest_twisted.ensureDeferred
async def test_update_users_group_alias_with_usersgroupid_argument(server):
    await make_group(server, "devs")
    reply = await server.call(
        "update_users_group", usersgroupid="devs", description="Dev team"
    )
    assert reply.result == {
        "msg": "updated user group ID:1 devs",
        "user_group": group_object(1, "devs", description="Dev team"),
    }


@pytest_twisted.ensureDeferred
async def test_update_user_group_unknown_group_does_not_exist(server):
    reply = await server.call(
        "update_user_group", usergroupid="false-group", group_name="x"
    )
    assert reply.error == "user group `false-group` does not exist"


@pytest_twisted.ensureDeferred
async def test_update_user_group_unknown_id_does_not_exist(server):
    await make_group(server, "devs")
    reply = await server.call("update_user_group", usergroupid=7, group_name="x")
    assert reply.error == "user group `7` does not exist"


@pytest_twisted.ensureDeferred
async def test_update_user_group_unknown_group_checked_before_owner(server):
    reply = await server.call(
        "update_user_group", usergroupid="false-group", owner="nobody"
    )
    assert reply.error == "user group `false-group` does not exist"


@pytest_twisted.ensureDeferred
async def test_update_user_group_unknown_owner(server):
    await make_group(server, "devs")
    reply = await server.call(
        "update_user_group", usergroupid="devs", owner="x", group_name="renamed"
    )
    assert reply.error == "user `x` does not exist"
    reply = await server.call("get_user_group", usergroupid="devs")
    assert reply.result == group_object(1, "devs")


@pytest_twisted.ensureDeferred
async def test_update_user_group_unknown_owner_checked_before_bad_name(server):
    await make_group(server, "devs")
    reply = await server.call(
        "update_user_group", usergroupid="devs", owner="x", group_name=""
    )
    assert reply.error == "user `x` does not exist"


@pytest_twisted.ensureDeferred
async def test_update_user_group_to_an_existing_name_fails(server):
    await make_group(server, "first")
    await make_group(server, "second")
    reply = await server.call(
        "update_user_group", usergroupid="second", group_name="first"
    )
    assert reply.error == "failed to update user group `second`"
    reply = await server.call("get_user_groups")
    assert reply.result == [group_object(1, "first"), group_object(2, "second")]


@pytest_twisted.ensureDeferred
async def test_update_user_group_failure_echoes_the_id_as_sent(server):
    await make_group(server, "first")
    await make_group(server, "second")
    reply = await server.call("update_user_group", usergroupid=2, group_name="first")
    assert reply.error == "failed to update user group `2`"
    reply = await server.call("update_user_group", usergroupid="2", group_name="first")
    assert reply.error == "failed to update user group `2`"


@pytest.mark.parametrize("name", ["", " devs", "devs ", "de\tvs", "x" * 256])
@pytest_twisted.ensureDeferred
async def test_update_user_group_with_bad_name_fails(server, name):
    await make_group(server, "devs")
    reply = await server.call("update_user_group", usergroupid="devs", group_name=name)
    assert reply.error == "failed to update user group `devs`"
    reply = await server.call("get_user_group", usergroupid=1)
    assert reply.result == group_object(1, "devs")


# --- delete_user_group (T156, T157) -----------------------------------------


@pytest_twisted.ensureDeferred
async def test_delete_user_group(server, engine):
    await make_group(server, "test_group")
    reply = await server.call("delete_user_group", usergroupid="test_group")
    assert reply.result == {
        "msg": "deleted user group ID:1 test_group",
        "user_group": None,
    }
    assert group_count(engine) == 0
    reply = await server.call("get_user_group", usergroupid="test_group")
    assert reply.error == "user group `test_group` does not exist"


@pytest_twisted.ensureDeferred
async def test_delete_user_group_by_integer_id(server):
    await make_group(server, "first")
    await make_group(server, "second")
    reply = await server.call("delete_user_group", usergroupid=2)
    assert reply.result == {"msg": "deleted user group ID:2 second", "user_group": None}
    reply = await server.call("get_user_groups")
    assert reply.result == [group_object(1, "first")]


@pytest_twisted.ensureDeferred
async def test_delete_user_group_by_numeric_string_id(server):
    await make_group(server, "first")
    await make_group(server, "second")
    reply = await server.call("delete_user_group", usergroupid="1")
    assert reply.result == {"msg": "deleted user group ID:1 first", "user_group": None}
    reply = await server.call("get_user_groups")
    assert reply.result == [group_object(2, "second")]


@pytest_twisted.ensureDeferred
async def test_delete_users_group_alias_with_usersgroupid_argument(server, engine):
    await make_group(server, "tmpgroup")
    reply = await server.call("delete_users_group", usersgroupid="tmpgroup")
    assert reply.result == {
        "msg": "deleted user group ID:1 tmpgroup",
        "user_group": None,
    }
    assert group_count(engine) == 0


@pytest_twisted.ensureDeferred
async def test_delete_user_group_refuses_the_old_userid_argument(server, engine):
    await make_group(server, "test_group")
    reply = await server.call(
        "delete_user_group", usergroupid="test_group", userid="admin"
    )
    assert reply.error == "Unknown `userid` arg in JSON DATA"
    assert group_count(engine) == 1


@pytest_twisted.ensureDeferred
async def test_delete_user_group_unknown_group_does_not_exist(server):
    reply = await server.call("delete_user_group", usergroupid="false-group")
    assert reply.error == "user group `false-group` does not exist"
    reply = await server.call("delete_user_group", usergroupid=5)
    assert reply.error == "user group `5` does not exist"


@pytest_twisted.ensureDeferred
async def test_delete_user_group_holding_a_repository_permission_is_refused(
    server, engine
):
    await make_group(server, "test_group")
    grant_group_on_repo(engine, 1, repo(engine, "vcs_test_hg"), "repository.write")
    await changed_elsewhere(server, engine)
    reply = await server.call("delete_user_group", usergroupid="test_group")
    assert reply.error == "User Group assigned to vcs_test_hg"
    reply = await server.call("get_user_group", usergroupid="test_group")
    assert reply.result == group_object(1, "test_group")


@pytest_twisted.ensureDeferred
async def test_delete_user_group_refusal_names_every_repository(server, engine):
    await make_group(server, "test_group")
    grant_group_on_repo(engine, 1, repo(engine, "alpha"), "repository.read")
    grant_group_on_repo(engine, 1, repo(engine, "group/beta"), "repository.none")
    await changed_elsewhere(server, engine)
    reply = await server.call("delete_user_group", usergroupid="test_group")
    assert reply.error == "User Group assigned to alpha, group/beta"


@pytest_twisted.ensureDeferred
async def test_delete_user_group_with_repo_group_permission_is_allowed(server, engine):
    await make_group(server, "test_group")
    grant_group_on_repo_group(engine, 1, repo_group(engine, "projects"), "group.read")
    await changed_elsewhere(server, engine)
    reply = await server.call("delete_user_group", usergroupid="test_group")
    assert reply.result == {
        "msg": "deleted user group ID:1 test_group",
        "user_group": None,
    }
    assert (
        rows_where(engine, t.users_group_repo_group_to_perm, "users_group_id", 1) == 0
    )


@pytest_twisted.ensureDeferred
async def test_delete_user_group_removes_its_members_and_permission_rows(
    server, engine
):
    await server.create_user("alice")
    await make_group(server, "doomed")
    await make_group(server, "other")
    await join(server, "doomed", "alice")
    await join(server, "other", "alice")
    grant_user_on_group(engine, FIRST_USER_ID, 1, "usergroup.write")
    grant_group_on_group(engine, 1, 2, "usergroup.admin")
    grant_group_on_group(engine, 2, 1, "usergroup.read")
    grant_global_to_group(engine, 1, "hg.usergroup.create.true")
    await changed_elsewhere(server, engine)

    reply = await server.call("delete_user_group", usergroupid="doomed")
    assert reply.result["msg"] == "deleted user group ID:1 doomed"

    assert rows_where(engine, t.users_groups_members, "users_group_id", 1) == 0
    assert rows_where(engine, t.user_user_group_to_perm, "user_group_id", 1) == 0
    assert rows_where(engine, t.users_group_to_perm, "users_group_id", 1) == 0
    uug = t.user_group_user_group_to_perm
    assert rows_where(engine, uug, "user_group_id", 1) == 0
    assert rows_where(engine, uug, "target_user_group_id", 1) == 0
    # The other group keeps its member and its own rows.
    assert membership_rows(engine, 2) == [FIRST_USER_ID]
    assert user_rows_on_group(engine, 2) == {
        (DEFAULT_ID, "usergroup.read"),
        (ADMIN_ID, "usergroup.admin"),
    }


@pytest_twisted.ensureDeferred
async def test_deleted_group_leaves_the_members_permission_map(server):
    key = await regular(server)
    await make_group(server, "doomed")
    await make_group(server, "kept")
    await server.call("delete_user_group", usergroupid="doomed")
    reply = await server.call("get_user", key=key)
    assert reply.result["permissions"]["user_groups"] == {"kept": "usergroup.read"}


# --- add_user_to_user_group (T149, T150, T152) ------------------------------


@pytest_twisted.ensureDeferred
async def test_add_user_to_user_group(server, engine):
    await make_group(server, "test_group")
    reply = await server.call(
        "add_user_to_user_group", usergroupid="test_group", userid="admin"
    )
    assert reply.result == {
        "success": True,
        "msg": "added member `admin` to user group `test_group`",
    }
    assert membership_rows(engine, 1) == [ADMIN_ID]


@pytest_twisted.ensureDeferred
async def test_added_member_appears_in_the_group(server):
    await server.create_user("testuser", firstname="Tested", lastname="User")
    await make_group(server, "devs")
    await join(server, "devs", "testuser")
    reply = await server.call("get_user_group", usergroupid="devs")
    assert reply.result == group_object(
        1,
        "devs",
        members=[member(3, "testuser", firstname="Tested", lastname="User")],
    )


@pytest_twisted.ensureDeferred
async def test_add_user_to_user_group_by_integer_ids(server):
    await server.create_user("alice")
    await make_group(server, "first")
    await make_group(server, "devs")
    reply = await server.call("add_user_to_user_group", usergroupid=2, userid=3)
    assert reply.result == {
        "success": True,
        "msg": "added member `alice` to user group `devs`",
    }


@pytest_twisted.ensureDeferred
async def test_add_user_to_user_group_by_numeric_string_ids(server, engine):
    await server.create_user("alice")
    await make_group(server, "first")
    await make_group(server, "devs")
    reply = await server.call("add_user_to_user_group", usergroupid="2", userid="3")
    assert reply.result == {
        "success": True,
        "msg": "added member `alice` to user group `devs`",
    }
    assert membership_rows(engine, 2) == [FIRST_USER_ID]


@pytest.mark.parametrize("method", ["add_user_user_group", "add_user_to_users_group"])
@pytest_twisted.ensureDeferred
async def test_add_user_to_user_group_aliases(server, engine, method):
    await make_group(server, "devs")
    reply = await server.call(method, usersgroupid="devs", userid="admin")
    assert reply.result == {
        "success": True,
        "msg": "added member `admin` to user group `devs`",
    }
    assert membership_rows(engine, 1) == [ADMIN_ID]


@pytest_twisted.ensureDeferred
async def test_add_user_to_unknown_user_group_does_not_exist(server):
    reply = await server.call(
        "add_user_to_user_group", usergroupid="false-group", userid="admin"
    )
    assert reply.error == "user group `false-group` does not exist"
    reply = await server.call("add_user_to_user_group", usergroupid=9, userid="admin")
    assert reply.error == "user group `9` does not exist"


@pytest_twisted.ensureDeferred
async def test_add_unknown_user_to_user_group(server, engine):
    await make_group(server, "devs")
    reply = await server.call(
        "add_user_to_user_group", usergroupid="devs", userid="nobody"
    )
    assert reply.error == "user `nobody` does not exist"
    reply = await server.call("add_user_to_user_group", usergroupid="devs", userid=77)
    assert reply.error == "user `77` does not exist"
    assert membership_rows(engine, 1) == []


@pytest_twisted.ensureDeferred
async def test_add_user_to_user_group_resolves_the_user_first(server):
    reply = await server.call(
        "add_user_to_user_group", usergroupid="false-group", userid="nobody"
    )
    assert reply.error == "user `nobody` does not exist"


@pytest_twisted.ensureDeferred
async def test_add_user_to_user_group_twice(server, engine):
    await make_group(server, "devs")
    await join(server, "devs", "admin")
    reply = await server.call(
        "add_user_to_user_group", usergroupid="devs", userid="admin"
    )
    assert reply.result == {"success": False, "msg": "User is already in that group"}
    assert membership_rows(engine, 1) == [ADMIN_ID]


# --- remove_user_from_user_group (T153, T155) -------------------------------


@pytest_twisted.ensureDeferred
async def test_remove_user_from_user_group(server, engine):
    await make_group(server, "test_group_3")
    await join(server, "test_group_3", "admin")
    reply = await server.call(
        "remove_user_from_user_group", usergroupid="test_group_3", userid="admin"
    )
    assert reply.result == {
        "success": True,
        "msg": "removed member `admin` from user group `test_group_3`",
    }
    assert membership_rows(engine, 1) == []
    reply = await server.call("get_user_group", usergroupid="test_group_3")
    assert reply.result == group_object(1, "test_group_3")


@pytest_twisted.ensureDeferred
async def test_remove_user_from_user_group_keeps_the_other_members(server, engine):
    await server.create_user("alice")
    await server.create_user("bob")
    await make_group(server, "devs")
    for name in ("alice", "admin", "bob"):
        await join(server, "devs", name)
    await server.call("remove_user_from_user_group", usergroupid="devs", userid="admin")
    assert membership_rows(engine, 1) == [3, 4]


@pytest_twisted.ensureDeferred
async def test_remove_user_from_user_group_by_integer_ids(server):
    await server.create_user("alice")
    await make_group(server, "devs")
    await join(server, "devs", "alice")
    reply = await server.call("remove_user_from_user_group", usergroupid=1, userid=3)
    assert reply.result == {
        "success": True,
        "msg": "removed member `alice` from user group `devs`",
    }


@pytest_twisted.ensureDeferred
async def test_remove_user_from_user_group_by_numeric_string_ids(server):
    await server.create_user("alice")
    await make_group(server, "devs")
    await join(server, "devs", "alice")
    reply = await server.call(
        "remove_user_from_user_group", usergroupid="1", userid="3"
    )
    assert reply.result == {
        "success": True,
        "msg": "removed member `alice` from user group `devs`",
    }


@pytest_twisted.ensureDeferred
async def test_remove_user_from_users_group_alias(server, engine):
    await make_group(server, "devs")
    await join(server, "devs", "admin")
    reply = await server.call(
        "remove_user_from_users_group", usersgroupid="devs", userid="admin"
    )
    assert reply.result == {
        "success": True,
        "msg": "removed member `admin` from user group `devs`",
    }
    assert membership_rows(engine, 1) == []


@pytest_twisted.ensureDeferred
async def test_remove_non_member_from_user_group(server):
    await server.create_user("alice")
    await make_group(server, "devs")
    await join(server, "devs", "admin")
    reply = await server.call(
        "remove_user_from_user_group", usergroupid="devs", userid="alice"
    )
    assert reply.result == {"success": False, "msg": "User wasn't in group"}


@pytest_twisted.ensureDeferred
async def test_remove_user_from_unknown_user_group_does_not_exist(server):
    reply = await server.call(
        "remove_user_from_user_group", usergroupid="false-group", userid="admin"
    )
    assert reply.error == "user group `false-group` does not exist"


@pytest_twisted.ensureDeferred
async def test_remove_unknown_user_from_user_group(server):
    await make_group(server, "devs")
    reply = await server.call(
        "remove_user_from_user_group", usergroupid="devs", userid="nobody"
    )
    assert reply.error == "user `nobody` does not exist"
    reply = await server.call(
        "remove_user_from_user_group", usergroupid="devs", userid=77
    )
    assert reply.error == "user `77` does not exist"


@pytest_twisted.ensureDeferred
async def test_remove_user_from_user_group_resolves_the_user_first(server):
    reply = await server.call(
        "remove_user_from_user_group", usergroupid=9, userid="nobody"
    )
    assert reply.error == "user `nobody` does not exist"


# --- admin's view of permissions --------------------------------------------


@pytest_twisted.ensureDeferred
async def test_admin_holds_admin_on_every_user_group(server):
    await make_group(server, "devs")
    await make_group(server, "idle", active=False)
    reply = await server.call("get_user")
    assert reply.result["permissions"]["user_groups"] == {
        "devs": "usergroup.admin",
        "idle": "usergroup.admin",
    }


# --- regular users: create_user_group ---------------------------------------


@pytest_twisted.ensureDeferred
async def test_regular_user_cannot_create_user_group_by_default(server, engine):
    key = await regular(server)
    reply = await server.call("create_user_group", key=key, group_name="mine")
    assert reply.error == ACCESS_DENIED
    assert reply.document["result"] is None
    assert group_count(engine) == 0


@pytest_twisted.ensureDeferred
async def test_regular_user_with_create_permission_creates_and_owns_group(
    server, engine
):
    key = await regular(server)
    grant_global(engine, FIRST_USER_ID, "hg.usergroup.create.true")
    await changed_elsewhere(server, engine)
    reply = await server.call("create_user_group", key=key, group_name="mine")
    assert reply.result == {
        "msg": "created new user group `mine`",
        "user_group": group_object(1, "mine", owner="test-api"),
    }
    assert user_rows_on_group(engine, 1) == {
        (DEFAULT_ID, "usergroup.read"),
        (FIRST_USER_ID, "usergroup.admin"),
    }
    reply = await server.call("get_user", key=key)
    assert reply.result["permissions"]["user_groups"] == {"mine": "usergroup.admin"}


@pytest_twisted.ensureDeferred
async def test_regular_user_creates_user_group_through_an_active_group(server, engine):
    key = await regular(server)
    await make_group(server, "creators")
    await join(server, "creators", "test-api")
    grant_global_to_group(engine, 1, "hg.usergroup.create.true")
    await changed_elsewhere(server, engine)
    reply = await server.call("create_user_group", key=key, group_name="mine")
    assert reply.result["user_group"] == group_object(2, "mine", owner="test-api")


@pytest_twisted.ensureDeferred
async def test_regular_user_cannot_create_user_group_through_an_inactive_group(
    server, engine
):
    key = await regular(server)
    await make_group(server, "creators", active=False)
    await join(server, "creators", "test-api")
    grant_global_to_group(engine, 1, "hg.usergroup.create.true")
    await changed_elsewhere(server, engine)
    reply = await server.call("create_user_group", key=key, group_name="mine")
    assert reply.error == ACCESS_DENIED
    assert group_count(engine) == 1


@pytest_twisted.ensureDeferred
async def test_regular_user_may_create_user_group_at_once_after_joining(server, engine):
    key = await regular(server)
    await make_group(server, "creators")
    grant_global_to_group(engine, 1, "hg.usergroup.create.true")
    await changed_elsewhere(server, engine)
    reply = await server.call("create_user_group", key=key, group_name="mine")
    assert reply.error == ACCESS_DENIED
    await join(server, "creators", "test-api")
    reply = await server.call("create_user_group", key=key, group_name="mine")
    assert reply.result["user_group"] == group_object(2, "mine", owner="test-api")


@pytest_twisted.ensureDeferred
async def test_regular_user_loses_create_permission_when_group_is_deactivated(
    server, engine
):
    key = await regular(server)
    await make_group(server, "creators")
    await join(server, "creators", "test-api")
    grant_global_to_group(engine, 1, "hg.usergroup.create.true")
    await changed_elsewhere(server, engine)
    await server.call("update_user_group", usergroupid="creators", active=False)
    reply = await server.call("create_user_group", key=key, group_name="mine")
    assert reply.error == ACCESS_DENIED


@pytest_twisted.ensureDeferred
async def test_regular_user_may_name_another_owner(server, engine):
    key = await regular(server)
    grant_global(engine, FIRST_USER_ID, "hg.usergroup.create.true")
    await changed_elsewhere(server, engine)
    reply = await server.call(
        "create_user_group", key=key, group_name="theirs", owner="admin"
    )
    assert reply.result["user_group"] == group_object(1, "theirs")
    # Not the owner: the `default` row's read is all it has.
    reply = await server.call(
        "update_user_group", key=key, usergroupid="theirs", description="x"
    )
    assert reply.error == "user group `theirs` does not exist"


@pytest_twisted.ensureDeferred
async def test_regular_user_create_with_unknown_owner(server, engine):
    key = await regular(server)
    grant_global(engine, FIRST_USER_ID, "hg.usergroup.create.true")
    await changed_elsewhere(server, engine)
    reply = await server.call(
        "create_user_group", key=key, group_name="mine", owner="nobody"
    )
    assert reply.error == "user `nobody` does not exist"


# --- regular users: reading -------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_regular_user_reads_user_group_with_default_read(server):
    key = await regular(server)
    await make_group(server, "devs", description="Developers")
    await join(server, "devs", "admin")
    reply = await server.call("get_user_group", key=key, usergroupid="devs")
    assert reply.result == group_object(
        1, "devs", description="Developers", members=[ADMIN_MEMBER]
    )


@pytest_twisted.ensureDeferred
async def test_regular_user_without_read_cannot_see_user_group(server, engine):
    key = await regular(server)
    await make_group(server, "devs")
    set_default_level(engine, 1, "usergroup.none")
    await changed_elsewhere(server, engine)
    reply = await server.call("get_user_group", key=key, usergroupid="devs")
    assert reply.error == "user group `devs` does not exist"
    reply = await server.call("get_user_group", key=key, usergroupid=1)
    assert reply.error == "user group `1` does not exist"


@pytest_twisted.ensureDeferred
async def test_regular_user_with_explicit_read_sees_user_group(server, engine):
    key = await regular(server)
    await make_group(server, "devs")
    set_default_level(engine, 1, "usergroup.none")
    grant_user_on_group(engine, FIRST_USER_ID, 1, "usergroup.read")
    await changed_elsewhere(server, engine)
    reply = await server.call("get_user_group", key=key, usergroupid="devs")
    assert reply.result == group_object(1, "devs")


@pytest_twisted.ensureDeferred
async def test_explicit_none_does_not_hide_group_the_default_user_reads(server, engine):
    key = await regular(server)
    await make_group(server, "devs")
    grant_user_on_group(engine, FIRST_USER_ID, 1, "usergroup.none")
    await changed_elsewhere(server, engine)
    reply = await server.call("get_user_group", key=key, usergroupid="devs")
    assert reply.result == group_object(1, "devs")


@pytest_twisted.ensureDeferred
async def test_regular_user_sees_user_group_through_an_active_group(server, engine):
    key = await regular(server)
    await make_group(server, "readers")
    await make_group(server, "secret")
    await join(server, "readers", "test-api")
    set_default_level(engine, 2, "usergroup.none")
    grant_group_on_group(engine, 1, 2, "usergroup.read")
    await changed_elsewhere(server, engine)
    reply = await server.call("get_user_group", key=key, usergroupid="secret")
    assert reply.result == group_object(2, "secret")


@pytest_twisted.ensureDeferred
async def test_regular_user_does_not_see_user_group_through_an_inactive_group(
    server, engine
):
    key = await regular(server)
    await make_group(server, "readers", active=False)
    await make_group(server, "secret")
    await join(server, "readers", "test-api")
    set_default_level(engine, 2, "usergroup.none")
    grant_group_on_group(engine, 1, 2, "usergroup.read")
    await changed_elsewhere(server, engine)
    reply = await server.call("get_user_group", key=key, usergroupid="secret")
    assert reply.error == "user group `secret` does not exist"


@pytest_twisted.ensureDeferred
async def test_grant_through_a_group_the_user_is_not_in_gives_nothing(server, engine):
    key = await regular(server)
    await make_group(server, "readers")
    await make_group(server, "secret")
    set_default_level(engine, 2, "usergroup.none")
    grant_group_on_group(engine, 1, 2, "usergroup.read")
    await changed_elsewhere(server, engine)
    reply = await server.call("get_user_group", key=key, usergroupid="secret")
    assert reply.error == "user group `secret` does not exist"


@pytest_twisted.ensureDeferred
async def test_regular_user_lists_only_the_user_groups_it_may_read(server, engine):
    key = await regular(server)
    await make_group(server, "public")
    await make_group(server, "hidden")
    await make_group(server, "granted")
    await make_group(server, "via_group")
    await make_group(server, "readers")
    await join(server, "readers", "test-api")
    for group_id in (2, 3, 4):
        set_default_level(engine, group_id, "usergroup.none")
    grant_user_on_group(engine, FIRST_USER_ID, 3, "usergroup.write")
    grant_group_on_group(engine, 5, 4, "usergroup.read")
    await changed_elsewhere(server, engine)
    reply = await server.call("get_user_groups", key=key)
    assert reply.result == [
        group_object(1, "public"),
        group_object(3, "granted"),
        group_object(4, "via_group"),
        group_object(5, "readers", members=[member(3, "test-api")]),
    ]


@pytest_twisted.ensureDeferred
async def test_regular_user_lists_the_user_group_it_owns(server, engine):
    key = await regular(server)
    await make_group(server, "mine", owner="test-api")
    set_default_level(engine, 1, "usergroup.none")
    await changed_elsewhere(server, engine)
    reply = await server.call("get_users_groups", key=key)
    assert reply.result == [group_object(1, "mine", owner="test-api")]


@pytest_twisted.ensureDeferred
async def test_regular_user_with_nothing_readable_lists_nothing(server, engine):
    key = await regular(server)
    await make_group(server, "hidden")
    set_default_level(engine, 1, "usergroup.none")
    await changed_elsewhere(server, engine)
    reply = await server.call("get_user_groups", key=key)
    assert reply.result == []


# --- regular users: managing ------------------------------------------------


@pytest.mark.parametrize("level", [None, "usergroup.read", "usergroup.write"])
@pytest_twisted.ensureDeferred
async def test_regular_user_without_admin_level_cannot_update(server, engine, level):
    key = await regular(server)
    await make_group(server, "devs")
    if level is not None:
        grant_user_on_group(engine, FIRST_USER_ID, 1, level)
        await changed_elsewhere(server, engine)
    reply = await server.call(
        "update_user_group", key=key, usergroupid="devs", description="mine now"
    )
    assert reply.error == "user group `devs` does not exist"
    reply = await server.call("get_user_group", usergroupid="devs")
    assert reply.result == group_object(1, "devs")


@pytest_twisted.ensureDeferred
async def test_regular_user_with_admin_level_updates(server, engine):
    key = await regular(server)
    await make_group(server, "devs")
    grant_user_on_group(engine, FIRST_USER_ID, 1, "usergroup.admin")
    await changed_elsewhere(server, engine)
    reply = await server.call(
        "update_user_group", key=key, usergroupid="devs", group_name="renamed"
    )
    assert reply.result == {
        "msg": "updated user group ID:1 renamed",
        "user_group": group_object(1, "renamed"),
    }


@pytest.mark.parametrize("level", ["usergroup.read", "usergroup.write"])
@pytest_twisted.ensureDeferred
async def test_regular_user_without_admin_level_cannot_delete(server, engine, level):
    key = await regular(server)
    await make_group(server, "devs")
    grant_user_on_group(engine, FIRST_USER_ID, 1, level)
    await changed_elsewhere(server, engine)
    reply = await server.call("delete_user_group", key=key, usergroupid="devs")
    assert reply.error == "user group `devs` does not exist"
    assert group_count(engine) == 1


@pytest.mark.parametrize("level", ["usergroup.read", "usergroup.write"])
@pytest_twisted.ensureDeferred
async def test_regular_user_without_admin_level_cannot_add_member(
    server, engine, level
):
    key = await regular(server)
    await make_group(server, "devs")
    grant_user_on_group(engine, FIRST_USER_ID, 1, level)
    await changed_elsewhere(server, engine)
    reply = await server.call(
        "add_user_to_user_group", key=key, usergroupid="devs", userid="test-api"
    )
    assert reply.error == "user group `devs` does not exist"
    assert membership_rows(engine, 1) == []


@pytest.mark.parametrize("level", ["usergroup.read", "usergroup.write"])
@pytest_twisted.ensureDeferred
async def test_regular_user_without_admin_level_cannot_remove_member(
    server, engine, level
):
    key = await regular(server)
    await make_group(server, "devs")
    await join(server, "devs", "admin")
    grant_user_on_group(engine, FIRST_USER_ID, 1, level)
    await changed_elsewhere(server, engine)
    reply = await server.call(
        "remove_user_from_user_group", key=key, usergroupid="devs", userid="admin"
    )
    assert reply.error == "user group `devs` does not exist"
    assert membership_rows(engine, 1) == [ADMIN_ID]


@pytest_twisted.ensureDeferred
async def test_regular_user_adding_unknown_user_learns_of_the_user_first(server):
    key = await regular(server)
    await make_group(server, "devs")
    reply = await server.call(
        "add_user_to_user_group", key=key, usergroupid="devs", userid="nobody"
    )
    assert reply.error == "user `nobody` does not exist"


@pytest_twisted.ensureDeferred
async def test_owner_manages_its_user_group(server, engine):
    key = await regular(server)
    await server.create_user("alice")
    await make_group(server, "team", owner="test-api")
    reply = await server.call(
        "add_user_to_user_group", key=key, usergroupid="team", userid="alice"
    )
    assert reply.result == {
        "success": True,
        "msg": "added member `alice` to user group `team`",
    }
    reply = await server.call(
        "update_user_group", key=key, usergroupid="team", description="Team"
    )
    assert reply.result["user_group"] == group_object(
        1,
        "team",
        description="Team",
        owner="test-api",
        members=[member(4, "alice")],
    )
    reply = await server.call(
        "remove_user_from_user_group", key=key, usergroupid="team", userid="alice"
    )
    assert reply.result == {
        "success": True,
        "msg": "removed member `alice` from user group `team`",
    }
    reply = await server.call("delete_user_group", key=key, usergroupid="team")
    assert reply.result == {"msg": "deleted user group ID:1 team", "user_group": None}
    assert group_count(engine) == 0


@pytest_twisted.ensureDeferred
async def test_owner_manages_group_even_without_its_explicit_row(server, engine):
    key = await regular(server)
    await make_group(server, "team", owner="test-api")
    table = t.user_user_group_to_perm
    with engine.begin() as c:
        c.execute(table.delete().where(table.c.user_id == FIRST_USER_ID))
    set_default_level(engine, 1, "usergroup.none")
    await changed_elsewhere(server, engine)
    reply = await server.call(
        "update_user_group", key=key, usergroupid="team", active=False
    )
    assert reply.result["user_group"] == group_object(
        1, "team", owner="test-api", active=False
    )


@pytest_twisted.ensureDeferred
async def test_new_owner_may_manage_the_group_at_once(server, engine):
    key = await regular(server)
    await make_group(server, "devs")
    set_default_level(engine, 1, "usergroup.none")
    await changed_elsewhere(server, engine)
    reply = await server.call("get_user_group", key=key, usergroupid="devs")
    assert reply.error == "user group `devs` does not exist"
    await server.call("update_user_group", usergroupid="devs", owner="test-api")
    reply = await server.call("delete_user_group", key=key, usergroupid="devs")
    assert reply.result == {"msg": "deleted user group ID:1 devs", "user_group": None}


@pytest_twisted.ensureDeferred
async def test_admin_level_through_an_active_group_allows_managing(server, engine):
    key = await regular(server)
    await make_group(server, "managers")
    await make_group(server, "target")
    await join(server, "managers", "test-api")
    grant_group_on_group(engine, 1, 2, "usergroup.admin")
    await changed_elsewhere(server, engine)
    reply = await server.call(
        "add_user_to_user_group", key=key, usergroupid="target", userid="admin"
    )
    assert reply.result == {
        "success": True,
        "msg": "added member `admin` to user group `target`",
    }


# --- memberships and effective permissions ----------------------------------


@pytest_twisted.ensureDeferred
async def test_joining_a_group_raises_the_members_level(server, engine):
    key = await regular(server)
    await make_group(server, "managers")
    await make_group(server, "target")
    grant_group_on_group(engine, 1, 2, "usergroup.admin")
    await changed_elsewhere(server, engine)
    reply = await server.call("get_user", key=key)
    assert reply.result["permissions"]["user_groups"] == {
        "managers": "usergroup.read",
        "target": "usergroup.read",
    }
    await join(server, "managers", "test-api")
    reply = await server.call("get_user", key=key)
    assert reply.result["permissions"]["user_groups"] == {
        "managers": "usergroup.read",
        "target": "usergroup.admin",
    }
    reply = await server.call(
        "update_user_group", key=key, usergroupid="target", description="managed"
    )
    assert reply.result["user_group"] == group_object(
        2, "target", description="managed"
    )


@pytest_twisted.ensureDeferred
async def test_leaving_a_group_drops_the_level_it_gave(server, engine):
    key = await regular(server)
    await make_group(server, "managers")
    await make_group(server, "target")
    await join(server, "managers", "test-api")
    grant_group_on_group(engine, 1, 2, "usergroup.admin")
    await changed_elsewhere(server, engine)
    await server.call(
        "remove_user_from_user_group", usergroupid="managers", userid="test-api"
    )
    reply = await server.call("get_user", key=key)
    assert reply.result["permissions"]["user_groups"]["target"] == "usergroup.read"
    reply = await server.call(
        "update_user_group", key=key, usergroupid="target", description="x"
    )
    assert reply.error == "user group `target` does not exist"


@pytest_twisted.ensureDeferred
async def test_deactivating_a_group_drops_the_level_it_gave(server, engine):
    key = await regular(server)
    await make_group(server, "managers")
    await make_group(server, "target")
    await join(server, "managers", "test-api")
    grant_group_on_group(engine, 1, 2, "usergroup.write")
    await changed_elsewhere(server, engine)
    reply = await server.call("get_user", key=key)
    assert reply.result["permissions"]["user_groups"]["target"] == "usergroup.write"
    await server.call("update_user_group", usergroupid="managers", active=False)
    reply = await server.call("get_user", key=key)
    assert reply.result["permissions"]["user_groups"]["target"] == "usergroup.read"


@pytest_twisted.ensureDeferred
async def test_renamed_group_appears_under_its_new_name(server):
    key = await regular(server)
    await make_group(server, "old")
    await server.call("update_user_group", usergroupid="old", group_name="new")
    reply = await server.call("get_user", key=key)
    assert reply.result["permissions"]["user_groups"] == {"new": "usergroup.read"}


@pytest_twisted.ensureDeferred
async def test_strongest_grant_wins_between_user_and_group_rows(server, engine):
    key = await regular(server)
    await make_group(server, "helpers")
    await make_group(server, "target")
    await join(server, "helpers", "test-api")
    set_default_level(engine, 2, "usergroup.none")
    grant_user_on_group(engine, FIRST_USER_ID, 2, "usergroup.read")
    grant_group_on_group(engine, 1, 2, "usergroup.write")
    await changed_elsewhere(server, engine)
    reply = await server.call("get_user", key=key)
    assert reply.result["permissions"]["user_groups"]["target"] == "usergroup.write"


# --- concurrency ------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_concurrent_adds_of_the_same_user_add_it_once(server, engine):
    await server.create_user("alice")
    await make_group(server, "devs")
    calls = [
        defer.ensureDeferred(
            server.call("add_user_to_user_group", usergroupid="devs", userid="alice")
        )
        for _ in range(6)
    ]
    replies = await defer.gatherResults(calls)
    results = [reply.result for reply in replies]
    added = {"success": True, "msg": "added member `alice` to user group `devs`"}
    already = {"success": False, "msg": "User is already in that group"}
    assert results.count(added) == 1
    assert results.count(already) == 5
    assert membership_rows(engine, 1) == [FIRST_USER_ID]


@pytest_twisted.ensureDeferred
async def test_concurrent_creates_of_the_same_name_create_one(server, engine):
    calls = [
        defer.ensureDeferred(server.call("create_user_group", group_name="racers"))
        for _ in range(6)
    ]
    replies = await defer.gatherResults(calls)
    successes = [reply for reply in replies if reply.error is None]
    failures = [reply for reply in replies if reply.error is not None]
    assert len(successes) == 1
    assert successes[0].result["msg"] == "created new user group `racers`"
    assert [reply.error for reply in failures] == [
        "user group `racers` already exist"
    ] * 5
    assert all(reply.document["result"] is None for reply in failures)
    assert groups_named(engine, "racers") == 1
