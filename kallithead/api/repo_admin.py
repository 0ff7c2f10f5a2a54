"""Keeping repositories in shape: pull, rescan_repos, invalidate_cache, locks."""

from __future__ import annotations

import json
import time
from typing import Any

from kallithead.api.context import CallContext
from kallithead.api.failures import failing_as
from kallithead.api.registry import (
    ADMIN_ONLY,
    ANY,
    CALLER,
    ID_OR_NAME,
    OMITTED,
    STRING,
    optional,
    registry,
    required,
)
from kallithead.api.repos import WRITE, repo_level, resolve_repo
from kallithead.api.shapes import repo_object
from kallithead.api.users import check_self, resolve_user
from kallithead.errors import ApiError, NotFound
from kallithead.formats import format_datetime, lock_time, python2_float_text
from kallithead.repositories import BadCloneUri, check_clone_uri

_TRUE_WORDS = {"t", "true", "y", "yes", "on", "1"}


@registry.method(
    "pull",
    required("repoid", ID_OR_NAME),
    optional("clone_uri", STRING, default=None),
    gate=ADMIN_ONLY,
)
async def pull(ctx: CallContext, repoid: Any, clone_uri: str | None) -> dict[str, Any]:
    repositories = ctx.services.repositories
    repo = await repositories.store.find(repoid)
    if repo is None:
        raise NotFound("repository", repoid)
    failed = f"Unable to pull changes from `{repo.repo_name}`"

    if clone_uri:
        source = clone_uri
    elif repo.clone_uri:
        source = repo.clone_uri
    else:
        source = None
    try:
        if source is not None:
            check_clone_uri(source)
    except BadCloneUri:
        raise ApiError(failed) from None
    if source is None and repo.fork_id is not None:
        parent = await repositories.store.find(repo.fork_id)
        if parent is not None:
            # The parent's folder: a path of the server's own choosing.
            source = str(repositories.path_of(parent))
    if source is None:
        raise ApiError(failed)

    with failing_as(failed):
        arrived = await repositories.pull(repo, source)
    await repositories.store.journal(
        ctx.caller.user_id,
        ctx.caller.username,
        repo.repo_id,
        repo.repo_name,
        ctx.client_ip,
        "push_remote:" + ",".join(arrived if repo.repo_type == "hg" else []),
    )
    return {"msg": f"Pulled from `{repo.repo_name}`", "repository": repo.repo_name}


@registry.method(
    "rescan_repos", optional("remove_obsolete", ANY, default=False), gate=ADMIN_ONLY
)
async def rescan_repos(ctx: CallContext, remove_obsolete: Any) -> dict[str, list[str]]:
    with failing_as("Error occurred during rescan repositories action"):
        outcome = await ctx.services.scanner.rescan(
            remove_obsolete=bool(remove_obsolete)
        )
    return {"added": outcome.added, "removed": outcome.removed}


@registry.method("invalidate_cache", required("repoid", ID_OR_NAME))
async def invalidate_cache(ctx: CallContext, repoid: Any) -> dict[str, Any]:
    repo = await resolve_repo(ctx, repoid, WRITE)
    with failing_as("Error occurred during cache invalidation action"):
        await ctx.services.repositories.invalidate(repo)
    return {
        "msg": f"Cache for repository `{repoid}` was invalidated",
        "repository": repo.repo_name,
    }


def _lock_flag(value: Any) -> bool:
    """``locked`` as Kallithea 0.2 read it: a few words mean true."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE_WORDS


@registry.method(
    "lock",
    required("repoid", ID_OR_NAME),
    optional("locked", ANY),
    optional("userid", ID_OR_NAME, default=CALLER),
)
async def lock(
    ctx: CallContext, repoid: Any, locked: Any, userid: Any
) -> dict[str, Any]:
    repositories = ctx.services.repositories
    repo = await repositories.store.find(repoid)
    if repo is None:
        raise NotFound("repository", repoid)
    if not ctx.is_admin:
        if await repo_level(ctx, repo) not in WRITE:
            raise NotFound("repository", repoid)
        check_self(ctx, userid)
    user = await resolve_user(ctx, userid)
    name = repo.repo_name

    if locked is OMITTED:
        if repo.locked_by is None or repo.locked_since is None:
            return {
                "repo": name,
                "locked": False,
                "locked_since": None,
                "locked_by": None,
                "lock_state_changed": False,
                "msg": f"Repo `{name}` not locked.",
            }
        # Kallithea 0.2 stored the time as Python 2 wrote a float, and
        # answered that text and the date read back from it.
        stored = python2_float_text(repo.locked_since)
        when = json.dumps(format_datetime(lock_time(repo.locked_since)))
        return {
            "repo": name,
            "locked": True,
            "locked_since": stored,
            "locked_by": repo.locked_by.username,
            "lock_state_changed": False,
            "msg": f"Repo `{name}` locked by `{repo.locked_by.username}` on `{when}`.",
        }

    flag = _lock_flag(locked)
    now = time.time()
    with failing_as(f"Error occurred locking repository `{name}`"):
        await repositories.store.set_lock(
            repo.repo_id, user.user_id if flag else None, now if flag else None
        )
    return {
        "repo": name,
        "locked": flag,
        "locked_since": now if flag else None,
        "locked_by": user.username,
        "lock_state_changed": True,
        "msg": f"User `{user.username}` set lock state for repo `{name}` to `{flag}`",
    }


@registry.method("get_locks", optional("userid", ID_OR_NAME, default=CALLER))
async def get_locks(ctx: CallContext, userid: Any) -> list[dict[str, Any]]:
    check_self(ctx, userid)
    holder = None
    if userid is not CALLER:
        holder = (await resolve_user(ctx, userid)).user_id
    repos = await ctx.services.repositories.store.list()
    return [
        repo_object(repo)
        for repo in repos
        if repo.locked_by is not None
        and repo.locked_since is not None
        and (holder is None or repo.locked_by.user_id == holder)
    ]
