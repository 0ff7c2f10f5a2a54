"""Mercurial and Git over HTTP: clone, pull and push of hosted repositories.

``/<name>?cmd=...`` is Mercurial's wire protocol (served by ``hgweb``);
``/<name>/info/refs?service=git-...``, ``/<name>/git-upload-pack`` and
``/<name>/git-receive-pack`` are Git's smart HTTP (served by ``dulwich.web``).
Who may do what is decided here, before either application runs:

- HTTP Basic credentials name a user by its password, or by one of its API
  keys (for accounts without a password); without credentials the request
  is the `default` user's. The user's IP whitelist applies as in the API.
- Reading needs repository.read or better, pushing repository.write.
  Refused anonymous requests get 401 and a Basic challenge, refused users
  403, unknown repositories 404.
- A stored lock (API-SPEC.md 6.1) refuses with 423 every transfer of
  changesets out (including to its holder) and every push but its holder's.
  With ``enable_locking`` on, a pull by a user who may write locks the
  repository, and the holder's push releases the lock.

The applications run on a thread pool of their own (``[vcs]
serve_pool_size``) through ``WSGIResource``, never on the reactor thread.
After a push the repository's tip is read again and every process is told
to rebuild what it cached.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from dulwich.repo import Repo
from dulwich.server import DictBackend
from dulwich.web import make_wsgi_chain
from mercurial import wireprotov1server
from mercurial.hgweb import hgweb
from twisted.internet import defer, threads
from twisted.internet.interfaces import IReactorThreads
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool
from twisted.web.iweb import IRequest
from twisted.web.wsgi import WSGIResource

from kallithead.api.context import Services
from kallithead.auth.ipaddr import address_allowed
from kallithead.db.names import DEFAULT_USERNAME
from kallithead.db.repos import STATE_CREATED, RepoRecord
from kallithead.db.users import Caller
from kallithead.vcs import hg as hg_backend
from kallithead.vcs.layout import InvalidName, check_name

log = Logger()

READ = frozenset({"repository.read", "repository.write", "repository.admin"})
WRITE = frozenset({"repository.write", "repository.admin"})
REALM = b'Basic realm="Kallithea"'
LOCKED = 423

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Mercurial commands that change the repository; every other is a read.
_HG_WRITES = frozenset({b"unbundle", b"pushkey"})
# Those that send changesets out.
_HG_PULLS = frozenset(
    {b"getbundle", b"changegroup", b"changegroupsubset", b"stream_out"}
)
_GIT_SERVICES = ("git-upload-pack", "git-receive-pack")
# The pkt-line that ends the last round of a git fetch.
_DONE = b"0009done\n"
_TAIL = len(_DONE) + 4


@dataclass(frozen=True)
class WireRequest:
    """What a request asks of which repository."""

    repo_name: str
    alias: str
    # It changes the repository (a push, or the start of one).
    push: bool
    # It carries changesets: out of the repository (a pull's data) or into
    # it (a push's data). Locks are checked on these only.
    transfer: bool
    # PATH_INFO as the application wants to see it.
    path_info: str


def parse_wire_request(
    path: bytes, args: dict[bytes, list[bytes]], method: bytes
) -> WireRequest | None:
    """The hg or git request that ``path`` and its query make, or None."""
    try:
        text = unquote(path.decode("ascii"), errors="strict").strip("/")
    except (UnicodeDecodeError, ValueError):
        return None
    if b"cmd" in args:
        command = args[b"cmd"][0]
        if command not in wireprotov1server.commands:
            return None  # hgweb's web pages are not served
        push = command in _HG_WRITES
        transfer = push or command in _HG_PULLS
        return WireRequest(text, "hg", push, transfer, "/")
    if text.endswith("/info/refs") and method in (b"GET", b"HEAD"):
        service = args.get(b"service", [b""])[0].decode("ascii", "replace")
        if service not in _GIT_SERVICES:
            return None  # the dumb protocol is not served
        name = text[: -len("/info/refs")]
        return WireRequest(
            name, "git", service == "git-receive-pack", False, "/info/refs"
        )
    for service in _GIT_SERVICES:
        if text.endswith("/" + service) and method == b"POST":
            name = text[: -len(service) - 1]
            push = service == "git-receive-pack"
            return WireRequest(name, "git", push, True, "/" + service)
    return None


def basic_credentials(header: bytes | None) -> tuple[str, str] | None:
    """(user name, password) of an ``Authorization: Basic`` header."""
    if not header:
        return None
    scheme, _, encoded = header.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


def _hg_app(path: Path, username: str) -> WsgiApp:
    """hgweb for one repository; authorisation is done already, so it lets
    whoever gets here push, over plain HTTP too."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        ui = hg_backend.serving_ui()
        environ["REMOTE_USER"] = username
        return hgweb(os.fsencode(path), baseui=ui)(environ, start_response)

    return app


