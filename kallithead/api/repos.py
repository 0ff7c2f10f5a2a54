"""Repository methods: reading, creating, forking, updating, deleting."""

from __future__ import annotations

from typing import Any

from kallithead.api.context import CallContext
from kallithead.api.encoding import EncodedArray
from kallithead.api.failures import failing_as
from kallithead.api.registry import (
    ANY,
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
from kallithead.api.shapes import (
    pull_request_object,
    repo_fragment,
    repo_object,
    user_object,
)
from kallithead.api.users import resolve_user
from kallithead.db.repos import (
    ParentIsRepository,
    RepoNameTaken,
    RepoRecord,
    RepoStore,
)
from kallithead.db.settings import as_bool
from kallithead.errors import ApiError, NotFound, format_value
from kallithead.repositories import BadCloneUri, check_clone_uri
from kallithead.vcs.base import VcsError
from kallithead.vcs.layout import InvalidName, check_name, parent_of

READ = frozenset({"repository.read", "repository.write", "repository.admin"})
WRITE = frozenset({"repository.write", "repository.admin"})
ADMIN = frozenset({"repository.admin"})
GROUP_WRITE = frozenset({"group.write", "group.admin"})
REPO_TYPES = ("hg", "git")


async def repo_level(ctx: CallContext, repo: RepoRecord) -> str | None:
    if ctx.is_admin:
        return "repository.admin"
    permissions = await ctx.services.users.permissions_of(ctx.caller.user_id)
    return permissions.repositories.get(repo.repo_name)


async def resolve_repo(
    ctx: CallContext, ident: Any, levels: frozenset[str] = READ
) -> RepoRecord:
    """The repository ``ident`` names, if the caller holds one of ``levels``
    on it; otherwise as if it did not exist (API-SPEC.md 1.7)."""
    repo = await ctx.services.repositories.store.find(ident)
    if repo is None or await repo_level(ctx, repo) not in levels:
        raise NotFound("repository", ident)
    return repo


def _check_landing_rev(value: str) -> str:
    if ":" not in value:
        raise ValueError(value)
    return value


@registry.method(
    "get_repo",
    required("repoid", ID_OR_NAME),
    optional("with_revision_names", BOOLEAN, default=False),
    optional("with_pullrequests", BOOLEAN, default=False),
)
async def get_repo(
    ctx: CallContext, repoid: Any, with_revision_names: bool, with_pullrequests: bool
) -> dict[str, Any]:
    repo = await resolve_repo(ctx, repoid)
    store = ctx.services.repositories.store
    memory = store.memory
    key = ("get_repo", repo.repo_id)
    base = memory.objects.get(key)
    if base is None:
        epoch = memory.epoch
        base = repo_object(repo)
        base["members"] = await store.members(repo.repo_id)
        base["followers"] = [
            user_object(u) for u in await store.followers(repo.repo_id)
        ]
        memory.remember(memory.objects, key, base, epoch)
    shape = dict(base)
    if with_revision_names:
        refs = await ctx.services.repositories.read(repo, lambda r: r.refs())
        shape.update(tags=refs.tags, branches=refs.branches, bookmarks=refs.bookmarks)
    if with_pullrequests:
        settings = await ctx.services.settings_store.all()
        template = settings.get("clone_uri_tmpl") or ""
        shape["pull_requests"] = [
            pull_request_object(pr, template, ctx.site_url)
            for pr in await ctx.services.pull_requests.into(repo.repo_id)
        ]
    return shape


async def repository_listing(store: RepoStore) -> list[tuple[str, bytes]]:
    """Every repository object, encoded, with its name, in id order;
    remembered until the next change."""
    memory = store.memory
    listing = memory.listings.get("repos")
    if listing is None:
        epoch = memory.epoch
        listing = await store.encoded(repo_fragment)
        memory.remember(memory.listings, "repos", listing, epoch)
    return listing


@registry.method("get_repos")
async def get_repos(ctx: CallContext) -> EncodedArray:
    """Every repository the caller may read, in id order.

    The encoded objects are remembered until the next change anywhere (see
    kallithead.auth.cache), so that a large list costs a filter at most, not
    a database read and an encoding per call; the objects go out as they
    are, in chunks (kallithead.web.body).
    """
    listing = await repository_listing(ctx.services.repositories.store)
    if not ctx.is_admin:
        permissions = await ctx.services.users.permissions_of(ctx.caller.user_id)
        levels = permissions.repositories
        listing = [(name, f) for name, f in listing if levels.get(name) in READ]
    return EncodedArray([fragment for _, fragment in listing])


async def _check_group_write(ctx: CallContext, name: str, message: str) -> None:
    """A regular caller needs write on the group a new repository goes into;
    groups that do not exist yet are created for admins only."""
    group = parent_of(name)
    if not group or ctx.is_admin:
        return
    permissions = await ctx.services.users.permissions_of(ctx.caller.user_id)
    if permissions.repository_groups.get(group) not in GROUP_WRITE:
        raise ApiError(message)


@registry.method(
    "create_repo",
    required("repo_name", STRING),
    optional("owner", ID_OR_NAME),
    optional("repo_type", STRING),
    optional("description", STRING, default=""),
    optional("private", BOOLEAN),
    optional("clone_uri", STRING),
    optional("landing_rev", STRING, default="rev:tip"),
    optional("enable_statistics", BOOLEAN),
    optional("enable_locking", BOOLEAN),
    optional("enable_downloads", BOOLEAN),
    optional("copy_permissions", BOOLEAN, default=False),
    gate=Gate(any_of=("hg.create.repository",)),
)
async def create_repo(
    ctx: CallContext,
    repo_name: str | None,
    owner: Any,
    repo_type: Any,
    description: str,
    private: Any,
    clone_uri: Any,
    landing_rev: str,
    enable_statistics: Any,
    enable_locking: Any,
    enable_downloads: Any,
    copy_permissions: bool,
) -> dict[str, Any]:
    if owner is not OMITTED and not ctx.is_admin:
        raise ApiError("Only Kallithea admin can specify `owner` param")
    owner_user = await resolve_user(ctx, CALLER if owner is OMITTED else owner)
    name = format_value(repo_name)
    repositories = ctx.services.repositories
    if repo_name and await repositories.store.find_named(repo_name):
        raise ApiError(f"repo `{name}` already exist")
    failed = f"failed to create repository `{name}`"
    if repo_name:
        await _check_group_write(
            ctx, repo_name, f"no permission to create repo in {parent_of(repo_name)}"
        )

    defaults = await ctx.services.settings_store.all()
    kind = (
        defaults.get("default_repo_type", "hg") if repo_type is OMITTED else repo_type
    )
    try:
        check_name(repo_name)
        _check_landing_rev(landing_rev)
        source = None if clone_uri is OMITTED or not clone_uri else clone_uri
        if source is not None:
            check_clone_uri(source)
        if kind not in REPO_TYPES:
            raise ValueError(kind)
    except (InvalidName, BadCloneUri, ValueError):
        raise ApiError(failed) from None
    assert repo_name is not None

    fields = {
        "repo_name": repo_name,
        "repo_type": kind,
        "user_id": owner_user.user_id,
        "description": description or repo_name.rpartition("/")[2],
        "private": (
            as_bool(defaults.get("default_repo_private"))
            if private is OMITTED
            else private
        ),
        "clone_uri": source,
        "landing_revision": landing_rev,
        # Kallithea takes these from the global defaults whatever is passed.
        "statistics": as_bool(defaults.get("default_repo_enable_statistics")),
        "downloads": as_bool(defaults.get("default_repo_enable_downloads")),
        "enable_locking": as_bool(defaults.get("default_repo_enable_locking")),
    }
    try:
        with failing_as(failed):
            record = await repositories.create(
                fields,
                owner_user.user_id,
                source,
                copy_group_permissions=copy_permissions,
            )
    except RepoNameTaken:
        raise ApiError(f"repo `{name}` already exist") from None
    except ParentIsRepository:
        raise ApiError(failed) from None
    await repositories.store.journal(
        ctx.caller.user_id,
        ctx.caller.username,
        record.repo_id,
        record.repo_name,
        ctx.client_ip,
        "user_created_repo",
    )
    return {"msg": f"Created new repository `{repo_name}`", "success": True}


@registry.method(
    "fork_repo",
    required("repoid", ID_OR_NAME),
    required("fork_name", STRING),
    optional("owner", ID_OR_NAME),
    optional("description", STRING, default=""),
    optional("copy_permissions", BOOLEAN, default=False),
    optional("private", BOOLEAN, default=False),
    optional("landing_rev", STRING, default="rev:tip"),
    gate=Gate(any_of=("hg.fork.repository",)),
)
async def fork_repo(
    ctx: CallContext,
    repoid: Any,
    fork_name: str | None,
    owner: Any,
    description: str,
    copy_permissions: bool,
    private: bool,
    landing_rev: str,
) -> dict[str, Any]:
    repositories = ctx.services.repositories
    source = await repositories.store.find(repoid)
    if source is None:
        raise NotFound("repository", repoid)
    name = format_value(fork_name)
    existing = await repositories.store.find_named(fork_name) if fork_name else None
    if existing is not None:
        kind = "fork" if existing.fork_id is not None else "repo"
        raise ApiError(f"{kind} `{name}` already exist")
    if not ctx.is_admin:
        if await repo_level(ctx, source) not in READ:
            raise NotFound("repository", repoid)
        if owner is not OMITTED:
            raise ApiError("Only Kallithea admin can specify `owner` param")
        if not ctx.caller.permissions.has_global("hg.create.repository"):
            raise ApiError("no permission to create repositories")
    owner_user = await resolve_user(ctx, CALLER if owner is OMITTED else owner)
    failed = f"failed to fork repository `{source.repo_name}` as `{name}`"
    if fork_name:
        await _check_group_write(
            ctx, fork_name, f"no permission to create repo in {parent_of(fork_name)}"
        )
    try:
        check_name(fork_name)
        _check_landing_rev(landing_rev)
    except (InvalidName, ValueError):
        raise ApiError(failed) from None
    assert fork_name is not None

    fields = {
        "repo_name": fork_name,
        "repo_type": source.repo_type,
        "user_id": owner_user.user_id,
        "description": description or fork_name.rpartition("/")[2],
        "private": private,
        "clone_uri": None,
        "landing_revision": landing_rev,
        "fork_id": source.repo_id,
        "statistics": False,
        "downloads": False,
        "enable_locking": False,
    }
    try:
        with failing_as(failed):
            record = await repositories.create(
                fields,
                owner_user.user_id,
                str(repositories.path_of(source)),
                copy_from_repo=source.repo_id if copy_permissions else None,
            )
    except RepoNameTaken as e:
        kind = "fork" if e.is_fork else "repo"
        raise ApiError(f"{kind} `{name}` already exist") from None
    except ParentIsRepository:
        raise ApiError(failed) from None
    await repositories.store.journal(
        ctx.caller.user_id,
        ctx.caller.username,
        source.repo_id,
        source.repo_name,
        ctx.client_ip,
        f"user_forked_repo:{record.repo_name}",
    )
    return {
        "msg": f"Created fork of `{source.repo_name}` as `{fork_name}`",
        "success": True,
    }


@registry.method(
    "delete_repo",
    required("repoid", ID_OR_NAME),
    optional("forks", ANY, default=None),
)
async def delete_repo(ctx: CallContext, repoid: Any, forks: Any) -> dict[str, Any]:
    repo = await resolve_repo(ctx, repoid, ADMIN)
    repositories = ctx.services.repositories
    children = await repositories.store.forks(repo.repo_id)
    if children and forks not in ("detach", "delete"):
        raise ApiError(
            f"Cannot delete `{repo.repo_name}` it still contains attached forks"
        )
    with failing_as(f"failed to delete repository `{repo.repo_name}`"):
        if forks == "delete":
            await _delete_forks(ctx, children)
        await repositories.delete(repo)
    suffix = ""
    if forks == "detach":
        suffix = f" Detached {len(children)} forks"
    elif forks == "delete":
        suffix = f" Deleted {len(children)} forks"
    return {"msg": f"Deleted repository `{repo.repo_name}`{suffix}", "success": True}


async def _delete_forks(ctx: CallContext, fork_ids: list[int]) -> None:
    """Delete forks and, first, their own forks, to any depth."""
    repositories = ctx.services.repositories
    for fork_id in fork_ids:
        fork = await repositories.store.find(fork_id)
        if fork is None:
            continue
        await _delete_forks(ctx, await repositories.store.forks(fork_id))
        await repositories.delete(fork)


@registry.method(
    "update_repo",
    required("repoid", ID_OR_NAME),
    optional("name", STRING),
    optional("owner", ANY),
    optional("group", ID_OR_NAME),
    optional("description", STRING),
    optional("private", BOOLEAN),
    optional("clone_uri", STRING),
    optional("landing_rev", STRING),
    optional("enable_statistics", BOOLEAN),
    optional("enable_locking", BOOLEAN),
    optional("enable_downloads", BOOLEAN),
)
async def update_repo(
    ctx: CallContext,
    repoid: Any,
    name: Any,
    owner: Any,
    group: Any,
    description: Any,
    private: Any,
    clone_uri: Any,
    landing_rev: Any,
    enable_statistics: Any,
    enable_locking: Any,
    enable_downloads: Any,
) -> dict[str, Any]:
    repo = await resolve_repo(ctx, repoid, ADMIN)
    if not ctx.is_admin:
        if not ctx.caller.permissions.has_global("hg.create.repository"):
            raise ApiError("no permission to create (or move) repositories")
        if owner is not OMITTED:
            raise ApiError("Only Kallithea admin can specify `owner` param")
    repositories = ctx.services.repositories
    group_path = parent_of(repo.repo_name)
    changes: dict[str, Any] = {}
    if group is not OMITTED:
        found = await repositories.store.find_group(group)
        if found is None:
            raise NotFound("repository group", group)
        changes["group_id"], group_path = found
        if not ctx.is_admin and group_path != parent_of(repo.repo_name):
            await _check_group_write(
                ctx, f"{group_path}/x", f"no permission to create repo in {group_path}"
            )
    failed = ApiError(f"failed to update repo `{format_value(repoid)}`")

    short = repo.repo_name.rpartition("/")[2] if name is OMITTED else name
    new_name = f"{group_path}/{short}" if group_path else short
    try:
        if "/" in short:
            raise InvalidName(short)
        check_name(new_name)
        if landing_rev is not OMITTED:
            changes["landing_revision"] = _check_landing_rev(landing_rev)
        if clone_uri is not OMITTED:
            changes["clone_uri"] = check_clone_uri(clone_uri) if clone_uri else None
    except (InvalidName, BadCloneUri, ValueError):
        raise failed from None
    new_uri = changes.get("clone_uri")
    if new_uri is not None and new_uri != repo.clone_uri:
        # A new remote must answer as a repository of this kind (Kallithea
        # 0.6+ asks it too), so that a later pull does not find out.
        try:
            await repositories.check_remote(repo.repo_type, new_uri)
        except VcsError:
            raise failed from None
    if new_name != repo.repo_name:
        changes["repo_name"] = new_name
    if owner is not OMITTED:
        # Kallithea resolves the owner by username only.
        new_owner = (
            await ctx.services.users.find(owner) if isinstance(owner, str) else None
        )
        if new_owner is None or new_owner.username != owner:
            raise failed
        changes["user_id"] = new_owner.user_id
    for column, value in (
        ("description", description),
        ("private", private),
        ("statistics", enable_statistics),
        ("enable_locking", enable_locking),
        ("downloads", enable_downloads),
    ):
        if value is not OMITTED:
            changes[column] = value

    try:
        with failing_as(failed.message):
            updated = await repositories.update(repo, changes)
    except (RepoNameTaken, ParentIsRepository):
        raise failed from None
    return {
        "msg": f"updated repo ID:{updated.repo_id} {updated.repo_name}",
        "repository": repo_object(updated),
    }
