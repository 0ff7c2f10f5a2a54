"""Gist methods (API-SPEC.md 3.42 to 3.45)."""

from __future__ import annotations

import posixpath
import time
from typing import Any

from kallithead.api.context import CallContext
from kallithead.api.failures import failing_as
from kallithead.api.registry import (
    ANY,
    CALLER,
    ID_OR_NAME,
    STRING,
    optional,
    registry,
    required,
)
from kallithead.api.shapes import gist_object
from kallithead.api.users import check_self, resolve_user
from kallithead.db.gists import NEVER_EXPIRES, GistRecord
from kallithead.db.users import UserRecord
from kallithead.errors import ApiError, NotFound
from kallithead.vcs.base import VcsError

CREATE_FAILED = "failed to create gist"
# Names Mercurial cannot hold as a file, or that would leave the gist.
_RESERVED_NAMES = {"", ".", "..", ".hg"}


class BadFiles(ValueError):
    """The ``files`` argument does not describe files a gist can hold."""


def gist_files(files: Any) -> list[tuple[str, bytes]]:
    """(name, content) of each file, in the order they were sent."""
    if not isinstance(files, dict):
        raise BadFiles("files is not an object")
    listed = []
    for name, spec in files.items():
        if (
            posixpath.basename(name) != name
            or name.lower() in _RESERVED_NAMES
            or "\\" in name
            or any(char in name for char in "\x00\r\n")
        ):
            raise BadFiles(f"bad file name {name!r}")
        if not isinstance(spec, dict) or not isinstance(spec.get("content"), str):
            raise BadFiles(f"no text content for {name!r}")
        listed.append((name, spec["content"].encode("utf-8", "surrogatepass")))
    return listed


def expiry(lifetime: Any, now: float) -> float:
    """When a gist living ``lifetime`` minutes expires; a lifetime that is
    not a whole number (as Python's int() reads it) means never."""
    try:
        minutes = int(lifetime)
    except (TypeError, ValueError, OverflowError):
        return NEVER_EXPIRES
    if minutes == -1:
        return NEVER_EXPIRES
    return now + float(minutes * 60)


def full_contact(user: UserRecord) -> str:
    return f"{user.firstname} {user.lastname} <{user.email}>"


def _url(ctx: CallContext, gist: GistRecord) -> str:
    alias = ctx.services.settings.server.gist_alias_url
    if alias:
        return alias.replace("{gistid}", gist.access_id)
    return f"{ctx.site_url}/_admin/gists/{gist.access_id}"


def _shape(ctx: CallContext, gist: GistRecord) -> dict[str, Any]:
    return gist_object(gist, _url(ctx, gist))


async def _find_visible(ctx: CallContext, gistid: Any) -> GistRecord:
    """The gist, if the caller is an admin or owns it."""
    gist = await ctx.services.gists.store.find(gistid)
    if gist is None or not (ctx.is_admin or gist.owner_id == ctx.caller.user_id):
        raise NotFound("gist", gistid)
    return gist


@registry.method("get_gist", required("gistid", ANY))
async def get_gist(ctx: CallContext, gistid: Any) -> dict[str, Any]:
    return _shape(ctx, await _find_visible(ctx, gistid))


@registry.method("get_gists", optional("userid", ID_OR_NAME, default=CALLER))
async def get_gists(ctx: CallContext, userid: Any) -> list[dict[str, Any]]:
    check_self(ctx, userid)
    user = await resolve_user(ctx, userid)
    listed = await ctx.services.gists.store.of_user(user.user_id, time.time())
    return [_shape(ctx, gist) for gist in listed]


@registry.method(
    "create_gist",
    required("files", ANY),
    optional("owner", ID_OR_NAME, default=CALLER),
    optional("gist_type", STRING, default="public"),
    optional("lifetime", ANY, default=-1),
    optional("description", STRING, default=""),
)
async def create_gist(
    ctx: CallContext,
    files: Any,
    owner: Any,
    gist_type: str,
    lifetime: Any,
    description: str,
) -> dict[str, Any]:
    user = await resolve_user(ctx, owner)
    with failing_as(CREATE_FAILED):
        try:
            contents = gist_files(files)
            expires = expiry(lifetime, time.time())
            gist = await ctx.services.gists.create(
                contents,
                full_contact(user),
                user.user_id,
                gist_type,
                expires,
                description,
            )
        except (BadFiles, OverflowError, VcsError):
            raise ApiError(CREATE_FAILED) from None
    return {"msg": "created new gist", "gist": _shape(ctx, gist)}


@registry.method("delete_gist", required("gistid", ANY))
async def delete_gist(ctx: CallContext, gistid: Any) -> dict[str, Any]:
    gist = await _find_visible(ctx, gistid)
    named = f"ID:{gist.access_id}"
    with failing_as(f"failed to delete gist {named}"):
        await ctx.services.gists.delete(gist)
    return {"msg": f"deleted gist {named}", "gist": None}
