"""A read-only hg and git server over HTTP, in this process, for tests.

It serves the repositories in one folder with the real wire protocols:
Mercurial's ``hgweb`` WSGI application for ``<folder>/hg/<name>`` at
``/hg/<name>``, and dulwich's smart-HTTP WSGI application (upload-pack only:
nobody can push) for ``<folder>/git/<name>`` at ``/git/<name>``.

The WSGI applications run on a thread pool of their own through
``twisted.web.wsgi.WSGIResource``: the reactor thread is never blocked, so
kallithead (whose clones and pulls run on its VCS threads in this same
process) can talk to it while the test waits on the reactor.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dulwich.errors import NotGitRepository
from dulwich.repo import Repo
from dulwich.server import Backend, UploadPackHandler
from dulwich.web import make_wsgi_chain
from mercurial import ui as uimod
from mercurial.hgweb import hgweb
from twisted.internet import reactor
from twisted.internet.interfaces import IListeningPort
from twisted.protocols.policies import WrappingFactory
from twisted.python.threadpool import ThreadPool
from twisted.web.pages import notFound
from twisted.web.resource import IResource, Resource
from twisted.web.server import Site
from twisted.web.wsgi import WSGIResource

try:
    from mercurial import initialization
except ImportError:  # older Mercurial registers everything on import
    initialization = None

if initialization is not None:
    initialization.init()

_NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _hg_ui() -> Any:
    """A quiet ui with Mercurial's bundled defaults and no user hgrc."""
    ui = uimod.ui()
    for resource in uimod.rcutil.default_rc_resources():
        ui.read_resource_config(resource, trust=True)
    ui.setconfig(b"ui", b"interactive", b"false")
    ui.setconfig(b"ui", b"quiet", b"true")
    return ui


def _hg_app(path: Path) -> WsgiApp:
    """An hgweb for one repository, made fresh for each request so that it
    always shows the repository as it is now."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return hgweb(os.fsencode(path), baseui=_hg_ui())(environ, start_response)

    return app


def _without_chunking(app: WsgiApp) -> WsgiApp:
    """Twisted has already undone a chunked request body: do not let dulwich
    try to undo it a second time."""

    def filtered(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return app(environ, start_response)

    return filtered


class _Repositories(Resource):
    """``/hg/<name>``: an hgweb for the repository ``<folder>/<name>``."""

    def __init__(self, folder: Path, make: Callable[[str], Resource]) -> None:
        super().__init__()
        self._folder = folder
        self._make = make

    def getChild(self, path: bytes, request: Any) -> IResource:
        name = path.decode("utf-8", "replace")
        if not _NAME.match(name) or name.startswith("."):
            return notFound()
        if not (self._folder / name).is_dir():
            return notFound()
        return self._make(name)


class _GitFolder(Backend):
    """dulwich's view of ``folder``: ``/<name>`` is the repository
    ``folder/<name>`` (bare or not); nothing else is."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def open_repository(self, path: str | bytes) -> Repo:
        text = path.decode("utf-8", "replace") if isinstance(path, bytes) else path
        name = text.strip("/")
        target = self._folder / name
        if not _NAME.match(name) or name.startswith(".") or not target.is_dir():
            raise NotGitRepository(f"no repository {path!r}")
        return Repo(str(target))


class VcsHttpServer:
    """Serve ``folder/hg/*`` and ``folder/git/*`` on 127.0.0.1, any free port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.hg_folder = folder / "hg"
        self.git_folder = folder / "git"
        self.hg_folder.mkdir(parents=True, exist_ok=True)
        self.git_folder.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPool(minthreads=1, maxthreads=8, name="vcs-http")
        self._port: IListeningPort | None = None
        self._connections: WrappingFactory | None = None
        git_app = _without_chunking(
            make_wsgi_chain(
                _GitFolder(self.git_folder),
                handlers={b"git-upload-pack": UploadPackHandler},
            )
        )
        self._git_resource = WSGIResource(reactor, self._pool, git_app)

    def _hg_resource(self, name: str) -> Resource:
        return WSGIResource(reactor, self._pool, _hg_app(self.hg_folder / name))

    async def start(self) -> None:
        root = Resource()
        root.putChild(b"hg", _Repositories(self.hg_folder, self._hg_resource))
        root.putChild(b"git", self._git_resource)
        site = Site(root)
        site.displayTracebacks = False
        # The wrapper keeps a list of the open connections, to cut on stop.
        self._connections = WrappingFactory(site)
        self._port = reactor.listenTCP(0, self._connections, interface="127.0.0.1")
        self._pool.start()

    async def stop(self) -> None:
        """Stop listening, cut open connections, stop the threads (always:
        a thread pool left running would keep the test process alive)."""
        try:
            if self._port is not None:
                port, self._port = self._port, None
                await port.stopListening()
            if self._connections is not None:
                connections, self._connections = self._connections, None
                for connection in list(connections.protocols):
                    connection.transport.abortConnection()
        finally:
            self._pool.stop()

    @property
    def base_url(self) -> str:
        assert self._port is not None
        return f"http://127.0.0.1:{self._port.getHost().port}"

    def url(self, kind: str, name: str) -> str:
        """The URL of the repository ``name`` of ``kind`` ("hg" or "git")."""
        return f"{self.base_url}/{kind}/{name}"

    def path(self, kind: str, name: str) -> Path:
        """Where a served repository of ``kind`` called ``name`` lives."""
        return self.folder / kind / name
