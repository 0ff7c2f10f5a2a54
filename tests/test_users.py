"""The user methods: get_user, get_users, create_user, update_user, delete_user.

Expected values come from API-SPEC.md (sections 1.5, 1.6, 2.2, 2.3, 3.10-3.14
and the cases T017-T046) as amended by DESIGN.md section 1: an explicit null
for an optional argument means "omitted", user objects carry the detailed
keys, and admin-only methods answer `Access was denied to this resource.`.

A fresh installation holds `default` (id 1) and `admin` (id 2), so the first
user a test creates gets id 3.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import bcrypt
import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import defer

from kallithead.db import schema as t

DEFAULT_ID = 1
ADMIN_ID = 2
FIRST_NEW_ID = 3

ACCESS_DENIED = "Access was denied to this resource."
NOT_SAME_USER = "userid is not the same as your user"

# Kallithea 0.7.0's global defaults for a regular user (API-SPEC.md errata).
DEFAULT_GLOBAL_PERMISSIONS = {
    "repository.read",
    "group.read",
    "usergroup.read",
    "hg.create.repository",
    "hg.fork.repository",
    "hg.register.manual_activate",
    "hg.extern_activate.auto",
}

ADMIN_PERMISSIONS = {
    "global": ["hg.admin"],
    "repositories": {},
    "repositories_groups": {},
    "user_groups": {},
}

API_KEY = re.compile(r"[0-9a-f]{40}\Z")


def expected_user(
    user_id: int,
    username: str,
    email: str,
    *,
    firstname: str = "",
    lastname: str = "",
    active: bool = True,
    admin: bool = False,
    extern_type: str | None = "internal",
    extern_name: str | None = None,
    ldap_dn: str | None = None,
) -> dict[str, Any]:
    """A user object as the API must show it, without its two key fields."""
    return {
        "user_id": user_id,
        "username": username,
        "firstname": firstname,
        "lastname": lastname,
        "email": email,
        "emails": [email],
        "active": active,
        "admin": admin,
        "ip_addresses": [],
        "last_login": None,
        "extern_type": extern_type,
        "extern_name": extern_name,
        "ldap_dn": ldap_dn,
    }


def without_keys(user: dict[str, Any]) -> dict[str, Any]:
    """Check the user's key fields, then drop them so the rest compares literally.

    A user has one main key (40 lowercase hex characters) and, until extra
    keys are added, `api_keys` holds just that one.
    """
    assert API_KEY.match(user["api_key"]), user["api_key"]
    assert user["api_keys"] == [user["api_key"]]
    return {k: v for k, v in user.items() if k not in ("api_key", "api_keys")}


def admin_object(server: Any) -> dict[str, Any]:
    """The bootstrap administrator, keys included."""
    return {
        "user_id": ADMIN_ID,
        "username": "admin",
        "firstname": "Kallithea",
        "lastname": "Admin",
        "email": "admin@localhost",
        "emails": ["admin@localhost"],
        "active": True,
        "admin": True,
        "api_key": server.admin_key,
        "api_keys": [server.admin_key],
        "ip_addresses": [],
        "last_login": None,
        "extern_type": "internal",
        "extern_name": None,
        "ldap_dn": None,
    }


def user_row(engine: sa.Engine, username: str) -> Any:
    with engine.connect() as c:
        return c.execute(
            sa.select(t.users).where(t.users.c.username == username)
        ).first()


def count_users_named(engine: sa.Engine, username: str) -> int:
    with engine.connect() as c:
        return c.execute(
            sa.select(sa.func.count())
            .select_from(t.users)
            .where(t.users.c.username == username)
        ).scalar_one()


def user_count(engine: sa.Engine) -> int:
    with engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(t.users)).scalar_one()


def add_extra_email(engine: sa.Engine, user_id: int, email: str) -> None:
    with engine.begin() as c:
        c.execute(t.user_email_map.insert().values(user_id=user_id, email=email))


async def make_test_api(server: Any, **extra: Any) -> dict[str, Any]:
    """The suite's regular user `test-api` (API-SPEC.md 7.0)."""
    extra.setdefault("email", "test@example.com")
    extra.setdefault("firstname", "first")
    extra.setdefault("lastname", "last")
    return await server.create_user("test-api", **extra)


def expected_test_api(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"firstname": "first", "lastname": "last"}
    fields.update(changes)
    email = fields.pop("email", "test@example.com")
    return expected_user(FIRST_NEW_ID, "test-api", email, **fields)


# --- get_users --------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_users_on_fresh_install_lists_only_admin(server):
    reply = await server.call("get_users")
    assert reply.result == [admin_object(server)]


@pytest_twisted.ensureDeferred
async def test_get_users_excludes_default_and_orders_by_username(server):
    for name in ("mike", "bravo", "zulu", "alpha"):
        await server.create_user(name)
    reply = await server.call("get_users")
    names = [user["username"] for user in reply.result]
    assert names == ["admin", "alpha", "bravo", "mike", "zulu"]


