"""JSON the way Kallithea writes it (API-SPEC.md 2.1)."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

from kallithead.formats import format_datetime


@dataclass(frozen=True)
class PreEncoded:
    """A result already encoded as JSON, for results that never change."""

    data: bytes


def _extra(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return format_datetime(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(document: Any) -> bytes:
    """One line of JSON; raises TypeError or ValueError if it cannot encode."""
    return json.dumps(document, default=_extra).encode("utf-8")


def envelope(request_id: Any, result: Any, error: str | None) -> bytes:
    """The response document, encoded; the same bytes ``dumps`` would give."""
    encoded = result.data if isinstance(result, PreEncoded) else dumps(result)
    return b"".join(
        (
            b'{"id": ',
            dumps(request_id),
            b', "result": ',
            encoded,
            b', "error": ',
            dumps(error),
            b"}",
        )
    )
