"""An asynchronous client for the Kallithea JSON-RPC API, built on treq.

One :class:`KallitheaClient` talks to one server with one API key over a pool
of persistent HTTP connections. Every API call is one POST of the envelope
``{"id", "api_key", "method", "args"}`` to ``<base URL>/_admin/api``; the
answer ``{"id", "result", "error"}`` is checked (HTTP status, JSON shape, the
echoed id) before its result is handed back.

Failures are exceptions that all derive from :class:`ClientError` and carry a
one-line ``message``:

- :class:`ApiError`: the server answered with an error string;
- :class:`TransportError`: no answer (refused, unreachable, timed out, cut);
- :class:`HttpStatusError`: an answer whose HTTP status is not 200;
- :class:`MalformedAnswerError`: a body that is not a JSON-RPC answer, and its
  subclass :class:`IdMismatchError` for an answer to some other request.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from treq.client import HTTPClient
from twisted.internet import defer
from twisted.internet import error as internet_error
from twisted.python.failure import Failure
from twisted.web.client import (
    Agent,
    HTTPConnectionPool,
    RequestTransmissionFailed,
    ResponseFailed,
)
from twisted.web.http_headers import Headers

import kallithead

API_PATH = "/_admin/api"
DEFAULT_TIMEOUT = 60.0
USER_AGENT = f"kallithead-client/{kallithead.__version__}"

# Failures that mean "the server could not be reached or stopped talking".
_TRANSPORT_FAILURES = (
    internet_error.ConnectError,
    internet_error.ConnectingCancelledError,
    internet_error.DNSLookupError,
    internet_error.ConnectionClosed,
    ResponseFailed,
    RequestTransmissionFailed,
)


class ClientError(Exception):
    """A failed API call; ``message`` says why in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ApiError(ClientError):
    """The server answered the call with an error string (``message``)."""

    def __init__(self, message: str, method: str) -> None:
        super().__init__(message)
        self.method = method


class TransportError(ClientError):
    """No answer: the connection was refused, failed, was cut or timed out."""


class HttpStatusError(ClientError):
    """The server (or a proxy in front of it) answered with a status not 200."""

    def __init__(self, message: str, status: int, body: bytes) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class MalformedAnswerError(ClientError):
    """The body of an HTTP 200 answer is not a Kallithea JSON-RPC answer."""


class IdMismatchError(MalformedAnswerError):
    """The answer carries another id than the request it answers."""

    def __init__(self, message: str, sent: Any, received: Any) -> None:
        super().__init__(message)
        self.sent = sent
        self.received = received


@dataclass(frozen=True)
class Answer:
    """A checked answer: the decoded document and its three fields."""

    id: Any
    result: Any
    error: str | None
    document: dict[str, Any]


def api_endpoint(base_url: str) -> str:
    """The API URL for a server's base URL.

    ``base_url`` may end with a slash and may already carry the ``/_admin/api``
    path; a server mounted under a prefix keeps it
    (``https://example.org/kallithea`` gives
    ``https://example.org/kallithea/_admin/api``). Raises ``ValueError`` for
    anything but an http or https URL with a host.
    """
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{base_url!r} is not an http:// or https:// URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{base_url!r} must not carry a query or a fragment")

    path = parts.path.rstrip("/")
    if path.endswith(API_PATH):
        path = path[: -len(API_PATH)].rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path + API_PATH, "", ""))


def _describe(failure: BaseException) -> str:
    """One line on why a request got no answer."""
    if isinstance(failure, ResponseFailed | RequestTransmissionFailed):
        reasons = [
            reason.getErrorMessage()
            for reason in failure.reasons
            if isinstance(reason, Failure)
        ]
        text = "; ".join(reasons) or type(failure).__name__
    else:
        text = str(failure) or type(failure).__name__
    return " ".join(text.split())


def _cancelled(failure: BaseException) -> bool:
    """Whether a request failed only because it was cancelled."""
    if isinstance(failure, defer.CancelledError):
        return True
    if isinstance(failure, ResponseFailed | RequestTransmissionFailed):
        reasons = [r for r in failure.reasons if isinstance(r, Failure)]
        return bool(reasons) and all(r.check(defer.CancelledError) for r in reasons)
    return False