@pytest_twisted.ensureDeferred
async def test_get_users_shows_created_user_object(server):
    await server.create_user("alice", email="alice@example.com", firstname="Al")
    reply = await server.call("get_users")
    assert without_keys(reply.result[1]) == expected_user(
        FIRST_NEW_ID, "alice", "alice@example.com", firstname="Al"
    )


@pytest_twisted.ensureDeferred
async def test_get_users_lists_main_email_then_extra_emails(server, engine):
    await server.create_user("alice", email="alice@example.com")
    add_extra_email(engine, FIRST_NEW_ID, "second@example.com")
    add_extra_email(engine, FIRST_NEW_ID, "another@example.com")
    reply = await server.call("get_users")
    assert reply.result[1]["email"] == "alice@example.com"
    assert reply.result[1]["emails"] == [
        "alice@example.com",
        "second@example.com",
        "another@example.com",
    ]


@pytest_twisted.ensureDeferred
async def test_get_users_refused_to_regular_user(server):
    user = await make_test_api(server)
    reply = await server.call("get_users", key=user["api_key"])
    assert reply.error == ACCESS_DENIED
    assert reply.document["result"] is None


# --- get_user ---------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_user_by_name_returns_user_with_permissions(server):
    reply = await server.call("get_user", userid="admin")
    assert reply.result == {**admin_object(server), "permissions": ADMIN_PERMISSIONS}


@pytest_twisted.ensureDeferred
async def test_get_user_unknown_name_does_not_exist(server):
    reply = await server.call("get_user", userid="trololo")
    assert reply.error == "user `trololo` does not exist"
    assert reply.document["result"] is None


@pytest_twisted.ensureDeferred
async def test_get_user_without_userid_returns_caller(server):
    reply = await server.call("get_user")
    assert reply.result == {**admin_object(server), "permissions": ADMIN_PERMISSIONS}


@pytest_twisted.ensureDeferred
async def test_get_user_with_null_userid_returns_caller(server):
    reply = await server.call("get_user", userid=None)
    assert reply.result["username"] == "admin"
    assert reply.result["user_id"] == ADMIN_ID


@pytest_twisted.ensureDeferred
async def test_get_user_by_integer_id(server):
    reply = await server.call("get_user", userid=ADMIN_ID)
    assert reply.result == {**admin_object(server), "permissions": ADMIN_PERMISSIONS}


@pytest_twisted.ensureDeferred
async def test_get_user_by_numeric_string_id(server):
    reply = await server.call("get_user", userid="2")
    assert reply.result["username"] == "admin"
    assert reply.result["user_id"] == ADMIN_ID


@pytest_twisted.ensureDeferred
async def test_get_user_numeric_string_is_never_a_name(server):
    # A user called "3" cannot be reached by name: "3" is an id (1.6).
    # Both are admins so that get_user only exercises the lookup.
    await server.create_user("3", email="three@example.com", admin=True)
    await server.create_user("bob", admin=True)
    reply = await server.call("get_user", userid="3")
    assert reply.result["username"] == "3"
    reply = await server.call("get_user", userid="4")
    assert reply.result["username"] == "bob"


@pytest_twisted.ensureDeferred
async def test_get_user_unknown_id_does_not_exist(server):
    reply = await server.call("get_user", userid=999)
    assert reply.error == "user `999` does not exist"


@pytest_twisted.ensureDeferred
async def test_get_user_name_lookup_is_case_sensitive(server):
    reply = await server.call("get_user", userid="ADMIN")
    assert reply.error == "user `ADMIN` does not exist"


@pytest_twisted.ensureDeferred
async def test_get_user_rejects_list_userid(server):
    reply = await server.call("get_user", userid=[1])
    assert reply.error == "Invalid `userid` arg in JSON DATA: expected an id or a name"


@pytest_twisted.ensureDeferred
async def test_get_user_of_created_admin_has_only_hg_admin(server):
    await server.create_user("boss", admin=True)
    reply = await server.call("get_user", userid="boss")
    assert reply.result["admin"] is True
    assert reply.result["permissions"] == ADMIN_PERMISSIONS


@pytest_twisted.ensureDeferred
async def test_get_user_of_regular_user_has_default_global_permissions(server):
    await make_test_api(server)
    reply = await server.call("get_user", userid=FIRST_NEW_ID)
    permissions = reply.result["permissions"]
    assert sorted(permissions) == [
        "global",
        "repositories",
        "repositories_groups",
        "user_groups",
    ]
    assert len(permissions["global"]) == 7
    assert set(permissions["global"]) == DEFAULT_GLOBAL_PERMISSIONS
    assert permissions["repositories"] == {}
    assert permissions["repositories_groups"] == {}
    assert permissions["user_groups"] == {}


