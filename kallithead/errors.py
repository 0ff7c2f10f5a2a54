"""Errors a client can cause, each carrying the exact message it gets back.

The JSON-RPC layer renders any ``ApiError`` as ``{"error": message}``. Every
other exception is a server fault: it is logged with its traceback and the
client only sees ``Internal server error``.
"""

from __future__ import annotations

INTERNAL_ERROR_MESSAGE = "Internal server error"
ACCESS_DENIED_MESSAGE = "Access was denied to this resource."


class ApiError(Exception):
    """An error whose message is shown to the client as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AccessDenied(ApiError):
    """The caller lacks the admin flag or a global permission a method needs."""

    def __init__(self) -> None:
        super().__init__(ACCESS_DENIED_MESSAGE)


class NotFound(ApiError):
    """An object named by the client does not exist, or is hidden from it."""

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"{kind} `{format_value(ident)}` does not exist")


def format_value(value: object) -> str:
    """Format a client-supplied JSON value as Kallithea's messages show it.

    Kallithea builds its messages with Python's ``%s``, so strings appear bare,
    ``null`` as ``None`` and booleans as ``True``/``False``.
    """
    return str(value)


class Refused(Exception):
    """A unit of work declined on purpose: a name is taken, a user still owns
    something, ... The API method turns it into its own message."""
