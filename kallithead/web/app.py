"""The Klein application: routes, request bodies and the site that serves them."""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from typing import Any

from klein import Klein
from twisted.internet import defer
from twisted.web import server
from twisted.web.iweb import IRequest

from kallithead.api.rpc import Body, JsonRpc
from kallithead.auth.ipaddr import client_address
from kallithead.config import Network

JSON_CONTENT_TYPE = b"application/json"


class BodyLimitedRequest(server.Request):
    """A request that stops storing its body past ``max_body_size`` bytes.

    The bytes of a larger body are still read off the connection (the
    client is sending them) but thrown away as they arrive, so a huge body
    costs neither memory nor disk. ``body_too_large`` tells the handler.
    """

    max_body_size = 10 * 1024 * 1024
    body_too_large = False
    _body_received = 0

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > self.max_body_size:
            self.body_too_large = True
            self.content = io.BytesIO()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.body_too_large:
            return
        self._body_received += len(data)
        if self._body_received > self.max_body_size:
            self.body_too_large = True
            self.content.close()
            self.content = io.BytesIO()
            return
        super().handleContentChunk(data)


def make_site(resource: Any, max_body_size: int) -> server.Site:
    return server.Site(resource, requestFactory=_limited_request_class(max_body_size))


@functools.cache
def _limited_request_class(max_body_size: int) -> type[BodyLimitedRequest]:
    return type(
        "BodyLimitedRequest",
        (BodyLimitedRequest,),
        {"max_body_size": max_body_size},
    )


def read_body(request: IRequest, limit: int) -> Body:
    """The request body as the JSON-RPC envelope wants to see it."""
    if getattr(request, "body_too_large", False):
        return Body(data=None, too_large=True, limit=limit)
    announced = request.getHeader("content-length") is not None or (
        request.getHeader("transfer-encoding") is not None
    )
    if not announced:
        return Body(data=None)
    request.content.seek(0)
    return Body(data=request.content.read())


class WebApp:
    """The HTTP face of kallithead; one instance per running daemon."""

    app = Klein()

    def __init__(
        self,
        rpc: JsonRpc,
        max_body_size: int,
        trusted_proxies: Sequence[Network] = (),
    ) -> None:
        self._rpc = rpc
        self._max_body_size = max_body_size
        self._trusted_proxies = tuple(trusted_proxies)
        self._in_flight = 0
        self._drained: list[defer.Deferred[None]] = []

    def resource(self) -> Any:
        return self.app.resource()

    def client_ip(self, request: IRequest) -> str:
        peer = getattr(request.getClientAddress(), "host", None)
        return client_address(
            peer,
            request.getHeader("x-forwarded-for"),
            request.getHeader("x-real-ip"),
            self._trusted_proxies,
        )

    @app.route("/_admin/api", branch=False)
    @app.route("//_admin/api", branch=False)
    async def api(self, request: IRequest) -> bytes:
        self._in_flight += 1
        try:
            body = read_body(request, self._max_body_size)
            answer = await self._rpc.handle(body, self.client_ip(request))
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._notify_drained()
        request.setHeader(b"content-type", JSON_CONTENT_TYPE)
        request.setHeader(b"content-length", b"%d" % len(answer))
        return answer

    def drain(self) -> defer.Deferred[None]:
        """Fires once no API request is being answered."""
        if not self._in_flight:
            return defer.succeed(None)
        waiting: defer.Deferred[None] = defer.Deferred()
        self._drained.append(waiting)
        return waiting

    def _notify_drained(self) -> None:
        waiting, self._drained = self._drained, []
        for d in waiting:
            d.callback(None)