@pytest_twisted.ensureDeferred
async def test_regular_user_get_user_without_userid_returns_itself(server):
    user = await make_test_api(server)
    reply = await server.call("get_user", key=user["api_key"])
    result = reply.result
    permissions = result.pop("permissions")
    assert result["api_key"] == user["api_key"]
    assert without_keys(result) == expected_test_api()
    assert set(permissions["global"]) == DEFAULT_GLOBAL_PERMISSIONS


@pytest_twisted.ensureDeferred
async def test_regular_user_get_user_with_own_integer_id(server):
    user = await make_test_api(server)
    reply = await server.call("get_user", key=user["api_key"], userid=FIRST_NEW_ID)
    assert reply.result["username"] == "test-api"
    assert reply.result["api_key"] == user["api_key"]


@pytest_twisted.ensureDeferred
async def test_regular_user_get_user_with_own_name_is_refused(server):
    user = await make_test_api(server)
    reply = await server.call("get_user", key=user["api_key"], userid="test-api")
    assert reply.error == NOT_SAME_USER


@pytest_twisted.ensureDeferred
async def test_regular_user_get_user_with_own_id_as_string_is_refused(server):
    user = await make_test_api(server)
    reply = await server.call("get_user", key=user["api_key"], userid="3")
    assert reply.error == NOT_SAME_USER


@pytest_twisted.ensureDeferred
async def test_regular_user_get_user_of_other_user_is_refused(server):
    user = await make_test_api(server)
    reply = await server.call("get_user", key=user["api_key"], userid="admin")
    assert reply.error == NOT_SAME_USER


@pytest_twisted.ensureDeferred
async def test_regular_user_get_user_of_other_id_is_refused(server):
    user = await make_test_api(server)
    reply = await server.call("get_user", key=user["api_key"], userid=ADMIN_ID)
    assert reply.error == NOT_SAME_USER


@pytest_twisted.ensureDeferred
async def test_regular_user_naming_unknown_user_gets_not_same_first(server):
    user = await make_test_api(server)
    reply = await server.call("get_user", key=user["api_key"], userid="ghost")
    assert reply.error == NOT_SAME_USER


# --- create_user ------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_create_user_rejects_existing_username(server, engine):
    reply = await server.call(
        "create_user", username="admin", email="test@foo.com", password="trololo"
    )
    assert reply.error == "user `admin` already exist"
    assert user_count(engine) == 2


@pytest_twisted.ensureDeferred
async def test_create_user_rejects_username_differing_only_in_case(server, engine):
    reply = await server.call("create_user", username="Admin", email="x@foo.com")
    assert reply.error == "user `Admin` already exist"
    admin = user_row(engine, "admin")
    assert admin.email == "admin@localhost"
    assert admin.firstname == "Kallithea"
    assert count_users_named(engine, "Admin") == 0


@pytest_twisted.ensureDeferred
async def test_create_user_rejects_existing_email(server, engine):
    await server.create_user("test_regular", email="test_regular@mail.com")
    reply = await server.call(
        "create_user",
        username="test_adminnew",
        email="test_regular@mail.com",
        password="trololo",
    )
    assert reply.error == "email `test_regular@mail.com` already exist"
    assert count_users_named(engine, "test_adminnew") == 0


@pytest_twisted.ensureDeferred
async def test_create_user_rejects_duplicate_email_in_other_case(server, engine):
    reply = await server.call(
        "create_user", username="newcomer", email="Admin@LOCALHOST"
    )
    assert reply.error == "email `Admin@LOCALHOST` already exist"
    assert count_users_named(engine, "newcomer") == 0


@pytest_twisted.ensureDeferred
async def test_create_user_rejects_email_used_as_someones_extra_email(server, engine):
    add_extra_email(engine, ADMIN_ID, "boss@example.com")
    reply = await server.call(
        "create_user", username="newcomer", email="BOSS@example.com"
    )
    assert reply.error == "email `BOSS@example.com` already exist"


@pytest_twisted.ensureDeferred
async def test_create_user_returns_message_and_new_user(server):
    reply = await server.call(
        "create_user",
        username="test_new_api_user",
        email="test_new_api_user@foo.com",
        password="trololo",
    )
    result = reply.result
    assert sorted(result) == ["msg", "user"]
    assert result["msg"] == "created new user `test_new_api_user`"
    assert without_keys(result["user"]) == expected_user(
        FIRST_NEW_ID, "test_new_api_user", "test_new_api_user@foo.com"
    )


@pytest_twisted.ensureDeferred
async def test_create_user_stores_password_as_bcrypt_hash(server, engine):
    await server.call(
        "create_user", username="pw", email="pw@example.com", password="s3cret!"
    )
    stored = user_row(engine, "pw").password
    assert stored.startswith("$2b$")
    assert "s3cret!" not in stored
    assert bcrypt.checkpw(b"s3cret!", stored.encode())
    assert not bcrypt.checkpw(b"wrong", stored.encode())


