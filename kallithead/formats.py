"""How Kallithea writes dates and times (API-SPEC.md 2.1)."""

from __future__ import annotations

import datetime


def format_datetime(value: datetime.datetime) -> str:
    """ISO 8601, fractions cut (not rounded) to milliseconds.

    Kallithea's datetimes are naive local time and carry no zone; an aware
    UTC value ends in ``Z``, any other offset in ``+HH:MM``.
    """
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond // 1000:03d}"
    offset = value.utcoffset()
    if offset is None:
        return text
    if not offset:
        return text + "Z"
    zone = value.strftime("%z")
    return f"{text}{zone[:3]}:{zone[3:]}"
