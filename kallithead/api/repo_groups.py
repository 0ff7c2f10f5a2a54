"""Repository group methods (API-SPEC.md 3.33 to 3.41)."""

from __future__ import annotations

from typing import Any

from kallithead.api.context import CallContext
from kallithead.api.failures import failing_as
from kallithead.api.registry import (
    ADMIN_ONLY,
    ANY,
    BOOLEAN,
    CALLER,
    ID_OR_NAME,
    OMITTED,
    STRING,
    optional,
    registry,
    required,
)
from kallithead.api.repo_perms import permission_name
from kallithead.api.shapes import repo_group_object
from kallithead.api.usergroups import READ_OR_BETTER, USERGROUP_ARG
from kallithead.api.users import resolve_user
from kallithead.db.repogroups import RepoGroupRecord
from kallithead.db.usergroups import UserGroupRecord
from kallithead.errors import ApiError, NotFound, Refused, format_value
from kallithead.vcs.base import VcsError
from kallithead.vcs.layout import InvalidName, check_segment

# What a create, update or delete may run into that is the client's doing
# or the state's, not a fault: answered with the method's failure message
# and not logged as an error.
_EXPECTED = (InvalidName, NotFound, Refused, VcsError)

GROUP_ADMIN = "group.admin"
REACH_ARG = optional("apply_to_children", ANY, default="none")


async def _find(ctx: CallContext, repogroupid: Any) -> RepoGroupRecord:
    group = await ctx.services.repo_groups.store.find(repogroupid)
    if group is None:
        raise NotFound("repository group", repogroupid)
    return group


async def _find_administered(ctx: CallContext, repogroupid: Any) -> RepoGroupRecord:
    """The group, if the caller is an admin or holds group.admin on it;
    otherwise as if it did not exist."""
    group = await _find(ctx, repogroupid)
    await _check_administers(ctx, group, repogroupid)
    return group


async def _check_administers(
    ctx: CallContext, group: RepoGroupRecord, repogroupid: Any
) -> None:
    if ctx.is_admin:
        return
    permissions = await ctx.services.users.permissions_of(ctx.caller.user_id)
    if permissions.repository_groups.get(group.group_name) != GROUP_ADMIN:
        raise NotFound("repository group", repogroupid)


def _group_level(perm: Any) -> str:
    level = permission_name(perm)
    if not level.startswith("group."):
        raise ApiError(
            f"permission `{format_value(perm)}` is invalid, should start with group."
        )
    return level


@registry.method("get_repo_group", required("repogroupid", ID_OR_NAME), gate=ADMIN_ONLY)
async def get_repo_group(ctx: CallContext, repogroupid: Any) -> dict[str, Any]:
    group = await _find(ctx, repogroupid)
    shape = repo_group_object(group)
    shape["members"] = await ctx.services.repo_groups.store.members(group.group_id)
    return shape


@registry.method("get_repo_groups", gate=ADMIN_ONLY)
async def get_repo_groups(ctx: CallContext) -> list[dict[str, Any]]:
    return [repo_group_object(g) for g in await ctx.services.repo_groups.store.list()]


@registry.method(
    "create_repo_group",
    required("group_name", STRING),
    optional("description", STRING, default=""),
    optional("owner", ID_OR_NAME, default=CALLER),
    optional("parent", ID_OR_NAME),
    optional("copy_permissions", BOOLEAN, default=False),
    gate=ADMIN_ONLY,
)
async def create_repo_group(
    ctx: CallContext,
    group_name: str,
    description: str,
    owner: Any,
    parent: Any,
    copy_permissions: bool,
) -> dict[str, Any]:
    store = ctx.services.repo_groups.store
    if await store.find_named(group_name) is not None:
        raise ApiError(f"repo group `{group_name}` already exist")
    parent_group = None
    if parent is not OMITTED:
        parent_group = await _find(ctx, parent)
    failed = f"failed to create repo group `{group_name}`"
    with failing_as(failed):
        try:
            check_segment(group_name)
            owner_user = await resolve_user(ctx, owner)
            full_name = group_name
            if parent_group is not None:
                full_name = f"{parent_group.group_name}/{group_name}"
            group = await ctx.services.repo_groups.create(
                full_name,
                parent_group.group_id if parent_group else None,
                description or group_name,
                owner_user.user_id,
                owner_user.admin,
                copy_permissions,
            )
        except _EXPECTED:
            raise ApiError(failed) from None
    return {
        "msg": f"created new repo group `{group_name}`",
        "repo_group": repo_group_object(group),
    }