@pytest_twisted.ensureDeferred
async def test_create_user_without_password_stores_none(server, engine):
    reply = await server.call(
        "create_user",
        username="test_new_api_user_passwordless",
        email="passwordless@foo.com",
    )
    result = reply.result
    assert result["msg"] == "created new user `test_new_api_user_passwordless`"
    assert without_keys(result["user"]) == expected_user(
        FIRST_NEW_ID, "test_new_api_user_passwordless", "passwordless@foo.com"
    )
    assert user_row(engine, "test_new_api_user_passwordless").password is None


@pytest_twisted.ensureDeferred
async def test_create_user_with_extern_name_internal(server):
    reply = await server.call(
        "create_user",
        username="test_new_api_user",
        email="test_new_api_user@foo.com",
        extern_name="internal",
    )
    assert reply.result["msg"] == "created new user `test_new_api_user`"
    assert without_keys(reply.result["user"]) == expected_user(
        FIRST_NEW_ID,
        "test_new_api_user",
        "test_new_api_user@foo.com",
        extern_name="internal",
    )


@pytest_twisted.ensureDeferred
async def test_create_user_stores_all_given_fields(server):
    user = await server.create_user(
        "boss",
        email="boss@example.com",
        firstname="Big",
        lastname="Boss",
        admin=True,
        extern_type="ldap",
        extern_name="uid=boss,dc=example",
    )
    assert without_keys(user) == expected_user(
        FIRST_NEW_ID,
        "boss",
        "boss@example.com",
        firstname="Big",
        lastname="Boss",
        admin=True,
        extern_type="ldap",
        extern_name="uid=boss,dc=example",
        ldap_dn="uid=boss,dc=example",
    )


@pytest_twisted.ensureDeferred
async def test_create_user_lowercases_email(server, engine):
    user = await server.create_user("mixed", email="Mixed.Case@Example.COM")
    assert user["email"] == "mixed.case@example.com"
    assert user["emails"] == ["mixed.case@example.com"]
    assert user_row(engine, "mixed").email == "mixed.case@example.com"


@pytest_twisted.ensureDeferred
async def test_create_user_with_null_optionals_uses_defaults(server, engine):
    user = await server.create_user(
        "nulls",
        password=None,
        firstname=None,
        lastname=None,
        active=None,
        admin=None,
        extern_name=None,
        extern_type=None,
    )
    assert without_keys(user) == expected_user(
        FIRST_NEW_ID, "nulls", "nulls@example.com"
    )
    assert user_row(engine, "nulls").password is None


@pytest_twisted.ensureDeferred
async def test_create_user_gives_each_user_its_own_key(server):
    first = await server.create_user("one")
    second = await server.create_user("two")
    keys = {server.admin_key, first["api_key"], second["api_key"]}
    assert len(keys) == 3


@pytest_twisted.ensureDeferred
async def test_created_user_key_authenticates(server):
    user = await server.create_user("worker")
    # Refused for lack of rights, not for the key: the key was accepted.
    reply = await server.call("get_users", key=user["api_key"])
    assert reply.error == ACCESS_DENIED


@pytest_twisted.ensureDeferred
async def test_created_inactive_user_cannot_call_api(server):
    user = await server.create_user("sleeper", active=False)
    assert user["active"] is False
    reply = await server.call("get_users", key=user["api_key"])
    assert reply.error == "Invalid API key"


@pytest_twisted.ensureDeferred
async def test_create_user_accepts_boolean_words(server):
    user = await server.create_user("worded", active="no", admin="yes")
    assert user["active"] is False
    assert user["admin"] is True


@pytest_twisted.ensureDeferred
async def test_create_user_rejects_non_string_username(server, engine):
    reply = await server.call("create_user", username=5, email="five@example.com")
    assert reply.error == "Invalid `username` arg in JSON DATA: expected a string"
    assert user_count(engine) == 2


@pytest_twisted.ensureDeferred
async def test_create_user_rejects_non_boolean_active(server, engine):
    reply = await server.call(
        "create_user", username="maybe", email="maybe@example.com", active="maybe"
    )
    assert reply.error == "Invalid `active` arg in JSON DATA: expected a boolean"
    assert count_users_named(engine, "maybe") == 0


@pytest_twisted.ensureDeferred
async def test_create_user_requires_email(server):
    reply = await server.call("create_user", username="nomail")
    assert reply.error == "Missing non optional `email` arg in JSON DATA"


@pytest_twisted.ensureDeferred
async def test_create_user_with_ldap_dn_makes_ldap_account(server):
    user = await server.create_user("ldapper", ldap_dn="uid=ldapper,dc=example")
    assert user["extern_type"] == "ldap"
    assert user["extern_name"] == "uid=ldapper,dc=example"
    assert user["ldap_dn"] == "uid=ldapper,dc=example"


