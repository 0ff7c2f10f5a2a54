"""The stored summary of a repository's tip: ``last_changeset``."""

from __future__ import annotations

import datetime
import re
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


# Something that looks like an address, for authors written without <>.
_ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+")


def author_email(author: str) -> str:
    """The address in an author string: what stands between ``<`` and ``>``
    if there are brackets, else the first word with an ``@``, else ""."""
    opening = author.find("<")
    if opening >= 0:
        closing = author.find(">", opening)
        inside = author[opening + 1 :] if closing < 0 else author[opening + 1 : closing]
        return inside.strip()
    found = _ADDRESS.search(author)
    return found.group(0) if found else ""


def author_name(author: str) -> str:
    """The name in an author string, the way Kallithea shows it: an author
    without any ``@`` is all name; otherwise the address and the brackets
    are taken out."""
    if "@" not in author:
        return author
    email = author_email(author)
    name = author.replace(email, "") if email else author
    return name.replace("<", "").replace(">", "").strip()


def author_object(author: str) -> dict[str, str]:
    """``author`` as get_changeset shows it."""
    return {"name": author_name(author), "email": author_email(author)}
