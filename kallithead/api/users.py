"""User methods: get_user, get_users, create_user, update_user, delete_user."""

from __future__ import annotations

import re
from typing import Any

from twisted.internet import threads

from kallithead.api.context import CallContext
from kallithead.api.failures import failing_as
from kallithead.api.registry import (
    ADMIN_ONLY,
    BOOLEAN,
    CALLER,
    ID_OR_NAME,
    OMITTED,
    STRING,
    optional,
    registry,
    required,
)
from kallithead.api.shapes import detailed_user_object
from kallithead.auth.secrets import hash_password, new_api_key
from kallithead.db.users import EmailTaken, UsernameTaken, UserRecord, UserStillOwns
from kallithead.errors import ApiError, NotFound, format_value

# A user or user group name may hold almost anything (Kallithea's API does not
# check), but not control characters, surrounding blanks, or more than the
# column holds.
_BAD_USERNAME = re.compile(r"[\x00-\x1f\x7f]|^\s|\s$")
_MAX_LENGTH = 255


async def resolve_user(ctx: CallContext, ident: Any) -> UserRecord:
    """The user named by an "id or name" argument, or ``user `x` does not exist``."""
    lookup = ctx.caller.user_id if ident is CALLER else ident
    user = await ctx.services.users.find(lookup)
    if user is None:
        raise NotFound("user", ident)
    return user


def check_self(ctx: CallContext, userid: Any) -> None:
    """A regular user may only name itself, by omitting ``userid`` or by its
    numeric id given as a JSON integer (API-SPEC.md 1.6)."""
    if ctx.is_admin or userid is CALLER:
        return
    if type(userid) is int and userid == ctx.caller.user_id:
        return
    raise ApiError("userid is not the same as your user")


def valid_name(username: str | None) -> bool:
    return (
        bool(username)
        and len(username or "") <= _MAX_LENGTH
        and not _BAD_USERNAME.search(username or "")
    )


def _extern_fields(
    extern_type: Any, extern_name: Any, ldap_dn: Any
) -> dict[str, str | None]:
    """Column values for the authentication source; empty values are NULL.

    ``ldap_dn`` is the older documents' name for an LDAP account's extern
    name: it sets ``extern_name`` and, unless given, ``extern_type`` ldap.
    """
    fields: dict[str, str | None] = {}
    if ldap_dn is not OMITTED:
        fields["extern_name"] = ldap_dn or None
        fields["extern_type"] = "ldap"
    if extern_type is not OMITTED:
        fields["extern_type"] = extern_type or None
    if extern_name is not OMITTED:
        fields["extern_name"] = extern_name or None
    return fields


async def _password_column(password: str) -> str | None:
    """The stored form of a password: a bcrypt hash, or NULL for none."""
    if not password:
        return None
    return await threads.deferToThread(hash_password, password)


@registry.method("get_user", optional("userid", ID_OR_NAME, default=CALLER))
async def get_user(ctx: CallContext, userid: Any) -> dict[str, Any]:
    check_self(ctx, userid)
    lookup = ctx.caller.user_id if userid is CALLER else userid
    found = await ctx.services.users.find_with_permissions(lookup)
    if found is None:
        raise NotFound("user", userid)
    user, permissions = found
    shape = detailed_user_object(user)
    shape["permissions"] = permissions.as_api()
    return shape


@registry.method("get_users", gate=ADMIN_ONLY)
async def get_users(ctx: CallContext) -> list[dict[str, Any]]:
    return [detailed_user_object(user) for user in await ctx.services.users.list()]


