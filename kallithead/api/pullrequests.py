"""Pull request methods (API-SPEC.md 3.48, 3.49)."""

from __future__ import annotations

from typing import Any

from kallithead.api.context import CallContext
from kallithead.api.registry import ANY, BOOLEAN, STRING, optional, registry, required
from kallithead.api.repos import READ
from kallithead.api.shapes import pull_request_object
from kallithead.db.pullrequests import PullRequestClosed, PullRequestRecord
from kallithead.errors import ApiError, NotFound

NOT_ALLOWED = "not allowed"
NO_COMMENT_PERMISSION = (
    "No permission to add comment. User needs at least reading permissions"
    " to the source repository."
)
NO_CLOSE_PERMISSION = (
    "No permission to close pull request. User needs to be admin or owner."
)
NO_STATUS_PERMISSION = (
    "No permission to change pull request status. User needs to be admin,"
    " owner or reviewer."
)
ALREADY_CLOSED = "pull request is already closed"


async def clone_uri_template(ctx: CallContext) -> str:
    settings = await ctx.services.settings_store.all()
    return settings.get("clone_uri_tmpl") or ""


def _pr_id(value: Any) -> int | None:
    """A pull request id from a number or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


async def _find(ctx: CallContext, ident: Any) -> PullRequestRecord:
    pr_id = _pr_id(ident)
    pr = await ctx.services.pull_requests.find(pr_id) if pr_id is not None else None
    if pr is None:
        raise NotFound("pull request", ident)
    return pr


async def _reads_origin(ctx: CallContext, pr: PullRequestRecord) -> bool:
    if ctx.is_admin:
        return True
    permissions = await ctx.services.users.permissions_of(ctx.caller.user_id)
    return permissions.repositories.get(pr.org_repo_name) in READ


@registry.method("get_pullrequest", required("pullrequest_id", ANY))
async def get_pullrequest(ctx: CallContext, pullrequest_id: Any) -> dict[str, Any]:
    pr = await _find(ctx, pullrequest_id)
    if not await _reads_origin(ctx, pr):
        raise ApiError(NOT_ALLOWED)
    return pull_request_object(pr, await clone_uri_template(ctx), ctx.site_url)


@registry.method(
    "comment_pullrequest",
    required("pull_request_id", ANY),
    optional("comment_msg", STRING, default=""),
    optional("status", STRING, default=None),
    optional("close_pr", BOOLEAN, default=False),
)
async def comment_pullrequest(
    ctx: CallContext,
    pull_request_id: Any,
    comment_msg: str,
    status: str | None,
    close_pr: bool,
) -> bool:
    pr = await _find(ctx, pull_request_id)
    if not await _reads_origin(ctx, pr):
        raise ApiError(NO_COMMENT_PERMISSION)
    caller = ctx.caller
    is_owner = ctx.is_admin or caller.user_id == pr.owner_id
    if close_pr and not is_owner:
        raise ApiError(NO_CLOSE_PERMISSION)
    reviewer = any(user_id == caller.user_id for user_id, _ in pr.reviewers)
    if status is not None and not (is_owner or reviewer):
        raise ApiError(NO_STATUS_PERMISSION)
    if pr.is_closed:
        raise ApiError(ALREADY_CLOSED)
    try:
        await ctx.services.pull_requests.comment(
            pr,
            caller.user_id,
            caller.username,
            ctx.client_ip,
            comment_msg,
            status,
            close_pr,
        )
    except PullRequestClosed:
        raise ApiError(ALREADY_CLOSED) from None
    return True
