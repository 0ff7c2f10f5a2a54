"""User group methods, with their RhodeCode 1.7 names as aliases."""

from __future__ import annotations

from typing import Any

from kallithead.api.context import CallContext
from kallithead.api.failures import failing_as
from kallithead.api.registry import (
    BOOLEAN,
    CALLER,
    ID_OR_NAME,
    OMITTED,
    STRING,
    Gate,
    optional,
    registry,
    required,
)
from kallithead.api.shapes import user_group_object
from kallithead.api.users import resolve_user, valid_name
from kallithead.db.usergroups import (
    GroupHoldsRepositories,
    GroupNameTaken,
    UserGroupRecord,
)
from kallithead.errors import ApiError, NotFound, format_value

READ_OR_BETTER = frozenset({"usergroup.read", "usergroup.write", "usergroup.admin"})
ADMIN_LEVEL = frozenset({"usergroup.admin"})
MAX_DESCRIPTION = 10000

# Older spellings of the user group argument.
USERGROUP_ARG = required("usergroupid", ID_OR_NAME, aliases=["usersgroupid"])


async def _level_allows(
    ctx: CallContext, group: UserGroupRecord, levels: frozenset[str]
) -> bool:
    if ctx.is_admin:
        return True
    permissions = await ctx.services.users.permissions_of(ctx.caller.user_id)
    return permissions.user_groups.get(group.group_name) in levels


async def resolve_user_group(
    ctx: CallContext, ident: Any, levels: frozenset[str] = READ_OR_BETTER
) -> UserGroupRecord:
    """The user group named by ``ident`` if the caller holds one of ``levels``
    on it; otherwise, as if it did not exist (API-SPEC.md 1.7)."""
    group = await ctx.services.user_groups.find(ident)
    if group is None or not await _level_allows(ctx, group, levels):
        raise NotFound("user group", ident)
    return group


@registry.method("get_user_group", USERGROUP_ARG, aliases=["get_users_group"])
async def get_user_group(ctx: CallContext, usergroupid: Any) -> dict[str, Any]:
    return user_group_object(await resolve_user_group(ctx, usergroupid))


@registry.method("get_user_groups", aliases=["get_users_groups"])
async def get_user_groups(ctx: CallContext) -> list[dict[str, Any]]:
    groups = await ctx.services.user_groups.list()
    if not ctx.is_admin:
        permissions = await ctx.services.users.permissions_of(ctx.caller.user_id)
        groups = [
            group
            for group in groups
            if permissions.user_groups.get(group.group_name) in READ_OR_BETTER
        ]
    return [user_group_object(group) for group in groups]


@registry.method(
    "create_user_group",
    required("group_name", STRING),
    optional("description", STRING, default=""),
    optional("owner", ID_OR_NAME, default=CALLER),
    optional("active", BOOLEAN, default=True),
    gate=Gate(any_of=("hg.usergroup.create.true",)),
    aliases=["create_users_group"],
)
async def create_user_group(
    ctx: CallContext,
    group_name: str | None,
    description: str,
    owner: Any,
    active: bool,
) -> dict[str, Any]:
    name = format_value(group_name)
    taken = ApiError(f"user group `{name}` already exist")
    # An invalid name cannot belong to an existing group: skip the lookup.
    if valid_name(group_name) and await ctx.services.user_groups.named(group_name):
        raise taken
    owner_user = await resolve_user(ctx, owner)
    failed = f"failed to create group `{name}`"
    if not valid_name(group_name) or len(description) > MAX_DESCRIPTION:
        raise ApiError(failed)
    assert group_name is not None

    try:
        with failing_as(failed):
            group = await ctx.services.user_groups.create(
                group_name, description, owner_user.user_id, active
            )
    except GroupNameTaken:
        raise taken from None
    return {
        "msg": f"created new user group `{group_name}`",
        "user_group": user_group_object(group),
    }


@registry.method(
    "update_user_group",
    USERGROUP_ARG,
    optional("group_name", STRING),
    optional("description", STRING),
    optional("owner", ID_OR_NAME),
    optional("active", BOOLEAN),
    aliases=["update_users_group"],
)
async def update_user_group(
    ctx: CallContext,
    usergroupid: Any,
    group_name: Any,
    description: Any,
    owner: Any,
    active: Any,
) -> dict[str, Any]:
    group = await resolve_user_group(ctx, usergroupid, ADMIN_LEVEL)
    changes: dict[str, Any] = {}
    if owner is not OMITTED:
        changes["user_id"] = (await resolve_user(ctx, owner)).user_id
    failed = ApiError(f"failed to update user group `{format_value(usergroupid)}`")

    if group_name is not OMITTED:
        if not valid_name(group_name):
            raise failed
        changes["users_group_name"] = group_name
    if description is not OMITTED:
        if len(description) > MAX_DESCRIPTION:
            raise failed
        changes["user_group_description"] = description
    if active is not OMITTED:
        changes["users_group_active"] = active

    try:
        with failing_as(failed.message):
            updated = await ctx.services.user_groups.update(
                group.users_group_id, changes
            )
    except GroupNameTaken:
        raise failed from None
    return {
        "msg": f"updated user group ID:{updated.users_group_id} {updated.group_name}",
        "user_group": user_group_object(updated),
    }


@registry.method("delete_user_group", USERGROUP_ARG, aliases=["delete_users_group"])
async def delete_user_group(ctx: CallContext, usergroupid: Any) -> dict[str, Any]:
    group = await resolve_user_group(ctx, usergroupid, ADMIN_LEVEL)
    label = f"ID:{group.users_group_id} {group.group_name}"
    try:
        with failing_as(f"failed to delete user group {label}"):
            await ctx.services.user_groups.delete(group.users_group_id)
    except GroupHoldsRepositories as e:
        raise ApiError(f"User Group assigned to {', '.join(e.repo_names)}") from None
    return {"msg": f"deleted user group {label}", "user_group": None}


@registry.method(
    "add_user_to_user_group",
    USERGROUP_ARG,
    required("userid", ID_OR_NAME),
    aliases=["add_user_user_group", "add_user_to_users_group"],
)
async def add_user_to_user_group(
    ctx: CallContext, usergroupid: Any, userid: Any
) -> dict[str, Any]:
    user = await resolve_user(ctx, userid)
    group = await resolve_user_group(ctx, usergroupid, ADMIN_LEVEL)
    with failing_as(f"failed to add member to user group `{group.group_name}`"):
        added = await ctx.services.user_groups.add_member(
            group.users_group_id, user.user_id
        )
    if not added:
        return {"success": False, "msg": "User is already in that group"}
    return {
        "success": True,
        "msg": f"added member `{user.username}` to user group `{group.group_name}`",
    }


@registry.method(
    "remove_user_from_user_group",
    USERGROUP_ARG,
    required("userid", ID_OR_NAME),
    aliases=["remove_user_from_users_group"],
)
async def remove_user_from_user_group(
    ctx: CallContext, usergroupid: Any, userid: Any
) -> dict[str, Any]:
    user = await resolve_user(ctx, userid)
    group = await resolve_user_group(ctx, usergroupid, ADMIN_LEVEL)
    with failing_as(f"failed to remove member from user group `{group.group_name}`"):
        removed = await ctx.services.user_groups.remove_member(
            group.users_group_id, user.user_id
        )
    if not removed:
        return {"success": False, "msg": "User wasn't in group"}
    return {
        "success": True,
        "msg": f"removed member `{user.username}` from user group `{group.group_name}`",
    }
