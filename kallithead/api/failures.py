"""Turning unexpected failures of a method's work into its Kallithea message.

Kallithea wraps the real work of most methods so that any failure there gives
a method-specific message (``failed to create user `x` ``) instead of
``Internal server error``. ``failing_as`` does the same: errors meant for the
client and refusals pass through, anything else is logged with its traceback
and replaced by the message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from twisted.logger import Logger

from kallithead.errors import ApiError, Refused

log = Logger()


@contextmanager
def failing_as(message: str) -> Iterator[None]:
    try:
        yield
    except (ApiError, Refused):
        raise
    except Exception:
        log.failure("Failed: {message}", message=message)
        raise ApiError(message) from None