@pytest_twisted.ensureDeferred
async def test_create_user_ldap_dn_keeps_explicit_extern_type(server):
    user = await server.create_user(
        "crowd", ldap_dn="cn=crowd", extern_type="container"
    )
    assert user["extern_type"] == "container"
    assert user["extern_name"] == "cn=crowd"
    assert user["ldap_dn"] is None


@pytest_twisted.ensureDeferred
async def test_create_user_refused_to_regular_user(server, engine):
    user = await make_test_api(server)
    reply = await server.call(
        "create_user", key=user["api_key"], username="sneaky", email="s@example.com"
    )
    assert reply.error == ACCESS_DENIED
    assert count_users_named(engine, "sneaky") == 0


async def _post_call(server, request_id: int, method: str, **args: Any) -> dict:
    """One request with its own id (the fixture's `call` numbers requests
    from a shared counter, which concurrent calls would race on)."""
    body = json.dumps(
        {"id": request_id, "api_key": server.admin_key, "method": method, "args": args}
    ).encode()
    reply = await server.post(body)
    assert reply.status == 200
    document = reply.document
    assert document["id"] == request_id
    return document


@pytest_twisted.ensureDeferred
async def test_concurrent_create_user_same_username_creates_one(server, engine):
    calls = [
        defer.ensureDeferred(
            _post_call(
                server,
                1000 + n,
                "create_user",
                username="racer",
                email=f"racer{n}@example.com",
            )
        )
        for n in range(5)
    ]
    documents = await defer.gatherResults(calls)
    successes = [d for d in documents if d["error"] is None]
    failures = [d for d in documents if d["error"] is not None]
    assert len(successes) == 1
    assert successes[0]["result"]["msg"] == "created new user `racer`"
    assert [d["error"] for d in failures] == ["user `racer` already exist"] * 4
    assert all(d["result"] is None for d in failures)
    assert count_users_named(engine, "racer") == 1


# --- update_user ------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_update_user_firstname(server):
    await make_test_api(server)
    reply = await server.call(
        "update_user", userid=FIRST_NEW_ID, firstname="new_username"
    )
    assert reply.result["msg"] == "updated user ID:3 test-api"
    assert without_keys(reply.result["user"]) == expected_test_api(
        firstname="new_username"
    )


@pytest_twisted.ensureDeferred
async def test_update_user_lastname(server):
    await make_test_api(server)
    reply = await server.call(
        "update_user", userid=FIRST_NEW_ID, lastname="new_username"
    )
    assert reply.result["msg"] == "updated user ID:3 test-api"
    assert without_keys(reply.result["user"]) == expected_test_api(
        lastname="new_username"
    )


@pytest_twisted.ensureDeferred
async def test_update_user_email_without_validation(server):
    await make_test_api(server)
    reply = await server.call("update_user", userid=FIRST_NEW_ID, email="new_username")
    assert reply.result["msg"] == "updated user ID:3 test-api"
    assert without_keys(reply.result["user"]) == expected_test_api(email="new_username")


@pytest_twisted.ensureDeferred
async def test_update_user_admin_true(server):
    await make_test_api(server)
    reply = await server.call("update_user", userid=FIRST_NEW_ID, admin=True)
    assert reply.result["msg"] == "updated user ID:3 test-api"
    assert without_keys(reply.result["user"]) == expected_test_api(admin=True)


@pytest_twisted.ensureDeferred
async def test_update_user_admin_false(server):
    await make_test_api(server, admin=True)
    reply = await server.call("update_user", userid=FIRST_NEW_ID, admin=False)
    assert reply.result["msg"] == "updated user ID:3 test-api"
    assert without_keys(reply.result["user"]) == expected_test_api(admin=False)


@pytest_twisted.ensureDeferred
async def test_update_user_extern_type_ldap(server):
    await make_test_api(server)
    reply = await server.call("update_user", userid=FIRST_NEW_ID, extern_type="ldap")
    assert reply.result["msg"] == "updated user ID:3 test-api"
    assert without_keys(reply.result["user"]) == expected_test_api(extern_type="ldap")


@pytest_twisted.ensureDeferred
async def test_update_user_null_extern_type_leaves_it_unchanged(server):
    await make_test_api(server, extern_type="ldap")
    reply = await server.call("update_user", userid=FIRST_NEW_ID, extern_type=None)
    assert reply.result["msg"] == "updated user ID:3 test-api"
    assert without_keys(reply.result["user"]) == expected_test_api(extern_type="ldap")


@pytest_twisted.ensureDeferred
async def test_update_user_extern_name(server):
    await make_test_api(server)
    reply = await server.call("update_user", userid=FIRST_NEW_ID, extern_name="test")
    assert reply.result["msg"] == "updated user ID:3 test-api"
    assert without_keys(reply.result["user"]) == expected_test_api(extern_name="test")


