"""The stored summary of a repository's tip: ``last_changeset``."""

from __future__ import annotations

import datetime
from typing import Any, overload

from kallithead.formats import format_datetime
from kallithead.vcs.base import EMPTY_RAW_ID, Changeset


@overload
def changeset_summary(changeset: Changeset) -> dict[str, Any]: ...


@overload
def changeset_summary(changeset: None) -> None: ...


def changeset_summary(changeset: Changeset | None) -> dict[str, Any] | None:
    """A changeset as ``last_changeset`` and get_changesets show it."""
    if changeset is None:
        return None
    return {
        "short_id": changeset.short_id,
        "raw_id": changeset.raw_id,
        "revision": changeset.revision,
        "message": changeset.message,
        "date": format_datetime(changeset.date),
        "author": changeset.author,
    }


def empty_summary() -> dict[str, Any]:
    """``last_changeset`` of a repository without changesets."""
    return {
        "short_id": EMPTY_RAW_ID[:12],
        "raw_id": EMPTY_RAW_ID,
        "revision": -1,
        "message": "",
        "date": format_datetime(datetime.datetime.fromtimestamp(0)),
        "author": "",
    }