def _git_app(path: Path) -> WsgiApp:
    """dulwich's smart HTTP for one repository, closed when answered."""

    def app(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterator[bytes]:
        repository = Repo(str(path))
        try:
            chain = make_wsgi_chain(DictBackend({"/": repository}))
            yield from chain(environ, start_response)
        finally:
            repository.close()

    return app


def _with_environ(app: WsgiApp, path_info: str, length: int) -> WsgiApp:
    """The application sees only its own path, and a body Twisted has
    already taken out of any chunked encoding, with its real length."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ["SCRIPT_NAME"] = ""
        environ["PATH_INFO"] = path_info
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["CONTENT_LENGTH"] = str(length)
        return app(environ, start_response)

    return wrapped


def _completes_a_pull(wire: WireRequest, request: IRequest) -> bool:
    """Whether this request ends a pull. Mercurial's getbundle does; a git
    fetch may take several rounds of upload-pack, and only the last one
    says "done" (a pkt-line, in a body that may be gzipped)."""
    if wire.alias == "hg":
        return True
    content = request.content
    try:
        if request.getHeader(b"content-encoding") == b"gzip":
            tail = gzip.decompress(content.read())[-_TAIL:]
        else:
            size = content.seek(0, os.SEEK_END)
            content.seek(max(0, size - _TAIL))
            tail = content.read()
        # "done" is the last line of the request (protocol version 2 adds a
        # flush-pkt after it).
        return tail.endswith(_DONE) or tail.endswith(_DONE + b"0000")
    except (OSError, EOFError):
        return False
    finally:
        content.seek(0)


class Refusal(Exception):
    def __init__(self, code: int, message: str, challenge: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.challenge = challenge


class VcsFront:
    """Serves the wire protocols for the repositories in ``services``."""

    def __init__(
        self, reactor: IReactorThreads, pool: ThreadPool, services: Services
    ) -> None:
        self._reactor = reactor
        self._pool = pool
        self._services = services

    async def handle(self, request: IRequest, client_ip: str) -> Any:
        """A resource that answers ``request``, or the bytes of a refusal."""
        wire = parse_wire_request(request.path, request.args, request.method)
        try:
            if wire is None:
                raise Refusal(404, "Not Found")
            if getattr(request, "body_too_large", False):
                raise Refusal(413, "Request Entity Too Large")
            record = await self._repository(wire)
            caller = await self._caller(request, client_ip)
            await self._check_access(caller, record, wire)
            self._check_lock(caller, record, wire)
        except Refusal as refusal:
            return self._refuse(request, refusal)
        return self._serve(request, wire, record, caller, client_ip)

    async def _repository(self, wire: WireRequest) -> RepoRecord:
        try:
            check_name(wire.repo_name)
        except InvalidName:
            raise Refusal(404, "Not Found") from None
        record = await self._services.repositories.store.find_named(wire.repo_name)
        if (
            record is None
            or record.repo_type != wire.alias
            or record.repo_state != STATE_CREATED
        ):
            raise Refusal(404, "Not Found")
        return record

    async def _caller(self, request: IRequest, client_ip: str) -> Caller:
        users = self._services.users
        header = request.getHeader(b"authorization")
        if header is None:
            caller = await users.anonymous()
        else:
            credentials = basic_credentials(header)
            caller = None
            if credentials is not None:
                caller = await users.login(*credentials, time.time())
        if caller is None:
            raise Refusal(401, "Unauthorized", challenge=True)
        if not address_allowed(client_ip, caller.ip_whitelist):
            raise Refusal(403, f"request from IP:{client_ip} not allowed")
        return caller

    async def _check_access(
        self, caller: Caller, record: RepoRecord, wire: WireRequest
    ) -> None:
        needed = WRITE if wire.push else READ
        if caller.admin:
            return
        permissions = await self._services.users.permissions_of(caller.user_id)
        if permissions.repositories.get(record.repo_name) not in needed:
            if caller.username == DEFAULT_USERNAME:
                raise Refusal(401, "Unauthorized", challenge=True)
            raise Refusal(403, "Forbidden")

    def _check_lock(
        self, caller: Caller, record: RepoRecord, wire: WireRequest
    ) -> None:
        if record.locked_by is None or not wire.transfer:
            return
        if wire.push and record.locked_by.user_id == caller.user_id:
            return
        raise Refusal(
            LOCKED,
            f"Repository `{record.repo_name}` locked by user "
            f"`{record.locked_by.username}`",
        )

    def _refuse(self, request: IRequest, refusal: Refusal) -> bytes:
        request.setResponseCode(refusal.code, refusal.message.encode("utf-8"))
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        if refusal.challenge:
            request.setHeader(b"www-authenticate", REALM)
        return refusal.message.encode("utf-8") + b"\n"

    def _serve(
        self,
        request: IRequest,
        wire: WireRequest,
        record: RepoRecord,
        caller: Caller,
        client_ip: str,
    ) -> WSGIResource:
        path = self._services.repositories.path_of(record)
        app = _hg_app(path, caller.username) if wire.alias == "hg" else _git_app(path)
        length = request.content.seek(0, os.SEEK_END)
        request.content.seek(0)
        app = _with_environ(app, wire.path_info, length)
        if wire.transfer:
            app = self._then(app, request, wire, record, caller, client_ip)
        return WSGIResource(self._reactor, self._pool, app)

    def _then(
        self,
        app: WsgiApp,
        request: IRequest,
        wire: WireRequest,
        record: RepoRecord,
        caller: Caller,
        client_ip: str,
    ) -> WsgiApp:
        """``app``, followed by the bookkeeping of the transfer once its
        answer is written and before the response ends: a client that sees
        its push done sees the new tip through the API too."""
        reactor = self._reactor

        def bookkeeping() -> None:
            try:
                threads.blockingCallFromThread(
                    reactor,
                    lambda: defer.Deferred.fromCoroutine(
                        self._record_transfer(wire, record, caller, client_ip)
                    ),
                )
            except Exception:
                log.failure(
                    "Bookkeeping after a {action} of {name} failed",
                    action="push" if wire.push else "pull",
                    name=record.repo_name,
                )

        def after(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            if wire.push:
                # A push's answer is a short report; clients stop reading
                # at its end, so all of it (written through the iterable or
                # through start_response's write, as dulwich does) is held
                # back until the tip is stored.
                held: list[bytes] = []

                def holding(*args: Any) -> Callable[[bytes], None]:
                    start_response(*args)
                    return held.append

                answer = app(environ, holding)
                try:
                    held.extend(answer)
                finally:
                    close = getattr(answer, "close", None)
                    if close is not None:
                        close()
                bookkeeping()
                yield from held
            else:
                # Read here, on a serving thread: the body may be gzipped.
                completes = _completes_a_pull(wire, request)
                yield from app(environ, start_response)
                if completes:
                    bookkeeping()

        return after

    async def _record_transfer(
        self, wire: WireRequest, record: RepoRecord, caller: Caller, client_ip: str
    ) -> None:
        """After changesets went out or came in: the journal, the lock, and
        after a push the tip and everyone's caches."""
        repositories = self._services.repositories
        store = repositories.store
        action = "push" if wire.push else "pull"
        await store.journal(
            caller.user_id,
            caller.username,
            record.repo_id,
            record.repo_name,
            client_ip,
            action,
        )
        if wire.push:
            await repositories.invalidate(record)
            if record.enable_locking and record.locked_by is not None:
                await store.set_lock(record.repo_id, None, None)
            return
        if record.enable_locking and record.locked_by is None:
            permissions = await self._services.users.permissions_of(caller.user_id)
            level = permissions.repositories.get(record.repo_name)
            if caller.admin or level in WRITE:
                await store.set_lock(record.repo_id, caller.user_id, time.time())
