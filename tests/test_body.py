"""Response bodies sent in pieces (kallithead.web.body), over real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from io import BytesIO

import pytest
import pytest_twisted
from twisted.internet import defer, protocol, reactor, task
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.iweb import IResponse
from twisted.web.resource import Resource

from kallithead.vcs.git import BACKEND as GIT_BACKEND
from kallithead.vcs.hg import BACKEND as HG_BACKEND
from kallithead.web.body import CHUNK_SIZE, PiecesBody, response_body
from kallithead.web.site import KallitheadSite

from .test_repos import repos_root

CHUNK = CHUNK_SIZE

# Twisted's own readBody warns about its client transport; not ours to mend.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Using readBody with a transport:DeprecationWarning"
)


class _Root(Resource):
    isLeaf = True

    def __init__(self, pieces: Sequence[bytes]) -> None:
        super().__init__()
        self.pieces = pieces
        self.requests: list[object] = []

    def render(self, request):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        answer = response_body(request, self.pieces, b"text/plain")
        if isinstance(answer, PiecesBody):
            return answer.render(request)
        return answer


class Served:
    """A KallitheadSite on an ephemeral port answering every request with
    ``pieces``."""

    def __init__(self, site: KallitheadSite, root: _Root, port: object) -> None:
        self.site = site
        self.root = root
        self.port = port

    @property
    def number(self) -> int:
        return self.port.getHost().port  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.number}/"


async def fetch(url: str) -> tuple[IResponse, bytes]:
    """A plain GET (no content decoding, which would hide Content-Length)."""
    response = await Agent(reactor).request(b"GET", url.encode())
    return response, await readBody(response)


async def serve(pieces: Sequence[bytes]) -> Served:
    root = _Root(pieces)
    site = KallitheadSite(root, max_body_size=1024, access_log=False)
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(site)
    return Served(site, root, port)


@pytest.fixture
def piece_sizes() -> list[int]:
    # Tiny pieces, empty ones, pieces at and around the chunk size, and
    # pieces several chunks long, so that chunks both gather and slice.
    return [
        0,
        1,
        7,
        0,
        CHUNK - 1,
        1,
        CHUNK,
        CHUNK + 1,
        *[13] * 5000,
        3 * CHUNK + 17,
        0,
        2,
        CHUNK // 2,
        CHUNK // 2 + 1,
        0,
    ]


def make_pieces(sizes: Sequence[int]) -> list[bytes]:
    """Pieces of the given sizes, each filled with its own letter cycle, so
    a lost, repeated or reordered chunk changes the body."""
    return [
        bytes((65 + (number + i) % 26) for i in range(size))
        for number, size in enumerate(sizes)
    ]


@pytest_twisted.async_yield_fixture
async def pieces_server(piece_sizes: list[int]) -> AsyncIterator[Served]:
    served = await serve(make_pieces(piece_sizes))
    yield served
    await served.port.stopListening()  # type: ignore[attr-defined]


@pytest_twisted.ensureDeferred
async def test_a_body_in_pieces_arrives_whole_and_in_order(pieces_server, piece_sizes):
    response, content = await fetch(pieces_server.url)
    assert len(content) == sum(piece_sizes)
    assert content == b"".join(make_pieces(piece_sizes))
    assert response.length == sum(piece_sizes)
    assert response.headers.getRawHeaders(b"content-type") == [b"text/plain"]
    assert pieces_server.site.requests_in_flight == 0


@pytest_twisted.ensureDeferred
async def test_a_small_body_is_sent_at_once():
    served = await serve([b"small", b" ", b"answer"])
    try:
        response, content = await fetch(served.url)
        assert content == b"small answer"
        assert response.length == 12
    finally:
        await served.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_an_empty_body_in_pieces():
    served = await serve([b"", b""])
    try:
        response, content = await fetch(served.url)
        assert content == b""
        assert response.length == 0
    finally:
        await served.port.stopListening()


class SlowReader(protocol.Protocol):
    """Sends one request, then reads only when told to."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.first_data: defer.Deferred[None] = defer.Deferred()
        self.closed: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        self.transport.write(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if not self.first_data.called:
            self.transport.pauseProducing()
            self.first_data.callback(None)

    def connectionLost(self, reason: object) -> None:
        self.closed.callback(None)


async def connect_slow_reader(served: Served) -> SlowReader:
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", served.number)
    reader = SlowReader()
    await endpoint.connect(protocol.Factory.forProtocol(lambda: reader))
    await reader.first_data
    return reader


# A body far larger than what the loopback socket buffers can hold, made of
# one repeated piece so that it costs little memory.
HUGE_PIECES = [bytes(range(256)) * 256] * 1200  # 75 MiB


@pytest_twisted.ensureDeferred
async def test_a_reader_that_stops_reading_holds_the_producer_not_memory():
    served = await serve(HUGE_PIECES)
    try:
        reader = await connect_slow_reader(served)
        await task.deferLater(reactor, 0.3, lambda: None)
        # The answer cannot have been written out: the producer waits.
        assert served.site.requests_in_flight == 1
        (request,) = served.root.requests
        transport = request.channel.transport
        assert transport._tempDataLen + len(transport.dataBuffer) < 4 * CHUNK
        reader.transport.resumeProducing()
        reader.transport.loseConnection()
        await reader.closed
    finally:
        await served.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_client_gone_mid_body_ends_the_request():
    served = await serve(HUGE_PIECES)
    try:
        reader = await connect_slow_reader(served)
        assert served.site.requests_in_flight == 1
        reader.transport.abortConnection()
        await reader.closed
        for _ in range(50):
            if served.site.requests_in_flight == 0:
                break
            await task.deferLater(reactor, 0.02, lambda: None)
        assert served.site.requests_in_flight == 0
        # The site keeps answering.
        _response, content = await fetch(served.url)
        assert len(content) == sum(map(len, HUGE_PIECES))
    finally:
        await served.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_get_repos_larger_than_one_chunk_over_http(server, tmp_path):
    # Enough empty repositories for an answer of several chunks.
    names = [
        f"many/repository-{number:03d}-with-a-longer-name" for number in range(400)
    ]
    (repos_root(server) / "many").mkdir()
    for number, name in enumerate(names):
        backend = HG_BACKEND if number % 2 else GIT_BACKEND
        backend.create(repos_root(server) / name)
    rescan = await server.call("rescan_repos")
    assert len(rescan.result["added"]) == len(names)
    body = json.dumps(
        {"id": 7, "api_key": server.admin_key, "method": "get_repos", "args": {}}
    ).encode()
    response = await Agent(reactor).request(
        b"POST", server.api_url.encode(), bodyProducer=FileBodyProducer(BytesIO(body))
    )
    content = await readBody(response)
    assert len(content) > 2 * CHUNK
    assert response.length == len(content)
    document = json.loads(content)
    assert (document["id"], document["error"]) == (7, None)
    assert sorted(repo["repo_name"] for repo in document["result"]) == names
