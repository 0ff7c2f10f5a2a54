"""Granting and revoking permissions on repositories."""

from __future__ import annotations

from typing import Any

from kallithead.api.context import CallContext
from kallithead.api.failures import failing_as
from kallithead.api.registry import ADMIN_ONLY, ANY, ID_OR_NAME, registry, required
from kallithead.api.repos import ADMIN, repo_level
from kallithead.api.usergroups import READ_OR_BETTER, USERGROUP_ARG
from kallithead.api.users import resolve_user
from kallithead.auth.permissions import ID_BY_NAME, NAME_BY_ID
from kallithead.db import grants
from kallithead.db.repos import RepoRecord
from kallithead.db.usergroups import UserGroupRecord
from kallithead.errors import ApiError, NotFound, format_value


def permission_name(perm: Any) -> str:
    """The catalogue name ``perm`` stands for (a name, or an id as digits)."""
    if isinstance(perm, str) and perm in ID_BY_NAME:
        return perm
    if isinstance(perm, (int, str)) and not isinstance(perm, bool):
        text = str(perm)
        if text.isdigit() and int(text) in NAME_BY_ID:
            return NAME_BY_ID[int(text)]
    raise ApiError(f"permission `{format_value(perm)}` does not exist")


async def _find_repo(ctx: CallContext, repoid: Any) -> RepoRecord:
    repo = await ctx.services.repositories.store.find(repoid)
    if repo is None:
        raise NotFound("repository", repoid)
    return repo


async def _find_group(ctx: CallContext, usergroupid: Any) -> UserGroupRecord:
    group = await ctx.services.user_groups.find(usergroupid)
    if group is None:
        raise NotFound("user group", usergroupid)
    return group


async def _check_group_grant_access(
    ctx: CallContext, repo: RepoRecord, repoid: Any, group: UserGroupRecord, ident: Any
) -> None:
    """A regular caller needs admin on the repository and read on the group."""
    if ctx.is_admin:
        return
    if await repo_level(ctx, repo) not in ADMIN:
        raise NotFound("repository", repoid)
    permissions = await ctx.services.users.permissions_of(ctx.caller.user_id)
    if permissions.user_groups.get(group.group_name) not in READ_OR_BETTER:
        raise NotFound("user group", ident)


@registry.method(
    "grant_user_permission",
    required("repoid", ID_OR_NAME),
    required("userid", ID_OR_NAME),
    required("perm", ANY),
    gate=ADMIN_ONLY,
)
async def grant_user_permission(
    ctx: CallContext, repoid: Any, userid: Any, perm: Any
) -> dict[str, Any]:
    repo = await _find_repo(ctx, repoid)
    user = await resolve_user(ctx, userid)
    level = permission_name(perm)
    failed = (
        f"failed to edit permission for user: `{format_value(userid)}` "
        f"in repo: `{format_value(repoid)}`"
    )
    with failing_as(failed):
        await ctx.services.grants.grant(
            grants.REPO_USER, user.user_id, repo.repo_id, level
        )
    return {
        "msg": f"Granted perm: `{level}` for user: `{user.username}` "
        f"in repo: `{repo.repo_name}`",
        "success": True,
    }


@registry.method(
    "revoke_user_permission",
    required("repoid", ID_OR_NAME),
    required("userid", ID_OR_NAME),
    gate=ADMIN_ONLY,
)
async def revoke_user_permission(
    ctx: CallContext, repoid: Any, userid: Any
) -> dict[str, Any]:
    repo = await _find_repo(ctx, repoid)
    user = await resolve_user(ctx, userid)
    failed = (
        f"failed to edit permission for user: `{format_value(userid)}` "
        f"in repo: `{format_value(repoid)}`"
    )
    with failing_as(failed):
        await ctx.services.grants.revoke(grants.REPO_USER, user.user_id, repo.repo_id)
    return {
        "msg": f"Revoked perm for user: `{user.username}` in repo: `{repo.repo_name}`",
        "success": True,
    }


@registry.method(
    "grant_user_group_permission",
    required("repoid", ID_OR_NAME),
    USERGROUP_ARG,
    required("perm", ANY),
    aliases=["grant_users_group_permission"],
)
async def grant_user_group_permission(
    ctx: CallContext, repoid: Any, usergroupid: Any, perm: Any
) -> dict[str, Any]:
    repo = await _find_repo(ctx, repoid)
    level = permission_name(perm)
    group = await _find_group(ctx, usergroupid)
    await _check_group_grant_access(ctx, repo, repoid, group, usergroupid)
    failed = (
        f"failed to edit permission for user group: `{format_value(usergroupid)}` "
        f"in repo: `{repo.repo_name}`"
    )
    with failing_as(failed):
        await ctx.services.grants.grant(
            grants.REPO_USER_GROUP, group.users_group_id, repo.repo_id, level
        )
    return {
        "msg": f"Granted perm: `{level}` for user group: `{group.group_name}` "
        f"in repo: `{repo.repo_name}`",
        "success": True,
    }


@registry.method(
    "revoke_user_group_permission",
    required("repoid", ID_OR_NAME),
    USERGROUP_ARG,
    aliases=["revoke_users_group_permission"],
)
async def revoke_user_group_permission(
    ctx: CallContext, repoid: Any, usergroupid: Any
) -> dict[str, Any]:
    repo = await _find_repo(ctx, repoid)
    group = await _find_group(ctx, usergroupid)
    await _check_group_grant_access(ctx, repo, repoid, group, usergroupid)
    failed = (
        f"failed to edit permission for user group: `{group.group_name}` "
        f"in repo: `{repo.repo_name}`"
    )
    with failing_as(failed):
        await ctx.services.grants.revoke(
            grants.REPO_USER_GROUP, group.users_group_id, repo.repo_id
        )
    return {
        "msg": f"Revoked perm for user group: `{group.group_name}` "
        f"in repo: `{repo.repo_name}`",
        "success": True,
    }
