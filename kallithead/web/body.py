"""Sending a response body that comes in pieces.

A large API answer (``get_repos`` over thousands of repositories is several
megabytes) is a list of already encoded pieces. Joining them into one buffer,
and letting the transport join its pending writes into another, costs two
full copies of the answer in freshly mapped memory for every call. Instead
the pieces are gathered into chunks of ``CHUNK_SIZE`` bytes and written one
at a time, as the connection takes them: a push producer that the transport
pauses when its buffer is full and resumes when it has drained.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.interfaces import IPushProducer
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

# Small enough to come from memory the allocator already holds (not a fresh
# mapping each time), large enough that a chunk is a single send.
CHUNK_SIZE = 64 * 1024


def body_length(pieces: Sequence[bytes]) -> int:
    return sum(map(len, pieces))


@implementer(IPushProducer)
class PiecesProducer:
    """Writes ``pieces`` to ``request`` in chunks, then finishes it."""

    def __init__(
        self, request: IRequest, pieces: Sequence[bytes], chunk_size: int = CHUNK_SIZE
    ) -> None:
        self._request = request
        self._pieces = pieces
        self._chunk_size = chunk_size
        self._next = 0  # the first piece not yet written
        self._offset = 0  # how much of that piece is written already
        self._paused = False
        self._done = False

    def start(self) -> None:
        self._request.registerProducer(self, True)
        self._request.notifyFinish().addErrback(self._lost)
        self._produce()

    def _next_chunk(self) -> bytes:
        """Up to ``chunk_size`` bytes: whole small pieces joined, or a slice
        of a large one."""
        pieces, size = self._pieces, self._chunk_size
        piece = pieces[self._next]
        if self._offset or len(piece) >= size:
            chunk = piece[self._offset : self._offset + size]
            self._offset += len(chunk)
            if self._offset == len(piece):
                self._next += 1
                self._offset = 0
            return chunk
        gathered = []
        total = 0
        while self._next < len(pieces):
            piece = pieces[self._next]
            if total and total + len(piece) > size:
                break
            gathered.append(piece)
            total += len(piece)
            self._next += 1
        return b"".join(gathered)

    def _produce(self) -> None:
        # Writing may pause this producer at once (the transport's buffer
        # is full); the loop then waits for resumeProducing.
        while not self._paused and not self._done:
            if self._next == len(self._pieces):
                self._done = True
                self._request.unregisterProducer()
                self._request.finish()
                return
            self._request.write(self._next_chunk())

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._produce()

    def stopProducing(self) -> None:
        self._done = True

    def _lost(self, reason: Failure) -> None:
        # The connection went away: nothing more can be sent.
        self._done = True


class PiecesBody(Resource):
    """A response body of ``pieces`` with the given content type."""

    isLeaf = True

    def __init__(self, pieces: Sequence[bytes], content_type: bytes) -> None:
        super().__init__()
        self._pieces = pieces
        self._content_type = content_type

    def render(self, request: IRequest) -> bytes | int:
        request.setHeader(b"content-type", self._content_type)
        request.setHeader(b"content-length", b"%d" % body_length(self._pieces))
        PiecesProducer(request, self._pieces).start()
        return NOT_DONE_YET


def response_body(
    request: IRequest, pieces: Sequence[bytes], content_type: bytes
) -> bytes | PiecesBody:
    """What a route returns for ``pieces``: the bytes themselves when they
    fit in one chunk, else a resource that streams them."""
    length = body_length(pieces)
    if length > CHUNK_SIZE:
        return PiecesBody(pieces, content_type)
    request.setHeader(b"content-type", content_type)
    request.setHeader(b"content-length", b"%d" % length)
    return b"".join(pieces)
