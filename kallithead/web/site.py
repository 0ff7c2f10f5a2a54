"""The HTTP site: body size limit, and what a graceful stop needs to know.

``KallitheadSite`` counts the requests being answered; ``ConnectionTracker``
knows the open connections. Stopping waits for the first count to reach zero,
then closes the connections politely (their pending output is sent first).
"""

from __future__ import annotations

import functools
import io
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IProtocol
from twisted.protocols.policies import WrappingFactory
from twisted.web import server


class BodyLimitedRequest(server.Request):
    """A request that stops storing its body past ``max_body_size`` bytes.

    The bytes of a larger body are still read off the connection (the
    client is sending them) but thrown away as they arrive, so a huge body
    costs neither memory nor disk. ``body_too_large`` tells the handler.
    """

    max_body_size = 10 * 1024 * 1024
    # Pushes over HTTP (every path but the API's) may send more.
    max_push_size = 1024 * 1024 * 1024
    body_too_large = False
    _body_received = 0
    _limit = max_body_size

    def gotLength(self, length: int | None) -> None:
        # The path is known to the channel already (the request learns it
        # only once the body is in).
        path = getattr(self.channel, "_path", b"")
        api = path.split(b"?", 1)[0].lstrip(b"/") == b"_admin/api"
        self._limit = self.max_body_size if api else self.max_push_size
        if length is not None and length > self._limit:
            self.body_too_large = True
            self.content = io.BytesIO()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.body_too_large:
            return
        self._body_received += len(data)
        if self._body_received > self._limit:
            self.body_too_large = True
            self.content.close()
            self.content = io.BytesIO()
            return
        super().handleContentChunk(data)

    def process(self) -> None:
        site = self.channel.site
        site.request_started()
        self.notifyFinish().addBoth(site.request_finished)
        super().process()


@functools.cache
def _request_class(max_body_size: int, max_push_size: int) -> type[BodyLimitedRequest]:
    return type(
        "BodyLimitedRequest",
        (BodyLimitedRequest,),
        {"max_body_size": max_body_size, "max_push_size": max_push_size},
    )


class _Waiters:
    """Deferreds that fire together when some condition is reached."""

    def __init__(self) -> None:
        self._waiting: list[defer.Deferred[None]] = []

    def wait(self, already: bool) -> defer.Deferred[None]:
        if already:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._waiting.append(d)
        return d

    def fire(self) -> None:
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(None)


class KallitheadSite(server.Site):
    """A Site that knows how many requests it is answering."""

    def __init__(
        self,
        resource: Any,
        max_body_size: int,
        access_log: bool,
        max_push_size: int = BodyLimitedRequest.max_push_size,
    ) -> None:
        super().__init__(
            resource, requestFactory=_request_class(max_body_size, max_push_size)
        )
        self.requests_in_flight = 0
        self._idle = _Waiters()
        self._access_log = access_log

    def request_started(self) -> None:
        self.requests_in_flight += 1

    def request_finished(self, result: object) -> None:
        self.requests_in_flight -= 1
        if not self.requests_in_flight:
            self._idle.fire()

    def idle(self) -> defer.Deferred[None]:
        """Fires once no request is being answered."""
        return self._idle.wait(not self.requests_in_flight)

    def log(self, request: server.Request) -> None:
        if self._access_log:
            super().log(request)


class ConnectionTracker(WrappingFactory):
    """Wraps the site to know its open connections, and to close them."""

    def __init__(self, site: KallitheadSite) -> None:
        super().__init__(site)
        self._closed = _Waiters()

    def unregisterProtocol(self, protocol: IProtocol) -> None:
        super().unregisterProtocol(protocol)
        if not self.protocols:
            self._closed.fire()

    def close_all(self) -> defer.Deferred[None]:
        """Close every connection once its output is sent; fires when done."""
        for wrapper in list(self.protocols):
            wrapper.transport.loseConnection()
        return self._closed.wait(not self.protocols)