@registry.method(
    "create_user",
    required("username", STRING),
    required("email", STRING),
    optional("password", STRING, default=""),
    optional("firstname", STRING, default=""),
    optional("lastname", STRING, default=""),
    optional("active", BOOLEAN, default=True),
    optional("admin", BOOLEAN, default=False),
    optional("extern_name", STRING),
    optional("extern_type", STRING),
    optional("ldap_dn", STRING),
    gate=ADMIN_ONLY,
)
async def create_user(
    ctx: CallContext,
    username: str | None,
    email: str | None,
    password: str,
    firstname: str,
    lastname: str,
    active: bool,
    admin: bool,
    extern_name: Any,
    extern_type: Any,
    ldap_dn: Any,
) -> dict[str, Any]:
    failed = ApiError(f"failed to create user `{format_value(username)}`")
    if not valid_name(username) or not email or len(email) > _MAX_LENGTH:
        raise failed
    if len(firstname) > _MAX_LENGTH or len(lastname) > _MAX_LENGTH:
        raise failed
    assert username is not None

    fields: dict[str, Any] = {
        "username": username,
        "email": email.lower(),
        "password": await _password_column(password),
        "firstname": firstname,
        "lastname": lastname,
        "active": active,
        "admin": admin,
        "api_key": new_api_key(),
    }
    fields.update(_extern_fields(extern_type, extern_name, ldap_dn))
    fields.setdefault("extern_type", "internal")

    try:
        with failing_as(failed.message):
            user = await ctx.services.users.create(fields)
    except UsernameTaken:
        raise ApiError(f"user `{username}` already exist") from None
    except EmailTaken:
        raise ApiError(f"email `{email}` already exist") from None
    return {"msg": f"created new user `{username}`", "user": detailed_user_object(user)}


@registry.method(
    "update_user",
    required("userid", ID_OR_NAME),
    optional("username", STRING),
    optional("email", STRING),
    optional("password", STRING),
    optional("firstname", STRING),
    optional("lastname", STRING),
    optional("active", BOOLEAN),
    optional("admin", BOOLEAN),
    optional("extern_type", STRING),
    optional("extern_name", STRING),
    optional("ldap_dn", STRING),
    gate=ADMIN_ONLY,
)
async def update_user(
    ctx: CallContext,
    userid: Any,
    username: Any,
    email: Any,
    password: Any,
    firstname: Any,
    lastname: Any,
    active: Any,
    admin: Any,
    extern_type: Any,
    extern_name: Any,
    ldap_dn: Any,
) -> dict[str, Any]:
    user = await resolve_user(ctx, userid)
    if user.is_default:
        raise ApiError("editing default user is forbidden")
    failed = ApiError(f"failed to update user `{format_value(userid)}`")

    changes: dict[str, Any] = {}
    if username is not OMITTED:
        if not valid_name(username):
            raise failed
        changes["username"] = username
    if email is not OMITTED:
        if len(email) > _MAX_LENGTH:
            raise failed
        changes["email"] = email.lower()
    for column, value in (("firstname", firstname), ("lastname", lastname)):
        if value is not OMITTED:
            if len(value) > _MAX_LENGTH:
                raise failed
            changes[column] = value
    for column, value in (("active", active), ("admin", admin)):
        if value is not OMITTED:
            changes[column] = value
    if password is not OMITTED:
        changes["password"] = await _password_column(password)
    changes.update(_extern_fields(extern_type, extern_name, ldap_dn))

    try:
        with failing_as(failed.message):
            updated = await ctx.services.users.update(user.user_id, changes)
    except (UsernameTaken, EmailTaken):
        raise failed from None
    return {
        "msg": f"updated user ID:{updated.user_id} {updated.username}",
        "user": detailed_user_object(updated),
    }


@registry.method("delete_user", required("userid", ID_OR_NAME), gate=ADMIN_ONLY)
async def delete_user(ctx: CallContext, userid: Any) -> dict[str, Any]:
    user = await resolve_user(ctx, userid)
    failed = ApiError(f"failed to delete user ID:{user.user_id} {user.username}")
    if user.is_default:
        raise failed
    try:
        with failing_as(failed.message):
            await ctx.services.users.delete(user.user_id)
    except UserStillOwns:
        raise failed from None
    return {"msg": f"deleted user ID:{user.user_id} {user.username}", "user": None}