@pytest_twisted.ensureDeferred
async def test_update_user_null_extern_name_leaves_it_unchanged(server):
    await make_test_api(server, extern_name="ext-id")
    reply = await server.call("update_user", userid=FIRST_NEW_ID, extern_name=None)
    assert reply.result["msg"] == "updated user ID:3 test-api"
    assert without_keys(reply.result["user"]) == expected_test_api(extern_name="ext-id")


@pytest_twisted.ensureDeferred
async def test_update_user_active_false(server):
    await make_test_api(server)
    reply = await server.call("update_user", userid=FIRST_NEW_ID, active=False)
    assert reply.result["msg"] == "updated user ID:3 test-api"
    assert without_keys(reply.result["user"]) == expected_test_api(active=False)


@pytest_twisted.ensureDeferred
async def test_update_user_active_true(server):
    await make_test_api(server, active=False)
    reply = await server.call("update_user", userid=FIRST_NEW_ID, active=True)
    assert reply.result["msg"] == "updated user ID:3 test-api"
    assert without_keys(reply.result["user"]) == expected_test_api(active=True)


@pytest_twisted.ensureDeferred
async def test_update_user_deactivation_locks_user_out(server):
    user = await make_test_api(server)
    await server.call("update_user", userid="test-api", active=False)
    reply = await server.call("get_users", key=user["api_key"])
    assert reply.error == "Invalid API key"


@pytest_twisted.ensureDeferred
async def test_update_user_password_stores_new_hash(server, engine):
    await make_test_api(server, password="oldpass")
    old_hash = user_row(engine, "test-api").password
    reply = await server.call("update_user", userid=FIRST_NEW_ID, password="newpass")
    assert reply.result["msg"] == "updated user ID:3 test-api"
    assert without_keys(reply.result["user"]) == expected_test_api()
    stored = user_row(engine, "test-api").password
    assert stored != old_hash
    assert stored.startswith("$2b$")
    assert "newpass" not in stored
    assert bcrypt.checkpw(b"newpass", stored.encode())
    assert not bcrypt.checkpw(b"oldpass", stored.encode())


@pytest_twisted.ensureDeferred
async def test_update_user_empty_password_clears_it(server, engine):
    await make_test_api(server, password="oldpass")
    reply = await server.call("update_user", userid="test-api", password="")
    assert reply.result["msg"] == "updated user ID:3 test-api"
    assert user_row(engine, "test-api").password is None


@pytest_twisted.ensureDeferred
async def test_update_user_null_password_keeps_it(server, engine):
    await make_test_api(server, password="oldpass")
    reply = await server.call("update_user", userid="test-api", password=None)
    assert reply.result["msg"] == "updated user ID:3 test-api"
    stored = user_row(engine, "test-api").password
    assert bcrypt.checkpw(b"oldpass", stored.encode())


@pytest_twisted.ensureDeferred
async def test_update_user_without_changes_by_name(server):
    reply = await server.call("update_user", userid="admin")
    assert reply.result == {
        "msg": "updated user ID:2 admin",
        "user": admin_object(server),
    }


@pytest_twisted.ensureDeferred
async def test_update_user_without_changes_by_id(server):
    reply = await server.call("update_user", userid=ADMIN_ID)
    assert reply.result == {
        "msg": "updated user ID:2 admin",
        "user": admin_object(server),
    }


@pytest_twisted.ensureDeferred
async def test_update_user_all_nulls_changes_nothing(server):
    reply = await server.call(
        "update_user",
        userid="admin",
        username=None,
        email=None,
        password=None,
        firstname=None,
        lastname=None,
        active=None,
        admin=None,
        extern_type=None,
        extern_name=None,
    )
    assert reply.result["user"] == admin_object(server)


@pytest_twisted.ensureDeferred
async def test_update_user_default_user_by_id_is_forbidden(server, engine):
    reply = await server.call("update_user", userid=DEFAULT_ID, firstname="x")
    assert reply.error == "editing default user is forbidden"
    assert user_row(engine, "default").firstname != "x"


@pytest_twisted.ensureDeferred
async def test_update_user_default_user_by_name_is_forbidden(server):
    reply = await server.call("update_user", userid="default")
    assert reply.error == "editing default user is forbidden"


@pytest_twisted.ensureDeferred
async def test_update_user_unknown_user_does_not_exist(server):
    reply = await server.call("update_user", userid="nobody", firstname="x")
    assert reply.error == "user `nobody` does not exist"


@pytest_twisted.ensureDeferred
async def test_update_user_renames_and_reports_new_name(server, engine):
    await make_test_api(server)
    reply = await server.call("update_user", userid="test-api", username="renamed")
    assert reply.result["msg"] == "updated user ID:3 renamed"
    assert reply.result["user"]["username"] == "renamed"
    assert count_users_named(engine, "test-api") == 0
    assert count_users_named(engine, "renamed") == 1