@registry.method(
    "update_repo_group",
    required("repogroupid", ID_OR_NAME),
    optional("group_name", STRING),
    optional("description", STRING),
    optional("owner", ID_OR_NAME),
    optional("parent", ANY),
    optional("enable_locking", BOOLEAN),
    gate=ADMIN_ONLY,
)
async def update_repo_group(
    ctx: CallContext,
    repogroupid: Any,
    group_name: Any,
    description: Any,
    owner: Any,
    parent: Any,
    enable_locking: Any,
) -> dict[str, Any]:
    group = await _find(ctx, repogroupid)
    failed = f"failed to update repository group `{format_value(repogroupid)}`"
    with failing_as(failed):
        try:
            changes, new_name, parent_id = await _update_plan(
                ctx, group, group_name, description, owner, parent, enable_locking
            )
            updated = await ctx.services.repo_groups.update(
                group, new_name, parent_id, changes
            )
        except _EXPECTED:
            raise ApiError(failed) from None
    return {
        "msg": f"updated repository group ID:{updated.group_id} {updated.group_name}",
        "repo_group": repo_group_object(updated),
    }


async def _update_plan(
    ctx: CallContext,
    group: RepoGroupRecord,
    group_name: Any,
    description: Any,
    owner: Any,
    parent: Any,
    enable_locking: Any,
) -> tuple[dict[str, Any], str, int | None]:
    """The column changes, the new full name and the new parent's id.

    ``parent`` names the new parent group; an empty string (or 0) moves the
    group to the top level.
    """
    changes: dict[str, Any] = {}
    if description is not OMITTED:
        changes["group_description"] = description
    if enable_locking is not OMITTED:
        changes["enable_locking"] = enable_locking
    if owner is not OMITTED:
        changes["user_id"] = (await resolve_user(ctx, owner)).user_id
    short = group.short_name
    if group_name is not OMITTED:
        check_segment(group_name)
        short = group_name
    parent_id, parent_name = group.parent_id, group.parent_name
    if parent is not OMITTED:
        if parent in ("", 0):
            parent_id, parent_name = None, None
        else:
            new_parent = await _find(ctx, parent)
            parent_id, parent_name = new_parent.group_id, new_parent.group_name
    new_name = f"{parent_name}/{short}" if parent_name else short
    return changes, new_name, parent_id


@registry.method(
    "delete_repo_group", required("repogroupid", ID_OR_NAME), gate=ADMIN_ONLY
)
async def delete_repo_group(ctx: CallContext, repogroupid: Any) -> dict[str, Any]:
    group = await _find(ctx, repogroupid)
    named = f"ID:{group.group_id} {group.group_name}"
    failed = f"failed to delete repo group {named}"
    with failing_as(failed):
        try:
            await ctx.services.repo_groups.delete(group)
        except _EXPECTED:
            raise ApiError(failed) from None
    return {"msg": f"deleted repo group {named}", "repo_group": None}


