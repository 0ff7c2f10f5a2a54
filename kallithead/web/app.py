"""The Klein application: the routes and how they read requests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from klein import Klein
from twisted.web.iweb import IRequest

from kallithead.api.rpc import Body, JsonRpc
from kallithead.auth.ipaddr import client_address, site_url
from kallithead.config import Network
from kallithead.web.body import PiecesBody, response_body
from kallithead.web.vcs import VcsFront

JSON_CONTENT_TYPE = b"application/json"


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
        canonical_url: str = "",
        vcs: VcsFront | None = None,
    ) -> None:
        self._rpc = rpc
        self._vcs = vcs
        self._canonical_url = canonical_url
        self._max_body_size = max_body_size
        self._trusted_proxies = tuple(trusted_proxies)

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

    def site_url(self, request: IRequest) -> str:
        """The configured canonical URL, else where the request was sent."""
        if self._canonical_url:
            return self._canonical_url
        local = request.getHost()
        return site_url(
            request.isSecure(),
            request.getHeader("host"),
            f"{local.host}:{local.port}",
            getattr(request.getClientAddress(), "host", None),
            request.getHeader("x-forwarded-proto"),
            request.getHeader("x-forwarded-host"),
            self._trusted_proxies,
        )

    @app.route("/_admin/api", branch=False)
    @app.route("//_admin/api", branch=False)
    async def api(self, request: IRequest) -> bytes | PiecesBody:
        body = read_body(request, self._max_body_size)
        answer = await self._rpc.handle(
            body, self.client_ip(request), self.site_url(request)
        )
        return response_body(request, answer, JSON_CONTENT_TYPE)

    @app.route("/", branch=True)
    async def repositories(self, request: IRequest) -> Any:
        """Everything else: Mercurial and Git over HTTP (404 for the rest)."""
        if self._vcs is None:
            request.setResponseCode(404)
            return b"Not Found\n"
        return await self._vcs.handle(request, self.client_ip(request))
