"""The ceiling for ``api_bench.py``: a bare Klein route with a constant answer.

It accepts ``POST /_admin/api`` and answers every request with the same small
JSON document, shaped like a successful JSON-RPC reply, without looking at the
body. Whatever this reaches on a machine is about the most any route on
Twisted's HTTP server can reach there, so the API figures are read against it.

Run it as ``python bench/ceiling_app.py [--port PORT]``. It listens on
127.0.0.1 only; port 0 (the default) picks a free port. Once listening it
prints the port number on a line of its own on stdout, then serves until it
gets SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import sys

from klein import Klein
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.server import Site

CONSTANT_REPLY = b'{"id": 1, "result": "ceiling", "error": null}'


class CeilingApp:
    """One route, no database, no parsing: the cheapest possible answer."""

    app = Klein()

    @app.route("/_admin/api", methods=["POST"])
    def api(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"content-length", b"%d" % len(CONSTANT_REPLY))
        return CONSTANT_REPLY


class Startup:
    """Reports the outcome of listening: the port on stdout, or the failure."""

    def __init__(self) -> None:
        self.failed = False

    def listening(self, port: IListeningPort) -> None:
        print(port.getHost().port, flush=True)

    def could_not_listen(self, failure: Failure) -> None:
        print(
            f"ceiling_app: cannot listen: {failure.getErrorMessage()}", file=sys.stderr
        )
        self.failed = True
        reactor.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)"
    )
    options = parser.parse_args()

    site = Site(CeilingApp().app.resource())
    endpoint = TCP4ServerEndpoint(reactor, options.port, interface="127.0.0.1")
    startup = Startup()
    endpoint.listen(site).addCallbacks(startup.listening, startup.could_not_listen)

    reactor.run()
    return 1 if startup.failed else 0


if __name__ == "__main__":
    sys.exit(main())