async def _edit(
    ctx: CallContext,
    group: RepoGroupRecord,
    by_user_group: bool,
    subject_id: int,
    name: str,
    named_in_failure: Any,
    level: str | None,
    apply_to_children: Any,
) -> dict[str, Any]:
    """Grant ``level`` (revoke, when None) to a user or user group on the
    group and what ``apply_to_children`` reaches below it; the answer."""
    word = "user group" if by_user_group else "user"
    reach = format_value(apply_to_children)
    where = f"in repo group: `{group.short_name}`"
    failed = (
        f"failed to edit permission for {word}: `{format_value(named_in_failure)}` "
        f"{where}"
    )
    with failing_as(failed):
        await ctx.services.repo_groups.store.apply(
            group, by_user_group, subject_id, level, reach
        )
    done = "Revoked perm" if level is None else f"Granted perm: `{level}`"
    return {
        "msg": f"{done} (recursive:{reach}) for {word}: `{name}` {where}",
        "success": True,
    }


@registry.method(
    "grant_user_permission_to_repo_group",
    required("repogroupid", ID_OR_NAME),
    required("userid", ID_OR_NAME),
    required("perm", ANY),
    REACH_ARG,
)
async def grant_user_permission_to_repo_group(
    ctx: CallContext, repogroupid: Any, userid: Any, perm: Any, apply_to_children: Any
) -> dict[str, Any]:
    group = await _find_administered(ctx, repogroupid)
    user = await resolve_user(ctx, userid)
    level = _group_level(perm)
    return await _edit(
        ctx, group, False, user.user_id, user.username, userid, level, apply_to_children
    )


@registry.method(
    "revoke_user_permission_from_repo_group",
    required("repogroupid", ID_OR_NAME),
    required("userid", ID_OR_NAME),
    REACH_ARG,
)
async def revoke_user_permission_from_repo_group(
    ctx: CallContext, repogroupid: Any, userid: Any, apply_to_children: Any
) -> dict[str, Any]:
    group = await _find_administered(ctx, repogroupid)
    user = await resolve_user(ctx, userid)
    return await _edit(
        ctx, group, False, user.user_id, user.username, userid, None, apply_to_children
    )


async def _find_user_group(
    ctx: CallContext, group: RepoGroupRecord, repogroupid: Any, usergroupid: Any
) -> UserGroupRecord:
    """The user group, after the checks a regular caller must pass: admin
    on the repository group, read or better on the user group."""
    user_group = await ctx.services.user_groups.find(usergroupid)
    if user_group is None:
        raise NotFound("user group", usergroupid)
    if not ctx.is_admin:
        await _check_administers(ctx, group, repogroupid)
        permissions = await ctx.services.users.permissions_of(ctx.caller.user_id)
        if permissions.user_groups.get(user_group.group_name) not in READ_OR_BETTER:
            raise NotFound("user group", usergroupid)
    return user_group


@registry.method(
    "grant_user_group_permission_to_repo_group",
    required("repogroupid", ID_OR_NAME),
    USERGROUP_ARG,
    required("perm", ANY),
    REACH_ARG,
)
async def grant_user_group_permission_to_repo_group(
    ctx: CallContext,
    repogroupid: Any,
    usergroupid: Any,
    perm: Any,
    apply_to_children: Any,
) -> dict[str, Any]:
    group = await _find(ctx, repogroupid)
    level = _group_level(perm)
    user_group = await _find_user_group(ctx, group, repogroupid, usergroupid)
    name = user_group.group_name
    return await _edit(
        ctx,
        group,
        True,
        user_group.users_group_id,
        name,
        usergroupid,
        level,
        apply_to_children,
    )


@registry.method(
    "revoke_user_group_permission_from_repo_group",
    required("repogroupid", ID_OR_NAME),
    USERGROUP_ARG,
    REACH_ARG,
)
async def revoke_user_group_permission_from_repo_group(
    ctx: CallContext, repogroupid: Any, usergroupid: Any, apply_to_children: Any
) -> dict[str, Any]:
    group = await _find(ctx, repogroupid)
    user_group = await _find_user_group(ctx, group, repogroupid, usergroupid)
    # Unlike the grant's, the revoke's failure names the user group as found.
    name = user_group.group_name
    return await _edit(
        ctx, group, True, user_group.users_group_id, name, name, None, apply_to_children
    )
