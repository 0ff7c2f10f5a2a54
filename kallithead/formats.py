"""How Kallithea writes dates and times (API-SPEC.md 2.1)."""

from __future__ import annotations

import datetime


def format_datetime(value: datetime.datetime) -> str:
    """ISO 8601, fractions cut (not rounded) to milliseconds.

    Kallithea's datetimes are naive local time and carry no zone; an aware
    UTC value ends in ``Z``, any other offset in ``+HH:MM``.
    """
    spec = "milliseconds" if value.microsecond else "seconds"
    offset = value.utcoffset()
    if offset is None:
        return value.isoformat(timespec=spec)
    text = value.replace(tzinfo=None).isoformat(timespec=spec)
    if not offset:
        return text + "Z"
    zone = value.strftime("%z")
    return f"{text}{zone[:3]}:{zone[3:]}"


def python2_float_text(value: float) -> str:
    """``value`` as Python 2's str() wrote a float: 12 significant digits
    (Kallithea 0.2 stored lock times that way)."""
    text = f"{value:.12g}"
    return text if any(c in text for c in ".en") else f"{text}.0"


def lock_time(timestamp: float) -> datetime.datetime:
    """The local time of a lock, read back from the text Kallithea 0.2
    stored for it (so to a hundredth of a second or so)."""
    return datetime.datetime.fromtimestamp(float(python2_float_text(timestamp)))