class KallitheaClient:
    """Calls the API of one Kallithea (or kallithead) server with one key.

    ``reactor`` defaults to the global reactor. Without a ``pool`` the client
    makes a persistent connection pool of its own and :meth:`close` closes
    its connections; a pool passed in is left to its owner. ``timeout`` is
    the time in seconds one call may take from connecting to the last byte
    of the answer (``None`` waits for ever).

    The client is an asynchronous context manager that closes itself.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        reactor: Any = None,
        pool: HTTPConnectionPool | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.url = api_endpoint(base_url)
        self._api_key = api_key
        self._reactor = reactor
        self._timeout = timeout
        self._owns_pool = pool is None
        self._pool = pool if pool is not None else HTTPConnectionPool(reactor)
        self._http = HTTPClient(Agent(reactor, pool=self._pool))
        # Ids start at a random point so that an answer meant for another
        # client (a confused proxy, a replay) is unlikely to match by chance.
        self._ids = itertools.count(random.randrange(1, 1 << 30))

    def new_request_id(self) -> int:
        """An id no earlier request of this client has used."""
        return next(self._ids)

    async def call(self, method: str, /, **args: Any) -> Any:
        """Call ``method`` with ``args``; return its result.

        Raises :class:`ApiError` when the server answers with an error, and
        the other :class:`ClientError` subclasses when there is no valid
        answer.
        """
        answer = await self.send(method, args)
        if answer.error is not None:
            raise ApiError(answer.error, method)
        return answer.result

    async def send(
        self,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        request_id: int | None = None,
    ) -> Answer:
        """Send one request and return the checked answer, error or not.

        Unlike :meth:`call` this does not raise for an error the server
        answers with: it is in ``Answer.error``. Everything else that can go
        wrong raises a :class:`ClientError` subclass. ``request_id`` defaults
        to :meth:`new_request_id`. An error answer whose id is null is taken
        as the server's answer too: the server refused the envelope before
        it read the id (a proxy that dropped Content-Length, for example).
        """
        if request_id is None:
            request_id = self.new_request_id()
        request = {
            "id": request_id,
            "api_key": self._api_key,
            "method": method,
            "args": dict(args or {}),
        }
        body = json.dumps(request).encode("utf-8")

        exchange = defer.Deferred.fromCoroutine(self._post(body))
        timer = None
        if self._timeout is not None:
            timer = self._reactor.callLater(self._timeout, exchange.cancel)
        try:
            status, phrase, location, content = await exchange
        except (*_TRANSPORT_FAILURES, defer.CancelledError) as e:
            if timer is not None and not timer.active():
                raise TransportError(
                    f"no answer from {self.url} within {self._timeout:g} seconds"
                ) from None
            if _cancelled(e):
                # Our caller cancelled the call: that is not a transport failure.
                raise defer.CancelledError() from e
            raise TransportError(f"cannot reach {self.url}: {_describe(e)}") from e
        finally:
            if timer is not None and timer.active():
                timer.cancel()

        if status != 200:
            message = f"HTTP {status} {phrase} from {self.url}".rstrip()
            if location:
                message += f" (Location: {location})"
            raise HttpStatusError(message, status, content)
        return self._check(content, request_id)

    async def _post(self, body: bytes) -> tuple[int, str, str, bytes]:
        headers = Headers(
            {
                b"Content-Type": [b"application/json"],
                b"User-Agent": [USER_AGENT.encode("ascii")],
            }
        )
        response = await self._http.post(
            self.url,
            data=body,
            headers=headers,
            allow_redirects=False,
            reactor=self._reactor,
        )
        content = await response.content()
        phrase = response.phrase.decode("latin-1")
        location = response.headers.getRawHeaders(b"Location", [b""])[0]
        return response.code, phrase, location.decode("latin-1"), content

    def _check(self, content: bytes, request_id: int) -> Answer:
        try:
            document = json.loads(content)
        except (ValueError, RecursionError):
            raise MalformedAnswerError(
                f"the answer from {self.url} is not JSON: {_excerpt(content)}"
            ) from None
        if not isinstance(document, dict):
            raise MalformedAnswerError(
                f"the answer from {self.url} is not a JSON object: {_excerpt(content)}"
            )
        missing = [key for key in ("id", "result", "error") if key not in document]
        if missing:
            raise MalformedAnswerError(
                f"the answer from {self.url} lacks {', '.join(missing)}: "
                f"{_excerpt(content)}"
            )
        error = document["error"]
        if error is not None and not isinstance(error, str):
            raise MalformedAnswerError(
                f"the answer from {self.url} has an error that is not a string: "
                f"{_excerpt(content)}"
            )

        received = document["id"]
        refused_early = received is None and error is not None
        mismatch = type(received) is not type(request_id) or received != request_id
        if mismatch and not refused_early:
            raise IdMismatchError(
                f"the answer from {self.url} has id {json.dumps(received)} "
                f"but the request had id {request_id}",
                request_id,
                received,
            )
        return Answer(received, document["result"], error, document)

    async def close(self) -> None:
        """Close the connections of the client's own pool."""
        if self._owns_pool:
            await self._pool.closeCachedConnections()

    async def __aenter__(self) -> KallitheaClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def _excerpt(content: bytes, limit: int = 80) -> str:
    """The start of a body, on one line, for an error message."""
    text = " ".join(content.decode("utf-8", "replace").split())
    if not text:
        return "(empty body)"
    return text if len(text) <= limit else text[:limit] + "..."
