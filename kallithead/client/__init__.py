"""A Python client for the Kallithea JSON-RPC API, and the ``kallithea-api`` command.

Programs import :class:`KallitheaClient` and the exceptions from here::

    async with KallitheaClient("http://127.0.0.1:5000", key) as client:
        user = await client.call("get_user", userid="admin")

The command lives in :mod:`kallithead.client.cli`.
"""

from kallithead.client.rpc import (
    Answer,
    ApiError,
    ClientError,
    HttpStatusError,
    IdMismatchError,
    KallitheaClient,
    MalformedAnswerError,
    TransportError,
    api_endpoint,
)

__all__ = [
    "Answer",
    "ApiError",
    "ClientError",
    "HttpStatusError",
    "IdMismatchError",
    "KallitheaClient",
    "MalformedAnswerError",
    "TransportError",
    "api_endpoint",
]
