"""The JSON-RPC envelope: Kallithea's framing, checks and error rendering.

A request body goes through the steps of API-SPEC.md 1.4 in order; the first
that fails answers ``{"id": ..., "result": null, "error": "<message>"}``. The
HTTP status is 200 whatever happens; the web layer only hands over the body.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.logger import Logger

from kallithead.api.context import CallContext, Services
from kallithead.api.encoding import dumps, envelope_parts
from kallithead.api.registry import Registry
from kallithead.auth.ipaddr import address_allowed
from kallithead.auth.secrets import looks_like_api_key
from kallithead.errors import INTERNAL_ERROR_MESSAGE, AccessDenied, ApiError

log = Logger()

REQUIRED_KEYS = ("api_key", "id", "method", "args")
ENCODING_ERROR_MESSAGE = "Error encoding response"


@dataclass(frozen=True)
class Body:
    """The request body as the web layer received it.

    ``data`` is None when the request announced no body at all (neither a
    Content-Length nor chunked encoding); ``too_large`` when it went past the
    size limit and was discarded while it arrived.
    """

    data: bytes | None
    too_large: bool = False
    limit: int = 0


class _Reply(Exception):
    """Ends processing early with an error message for ``request_id``."""

    def __init__(self, message: str, request_id: Any = None) -> None:
        self.message = message
        self.request_id = request_id


def render(
    request_id: Any, result: Any = None, error: str | None = None
) -> list[bytes]:
    """The response document, on one line, in pieces to send in order."""
    try:
        return envelope_parts(request_id, result, error)
    except (TypeError, ValueError):
        if error is None:
            log.failure("Cannot encode the result of request {id!r}", id=request_id)
        return [
            dumps({"id": request_id, "result": None, "error": ENCODING_ERROR_MESSAGE})
        ]


class JsonRpc:
    """Turns request bodies into response bodies (as pieces: a long result
    is sent without first being joined into one buffer)."""

    def __init__(
        self,
        registry: Registry,
        services: Services,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = registry
        self._services = services
        self._clock = clock

    async def handle(self, body: Body, client_ip: str, site_url: str) -> list[bytes]:
        try:
            return await self._handle(body, client_ip, site_url)
        except _Reply as reply:
            return render(reply.request_id, error=reply.message)

    async def _handle(self, body: Body, client_ip: str, site_url: str) -> list[bytes]:
        request = self._parse(body)
        request_id = request["id"]

        caller = await self._services.users.authenticate(
            request["api_key"], self._clock()
        )
        if caller is None:
            raise _Reply("Invalid API key", request_id)
        if not address_allowed(client_ip, caller.ip_whitelist):
            raise _Reply(f"request from IP:{client_ip} not allowed", request_id)

        name = request["method"]
        if isinstance(name, str) and name.startswith("_"):
            raise _Reply("Method not allowed", request_id)
        method = self._registry.get(name) if isinstance(name, str) else None
        if method is None:
            raise _Reply(f"No such method: {name}", request_id)

        args = request["args"] if isinstance(request["args"], dict) else {}
        ctx = CallContext(
            caller=caller,
            client_ip=client_ip,
            site_url=site_url,
            services=self._services,
        )
        try:
            bound = method.bind(args)
            if method.gate is not None and not method.gate.allows(ctx):
                raise AccessDenied()
            result = await method.function(ctx, **bound)
        except ApiError as e:
            return render(request_id, error=e.message)
        except Exception:
            log.failure(
                "API method {method} failed (caller {user})",
                method=method.name,
                user=caller.username,
            )
            return render(request_id, error=INTERNAL_ERROR_MESSAGE)
        return render(request_id, result=result)

    def _parse(self, body: Body) -> dict[str, Any]:
        if body.too_large:
            raise _Reply(f"Request body too large: the limit is {body.limit} bytes")
        if body.data is None:
            raise _Reply("No Content-Length in request")
        if not body.data:
            raise _Reply("Content-Length is 0")
        try:
            request = json.loads(body.data)
        except (ValueError, RecursionError) as e:
            # Bad UTF-8 raises UnicodeDecodeError, a ValueError; absurdly deep
            # nesting raises RecursionError.
            raise _Reply(f"JSON parse error ERR:{e} RAW:{body.data!r}") from None

        if not isinstance(request, dict):
            raise _Reply("Incorrect JSON query missing 'api_key'")
        for key in REQUIRED_KEYS:
            if key not in request:
                echoed = request["id"] if key in ("method", "args") else None
                raise _Reply(f"Incorrect JSON query missing '{key}'", echoed)
        if not looks_like_api_key(request["api_key"]):
            raise _Reply("Invalid API key", request["id"])
        return request
