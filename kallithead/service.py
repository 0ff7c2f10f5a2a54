"""The root service: wires the components, starts and stops them in order.

The database comes up first and goes down last. On stop, the listening port
closes, requests in flight are answered (up to ``stop_timeout`` seconds),
then the database pool finishes its queue and closes.
"""

from __future__ import annotations

import gc
from typing import Any

from twisted.application.service import MultiService
from twisted.internet import defer, threads
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from kallithead.api import registry
from kallithead.api.context import Services
from kallithead.api.repos import repository_listing
from kallithead.api.rpc import JsonRpc
from kallithead.api.serverinfo import ServerInfo
from kallithead.auth.cache import AccessMemory
from kallithead.config import Settings
from kallithead.db.gists import GistStore
from kallithead.db.grants import GrantStore
from kallithead.db.locks import SharedLock
from kallithead.db.pool import Database
from kallithead.db.pullrequests import PullRequestStore
from kallithead.db.repogroups import RepoGroupStore
from kallithead.db.repos import RepoStore
from kallithead.db.settings import SettingsStore
from kallithead.db.usergroups import UserGroupStore
from kallithead.db.users import UserStore
from kallithead.gists import Gists
from kallithead.repo_groups import RepoGroups
from kallithead.repositories import Repositories
from kallithead.tasks.rescan import RescanTimer, Scanner
from kallithead.threads import WorkerPool
from kallithead.vcs import git, hg
from kallithead.vcs.layout import RepositoryRoot
from kallithead.web.app import WebApp
from kallithead.web.site import ConnectionTracker, KallitheadSite
from kallithead.web.vcs import VcsFront

log = Logger()


class KallitheadService(MultiService):
    """Everything one kallithead daemon runs."""

    name = "kallithead"

    def __init__(self, settings: Settings, reactor: Any) -> None:
        super().__init__()
        self.settings = settings
        self._reactor = reactor
        self.db = Database.from_url(
            settings.database.url, settings.database.pool_size, reactor
        )
        refresh = settings.server.auth_cache_refresh
        self.memory = AccessMemory(enabled=refresh > 0)
        self.users = UserStore(self.db, self.memory)
        self.vcs_pool = WorkerPool(reactor, settings.vcs.pool_size, "kallithead-vcs")
        backends = {"hg": hg.BACKEND, "git": git.BACKEND}
        self.repositories = Repositories(
            RepoStore(self.db, self.memory),
            RepositoryRoot(settings.vcs.repos_root, backends),
            backends,
            self.vcs_pool,
        )
        settings_store = SettingsStore(self.db)
        self.scanner = Scanner(
            self.repositories,
            settings_store,
            self.users.first_admin_id,
            SharedLock(self.db, "rescan", reactor),
        )
        self.rescan_timer = RescanTimer(
            self.scanner, settings.vcs.rescan_interval, reactor
        )
        self.api_services = Services(
            settings=settings,
            users=self.users,
            user_groups=UserGroupStore(self.db, self.memory),
            repositories=self.repositories,
            repo_groups=RepoGroups(
                RepoGroupStore(self.db, self.memory), self.repositories, self.scanner
            ),
            gists=Gists(GistStore(self.db), settings.vcs.repos_root, self.vcs_pool),
            grants=GrantStore(self.db, self.memory),
            pull_requests=PullRequestStore(self.db),
            settings_store=settings_store,
            scanner=self.scanner,
            server_info=ServerInfo(settings.vcs.git_path),
        )
        # hg and git over HTTP run on threads of their own.
        self.serve_pool = ThreadPool(
            minthreads=0,
            maxthreads=settings.vcs.serve_pool_size,
            name="kallithead-serve",
        )
        self.web = WebApp(
            JsonRpc(registry, self.api_services),
            max_body_size=settings.server.max_body_size,
            trusted_proxies=settings.server.trusted_proxies,
            canonical_url=settings.server.canonical_url,
            vcs=VcsFront(reactor, self.serve_pool, self.api_services),
        )
        self.site = KallitheadSite(
            self.web.resource(),
            max_body_size=settings.server.max_body_size,
            access_log=settings.server.access_log,
            max_push_size=settings.server.max_push_size,
        )
        self.connections = ConnectionTracker(self.site)
        self._access_poll = LoopingCall(
            lambda: defer.Deferred.fromCoroutine(self._poll_access_token())
        )
        self._access_poll.clock = reactor
        self.port: IListeningPort | None = None
        self.listening: defer.Deferred[IListeningPort] = defer.Deferred()

    def startService(self) -> None:
        self.db.start()
        self.settings.vcs.repos_root.mkdir(parents=True, exist_ok=True)
        self.vcs_pool.start()
        self.serve_pool.start()
        self.rescan_timer.start()
        super().startService()
        endpoint = serverFromString(self._reactor, self.settings.server.listen)
        d = endpoint.listen(self.connections)
        d.addCallbacks(self._listening, self._cannot_listen)

    def _listening(self, port: IListeningPort) -> None:
        self.port = port
        log.info("kallithead listening on {address}", address=_describe(port.getHost()))
        defer.Deferred.fromCoroutine(self._warm_up()).addCallback(
            lambda _: self.listening.callback(port)
        )

    async def _warm_up(self) -> None:
        """Read the access token, then encode the repository list once
        before anyone asks: the first get_repos then costs what later ones
        do. A failure only means a slower first call."""
        refresh = self.settings.server.auth_cache_refresh
        if refresh > 0:
            # A first token read forgets everything remembered before it:
            # done first, it cannot throw the prepared list away.
            await self._poll_access_token()
            if self.running:
                self._access_poll.start(refresh, now=False)
        try:
            await repository_listing(self.repositories.store)
        except Exception:
            log.failure("Cannot prepare the repository list; get_repos will")
        # Everything built so far lives as long as the process: keep the
        # garbage collector from walking it again and again (shorter pauses).
        gc.freeze()

    def _cannot_listen(self, failure: Failure) -> None:
        log.failure(
            "Cannot listen on {listen}", failure, listen=self.settings.server.listen
        )
        self.listening.errback(failure)
        if self._reactor.running:
            self._reactor.stop()

    async def _poll_access_token(self) -> None:
        try:
            await self.users.poll_access_token()
        except Exception:
            log.failure("Cannot read the access token; the next poll will retry")

    async def _stop(self) -> None:
        if self._access_poll.running:
            self._access_poll.stop()
        if self.port is not None:
            await self.port.stopListening()
            timeout = self.settings.server.stop_timeout
            if not await self._within(self.site.idle(), timeout):
                log.warn(
                    "Stopping with {count} request(s) still unanswered after "
                    "{timeout} s",
                    count=self.site.requests_in_flight,
                    timeout=timeout,
                )
            await self._within(self.connections.close_all(), 5)
        await super().stopService()
        self.rescan_timer.stop()
        # A serving thread may be waiting on the reactor (the bookkeeping
        # after a push, which needs the other pools): join it from another
        # thread, before those pools stop.
        await threads.deferToThread(self.serve_pool.stop)
        self.vcs_pool.stop()
        self.db.stop()

    async def _within(self, d: defer.Deferred[None], timeout: float) -> bool:
        """Wait for ``d`` at most ``timeout`` seconds; False if it took longer."""
        d.addTimeout(timeout, self._reactor)
        try:
            await d
        except defer.TimeoutError:
            return False
        return True

    def stopService(self) -> defer.Deferred[None]:
        return defer.Deferred.fromCoroutine(self._stop())


def _describe(address: Any) -> str:
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is not None and port is not None:
        return f"{host}:{port}"
    return str(address)