@pytest_twisted.ensureDeferred
async def test_update_user_to_taken_username_fails_with_userid_as_sent(server, engine):
    await make_test_api(server)
    reply = await server.call("update_user", userid="test-api", username="admin")
    assert reply.error == "failed to update user `test-api`"
    assert count_users_named(engine, "test-api") == 1


@pytest_twisted.ensureDeferred
async def test_update_user_to_taken_username_by_id_echoes_the_id(server):
    await make_test_api(server)
    reply = await server.call("update_user", userid=FIRST_NEW_ID, username="admin")
    assert reply.error == "failed to update user `3`"


@pytest_twisted.ensureDeferred
async def test_update_user_to_taken_email_fails(server, engine):
    await make_test_api(server)
    reply = await server.call("update_user", userid="test-api", email="admin@localhost")
    assert reply.error == "failed to update user `test-api`"
    assert user_row(engine, "test-api").email == "test@example.com"


@pytest_twisted.ensureDeferred
async def test_update_user_to_taken_email_in_other_case_fails(server, engine):
    await make_test_api(server)
    reply = await server.call("update_user", userid="test-api", email="ADMIN@Localhost")
    assert reply.error == "failed to update user `test-api`"
    assert user_row(engine, "test-api").email == "test@example.com"


@pytest_twisted.ensureDeferred
async def test_update_user_keeping_own_email_in_other_case_succeeds(server):
    await make_test_api(server)
    reply = await server.call(
        "update_user", userid="test-api", email="TEST@example.com"
    )
    assert reply.result["user"]["email"] == "test@example.com"


@pytest_twisted.ensureDeferred
async def test_update_user_lowercases_email(server, engine):
    await make_test_api(server)
    reply = await server.call(
        "update_user", userid="test-api", email="New.Address@Example.ORG"
    )
    assert reply.result["user"]["email"] == "new.address@example.org"
    assert reply.result["user"]["emails"] == ["new.address@example.org"]
    assert user_row(engine, "test-api").email == "new.address@example.org"


@pytest_twisted.ensureDeferred
async def test_update_user_with_ldap_dn_makes_ldap_account(server):
    await make_test_api(server)
    reply = await server.call(
        "update_user", userid="test-api", ldap_dn="uid=test,dc=example"
    )
    assert without_keys(reply.result["user"]) == expected_test_api(
        extern_type="ldap",
        extern_name="uid=test,dc=example",
        ldap_dn="uid=test,dc=example",
    )


@pytest_twisted.ensureDeferred
async def test_update_user_ldap_dn_keeps_explicit_extern_type(server):
    await make_test_api(server)
    reply = await server.call(
        "update_user", userid="test-api", ldap_dn="cn=t", extern_type="container"
    )
    user = reply.result["user"]
    assert user["extern_type"] == "container"
    assert user["extern_name"] == "cn=t"
    assert user["ldap_dn"] is None


@pytest_twisted.ensureDeferred
async def test_update_user_keeps_api_key(server):
    user = await make_test_api(server)
    reply = await server.call("update_user", userid="test-api", firstname="F")
    assert reply.result["user"]["api_key"] == user["api_key"]


@pytest_twisted.ensureDeferred
async def test_update_user_rejects_non_boolean_active(server, engine):
    await make_test_api(server)
    reply = await server.call("update_user", userid="test-api", active="maybe")
    assert reply.error == "Invalid `active` arg in JSON DATA: expected a boolean"
    assert user_row(engine, "test-api").active is True


@pytest_twisted.ensureDeferred
async def test_update_user_rejects_list_userid(server):
    reply = await server.call("update_user", userid=[1])
    assert reply.error == "Invalid `userid` arg in JSON DATA: expected an id or a name"


@pytest_twisted.ensureDeferred
async def test_update_user_requires_userid(server):
    reply = await server.call("update_user", firstname="x")
    assert reply.error == "Missing non optional `userid` arg in JSON DATA"


@pytest_twisted.ensureDeferred
async def test_update_user_refused_to_regular_user(server, engine):
    user = await make_test_api(server)
    reply = await server.call(
        "update_user", key=user["api_key"], userid=FIRST_NEW_ID, admin=True
    )
    assert reply.error == ACCESS_DENIED
    assert user_row(engine, "test-api").admin is False


# --- delete_user ------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_delete_user_without_belongings(server, engine):
    await server.create_user("test_user")
    reply = await server.call("delete_user", userid="test_user")
    assert reply.result == {"msg": "deleted user ID:3 test_user", "user": None}
    assert count_users_named(engine, "test_user") == 0


@pytest_twisted.ensureDeferred
async def test_delete_user_by_id(server, engine):
    await server.create_user("test_user")
    reply = await server.call("delete_user", userid=FIRST_NEW_ID)
    assert reply.result == {"msg": "deleted user ID:3 test_user", "user": None}
    assert count_users_named(engine, "test_user") == 0


