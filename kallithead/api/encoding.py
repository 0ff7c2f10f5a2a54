"""JSON the way Kallithea writes it (API-SPEC.md 2.1)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kallithead.formats import format_datetime


@dataclass(frozen=True)
class PreEncoded:
    """A result already encoded as JSON, for results that never change."""

    data: bytes


@dataclass(frozen=True)
class EncodedArray:
    """A JSON array whose items are each already encoded.

    The envelope hands the items on as they are, so that a long list goes
    out in pieces without ever being copied into one large buffer.
    """

    items: Sequence[bytes]


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


def _array_parts(items: Sequence[bytes]) -> list[bytes]:
    """``[``, the items separated by ``, ``, then ``]``."""
    if not items:
        return [b"[]"]
    parts = [b", "] * (2 * len(items) + 1)
    parts[1::2] = items
    parts[0] = b"["
    parts[-1] = b"]"
    return parts


def envelope_parts(request_id: Any, result: Any, error: str | None) -> list[bytes]:
    """The response document as pieces to send one after the other."""
    head = b'{"id": ' + dumps(request_id) + b', "result": '
    tail = b', "error": ' + dumps(error) + b"}"
    if isinstance(result, EncodedArray):
        return [head, *_array_parts(result.items), tail]
    encoded = result.data if isinstance(result, PreEncoded) else dumps(result)
    return [head, encoded, tail]


def envelope(request_id: Any, result: Any, error: str | None) -> bytes:
    """The response document, encoded; the same bytes ``dumps`` would give."""
    return b"".join(envelope_parts(request_id, result, error))
