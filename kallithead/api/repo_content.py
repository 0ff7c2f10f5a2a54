"""What is inside a repository: get_repo_nodes, get_changesets, get_changeset."""

from __future__ import annotations

import datetime
from typing import Any

from kallithead.api.context import CallContext
from kallithead.api.registry import (
    ANY,
    BOOLEAN,
    ID_OR_NAME,
    STRING,
    optional,
    registry,
    required,
)
from kallithead.api.repos import READ, repo_level, resolve_repo
from kallithead.errors import ApiError, NotFound
from kallithead.formats import format_datetime
from kallithead.vcs.base import (
    Changeset,
    EmptyRepository,
    Repository,
    UnknownRevision,
    VcsError,
)
from kallithead.vcs.summary import author_object, changeset_summary

RET_TYPES = ("all", "dirs", "files")


def _revision_spec(value: Any) -> Any:
    """A revision argument as the backends take it: null and -1 mean the
    tip, as they do to Kallithea's backends."""
    if value is None or (type(value) is int and value == -1):
        return "tip"
    return value


@registry.method(
    "get_repo_nodes",
    required("repoid", ID_OR_NAME),
    required("revision", ANY),
    required("root_path", ANY),
    optional("ret_type", ANY, default="all"),
)
async def get_repo_nodes(
    ctx: CallContext, repoid: Any, revision: Any, root_path: Any, ret_type: Any
) -> list[dict[str, str]]:
    repo = await resolve_repo(ctx, repoid)
    failed = ApiError(f"failed to get repo: `{repo.repo_name}` nodes")
    revision = _revision_spec(revision)
    if not isinstance(revision, (str, int)) or isinstance(revision, bool):
        raise failed
    if not isinstance(root_path, str):
        raise failed

    try:
        tree = await ctx.services.repositories.nodes(repo, str(revision), root_path)
    except VcsError:
        raise failed from None
    dirs, files = tree.dirs, tree.files
    if ret_type not in RET_TYPES:
        raise ApiError(f"ret_type must be one of {','.join(sorted(RET_TYPES))}")
    listed: list[dict[str, str]] = []
    if ret_type in ("all", "dirs"):
        listed += [{"name": name, "type": "dir"} for name in dirs]
    if ret_type in ("all", "files"):
        listed += [{"name": name, "type": "file"} for name in files]
    return listed


def _parse_date(value: Any) -> datetime.datetime | None:
    # An empty string filters nothing, as in Kallithea (a false value).
    if not value:
        return None
    return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")


async def _readable(ctx: CallContext, repoid: Any) -> Any:
    """get_changeset(s) need read access; admins have it on every repository."""
    repo = await ctx.services.repositories.store.find(repoid)
    if repo is None:
        raise NotFound("repository", repoid)
    if await repo_level(ctx, repo) not in READ:
        raise ApiError(f"Access denied to repo {repo.repo_name}")
    return repo


@registry.method(
    "get_changesets",
    required("repoid", ID_OR_NAME),
    optional("start", ANY, default=None),
    optional("end", ANY, default=None),
    optional("start_date", STRING, default=None),
    optional("end_date", STRING, default=None),
    optional("branch_name", STRING, default=None),
    optional("reverse", BOOLEAN, default=False),
    optional("with_file_list", BOOLEAN, default=False),
    optional("max_revisions", ANY, default=None),
)
async def get_changesets(
    ctx: CallContext,
    repoid: Any,
    start: Any,
    end: Any,
    start_date: str | None,
    end_date: str | None,
    branch_name: str | None,
    reverse: bool,
    with_file_list: bool,
    max_revisions: Any,
) -> list[dict[str, Any]]:
    repo = await _readable(ctx, repoid)
    since, until = _parse_date(start_date), _parse_date(end_date)
    # 0 (like null) sets no limit, as in Kallithea (a false value).
    limit = int(max_revisions) if max_revisions else None

    def select(repository: Repository) -> list[dict[str, Any]]:
        history = list(repository.changesets())
        if not history:
            raise EmptyRepository("empty")
        first = 0 if start is None else repository.changeset(str(start)).revision
        last = (
            len(history) - 1 if end is None else repository.changeset(str(end)).revision
        )
        if first > last:
            raise ValueError("start after end")
        chosen = [
            c
            for c in history
            if (since is None or c.date >= since) and (until is None or c.date <= until)
        ]
        if branch_name:
            refs = repository.refs()
            # A closed Mercurial branch is still a branch to list.
            heads = {**refs.closed_branches, **refs.branches}
            if branch_name not in heads:
                raise UnknownRevision(branch_name)
            if repository.alias == "git":
                reachable = _reachable(history, heads[branch_name])
                chosen = [c for c in chosen if c.raw_id in reachable]
            else:
                chosen = [c for c in chosen if c.branch == branch_name]
        # max_revisions limits the filtered list; start and end are positions
        # in the whole history that then cut it (API-SPEC.md 3.46).
        if limit is not None:
            chosen = chosen[:limit]
        chosen = chosen[first : last + 1]
        if reverse:
            chosen.reverse()
        answers = []
        for changeset in chosen:
            shape = changeset_summary(changeset)
            if with_file_list:
                changes = repository.file_changes(changeset.raw_id)
                shape.update(
                    added=list(changes.added),
                    changed=list(changes.changed),
                    removed=list(changes.removed),
                )
            answers.append(shape)
        return answers

    try:
        return await ctx.services.repositories.read(repo, select)
    except EmptyRepository:
        raise ApiError("Repository is empty") from None


def _reachable(history: list[Changeset], head: str) -> set[str]:
    """The raw ids reachable from ``head`` (a git branch)."""
    parents = {c.raw_id: c.parents for c in history}
    reachable: set[str] = set()
    pending = [head]
    while pending:
        raw_id = pending.pop()
        if raw_id in reachable or raw_id not in parents:
            continue
        reachable.add(raw_id)
        pending.extend(parents[raw_id])
    return reachable


@registry.method(
    "get_changeset",
    required("repoid", ID_OR_NAME),
    required("raw_id", ANY),
    optional("with_reviews", BOOLEAN, default=False),
)
async def get_changeset(
    ctx: CallContext, repoid: Any, raw_id: Any, with_reviews: bool
) -> dict[str, Any]:
    repo = await _readable(ctx, repoid)

    def describe(repository: Repository) -> dict[str, Any]:
        changeset = repository.changeset(str(_revision_spec(raw_id)))
        changes = repository.file_changes(changeset.raw_id)
        return {
            "raw_id": changeset.raw_id,
            "short_id": changeset.short_id,
            "revision": changeset.revision,
            "date": format_datetime(changeset.date),
            "message": changeset.message,
            "author": author_object(changeset.author),
            "added": list(changes.added),
            "changed": list(changes.changed),
            "removed": list(changes.removed),
        }

    try:
        shape = await ctx.services.repositories.read(repo, describe)
    except (UnknownRevision, EmptyRepository):
        raise ApiError(f"Changeset {raw_id} does not exist") from None
    if with_reviews:
        store = ctx.services.repositories.store
        shape["reviews"] = await store.reviews(repo.repo_id, shape["raw_id"])
    return shape
