"""A named pool of worker threads whose work the reactor awaits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import defer, threads
from twisted.internet.interfaces import IReactorFromThreads
from twisted.python.threadpool import ThreadPool

T = TypeVar("T")


class WorkerPool:
    """Runs blocking functions on its own threads, answering with Deferreds."""

    def __init__(self, reactor: IReactorFromThreads, size: int, name: str) -> None:
        self._reactor = reactor
        self._pool = ThreadPool(minthreads=1, maxthreads=size, name=name)

    @property
    def size(self) -> int:
        return self._pool.max

    def start(self) -> None:
        self._pool.start()

    def stop(self) -> None:
        """Finish the queued work, then end the threads (blocks until then)."""
        self._pool.stop()

    def run(self, fn: Callable[..., T], *args: Any) -> defer.Deferred[T]:
        return threads.deferToThreadPool(
            self._reactor,  # type: ignore[arg-type]
            self._pool,
            fn,
            *args,
        )