@pytest_twisted.ensureDeferred
async def test_deleted_user_no_longer_exists_for_get_user(server):
    await server.create_user("test_user")
    await server.call("delete_user", userid="test_user")
    reply = await server.call("get_user", userid="test_user")
    assert reply.error == "user `test_user` does not exist"


@pytest_twisted.ensureDeferred
async def test_deleted_user_key_no_longer_authenticates(server):
    user = await server.create_user("test_user")
    await server.call("delete_user", userid="test_user")
    reply = await server.call("get_users", key=user["api_key"])
    assert reply.error == "Invalid API key"


@pytest_twisted.ensureDeferred
async def test_delete_user_unknown_user_does_not_exist(server):
    reply = await server.call("delete_user", userid="x")
    assert reply.error == "user `x` does not exist"


@pytest_twisted.ensureDeferred
async def test_delete_default_user_fails(server, engine):
    reply = await server.call("delete_user", userid="default")
    assert reply.error == "failed to delete user ID:1 default"
    assert count_users_named(engine, "default") == 1


def _own_user_group(c: Any, user_id: int, now: datetime.datetime) -> None:
    c.execute(
        t.users_groups.insert().values(
            users_group_name="owned-group",
            user_group_description="",
            users_group_active=True,
            inherit_default_permissions=True,
            user_id=user_id,
            created_on=now,
        )
    )


def _own_repo_group(c: Any, user_id: int, now: datetime.datetime) -> None:
    c.execute(
        t.repo_groups.insert().values(
            group_name="owned-repo-group", user_id=user_id, created_on=now
        )
    )


def _own_repository(c: Any, user_id: int, now: datetime.datetime) -> None:
    c.execute(
        t.repositories.insert().values(
            repo_name="owned-repo",
            repo_state="repo_state_created",
            repo_type="hg",
            user_id=user_id,
            created_on=now,
            updated_on=now,
        )
    )


def _own_gist(c: Any, user_id: int, now: datetime.datetime) -> None:
    c.execute(
        t.gists.insert().values(
            gist_access_id="17",
            user_id=user_id,
            gist_type="public",
            created_on=now,
            modified_at=now,
        )
    )


@pytest.mark.parametrize(
    "make_owner",
    [_own_user_group, _own_repo_group, _own_repository, _own_gist],
    ids=["user_group", "repo_group", "repository", "gist"],
)
@pytest_twisted.ensureDeferred
async def test_delete_user_owning_something_fails_and_keeps_user(
    server, engine, make_owner
):
    await server.create_user("owner")
    with engine.begin() as c:
        make_owner(c, FIRST_NEW_ID, datetime.datetime.now())
    reply = await server.call("delete_user", userid="owner")
    assert reply.error == "failed to delete user ID:3 owner"
    assert reply.document["result"] is None
    assert count_users_named(engine, "owner") == 1
    still = await server.call("get_users")
    assert [u["username"] for u in still.result] == ["admin", "owner"]


@pytest_twisted.ensureDeferred
async def test_delete_user_removes_membership_and_extras(server, engine):
    await server.create_user("member")
    now = datetime.datetime.now()
    with engine.begin() as c:
        _own_user_group(c, ADMIN_ID, now)
        group_id = c.execute(sa.select(t.users_groups.c.users_group_id)).scalar_one()
        c.execute(
            t.users_groups_members.insert().values(
                users_group_id=group_id, user_id=FIRST_NEW_ID
            )
        )
        c.execute(
            t.user_email_map.insert().values(
                user_id=FIRST_NEW_ID, email="member2@example.com"
            )
        )
        c.execute(
            t.user_ip_map.insert().values(user_id=FIRST_NEW_ID, ip_addr="10.0.0.1")
        )
    reply = await server.call("delete_user", userid="member")
    assert reply.result == {"msg": "deleted user ID:3 member", "user": None}
    with engine.connect() as c:
        for table in (t.users_groups_members, t.user_email_map, t.user_ip_map):
            left = c.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(table.c.user_id == FIRST_NEW_ID)
            ).scalar_one()
            assert left == 0, table.name
        groups = c.execute(sa.select(sa.func.count()).select_from(t.users_groups))
        assert groups.scalar_one() == 1


@pytest_twisted.ensureDeferred
async def test_delete_user_rejects_list_userid(server):
    reply = await server.call("delete_user", userid=[1])
    assert reply.error == "Invalid `userid` arg in JSON DATA: expected an id or a name"


@pytest_twisted.ensureDeferred
async def test_delete_user_refused_to_regular_user(server, engine):
    user = await make_test_api(server)
    reply = await server.call("delete_user", key=user["api_key"], userid="admin")
    assert reply.error == ACCESS_DENIED
    assert count_users_named(engine, "admin") == 1
