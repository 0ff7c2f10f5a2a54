"""The database gateway: SQLAlchemy Core on a dedicated Twisted thread pool.

Every unit of work is a plain function ``fn(connection, *args)`` that runs on
one of the pool's threads and returns plain data (dataclasses, dicts, tuples),
never SQLAlchemy rows or results. ``run`` gives the function a connection for
reading; ``run_in_transaction`` commits when the function returns and rolls
back when it raises. A deadlock or serialisation failure is retried a few
times, never for long.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from twisted.internet import defer
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger

from kallithead.threads import WorkerPool

log = Logger()

P = ParamSpec("P")
T = TypeVar("T")

MAX_ATTEMPTS = 3
RETRY_PAUSE = 0.05


def create_engine(url: str, pool_size: int = 5) -> Engine:
    """Create the engine for ``url`` with the settings each database needs."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=1,
            max_overflow=2,
        )
        sa.event.listen(engine, "connect", _configure_sqlite)
        return engine
    return sa.create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=3600,
    )


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def thread_count(engine: Engine, pool_size: int) -> int:
    """How many threads may talk to this database at once.

    SQLite allows one writer at a time: a single thread avoids lock waits
    and keeps writes in order. Server databases get one thread per pooled
    connection.
    """
    if engine.dialect.name == "sqlite":
        return 1
    return pool_size


def safe_url(engine: Engine) -> str:
    """The engine's URL with any password masked, for logs."""
    return engine.url.render_as_string(hide_password=True)


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` is a transient conflict worth trying again."""
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate in {"40001", "40P01"}:  # PostgreSQL: serialisation, deadlock
        return True
    args = getattr(original, "args", ())
    if args and args[0] in {1205, 1213}:  # MySQL: lock wait timeout, deadlock
        return True
    return "database is locked" in str(original)


class Database:
    """Runs units of work on the database thread pool."""

    def __init__(
        self,
        engine: Engine,
        reactor: IReactorFromThreads,
        threads_wanted: int,
    ) -> None:
        self.engine = engine
        self._pool = WorkerPool(reactor, threads_wanted, "kallithead-db")
        self.dialect = engine.dialect.name

    @classmethod
    def from_url(
        cls, url: str, pool_size: int, reactor: IReactorFromThreads
    ) -> Database:
        engine = create_engine(url, pool_size)
        return cls(engine, reactor, thread_count(engine, pool_size))

    def start(self) -> None:
        self._pool.start()
        log.info(
            "Database {url} on {count} thread(s)",
            url=safe_url(self.engine),
            count=self._pool.size,
        )

    def stop(self) -> None:
        """Finish the queued work, then close the threads and connections."""
        self._pool.stop()
        self.engine.dispose()

    def run(
        self,
        desc: str,
        fn: Callable[..., T],
        *args: Any,
    ) -> defer.Deferred[T]:
        """Run ``fn(connection, *args)`` for reading, off the reactor."""
        return self._defer(desc, self._read, fn, args)

    def run_in_transaction(
        self,
        desc: str,
        fn: Callable[..., T],
        *args: Any,
    ) -> defer.Deferred[T]:
        """Run ``fn(connection, *args)`` in one transaction, off the reactor."""
        return self._defer(desc, self._transact, fn, args)

    def checkout(self) -> defer.Deferred[Connection]:
        """A connection of its own for the caller, until ``checkin``: for
        state that lives in a database session, such as a lock."""
        return self._pool.run(self.engine.connect)

    def run_on(
        self,
        connection: Connection,
        desc: str,
        fn: Callable[..., T],
        *args: Any,
    ) -> defer.Deferred[T]:
        """Run ``fn(connection, *args)`` on a checked-out connection."""
        return self._pool.run(fn, connection, *args)

    def checkin(
        self, connection: Connection, discard: bool = False
    ) -> defer.Deferred[None]:
        """Give a checked-out connection back (or, with ``discard``, close
        its session for good)."""

        def give_back() -> None:
            if discard:
                connection.invalidate()
            connection.close()

        return self._pool.run(give_back)

    def _defer(
        self,
        desc: str,
        runner: Callable[[str, Callable[..., T], tuple[Any, ...]], T],
        fn: Callable[..., T],
        args: tuple[Any, ...],
    ) -> defer.Deferred[T]:
        return self._pool.run(runner, desc, fn, args)

    def _read(self, desc: str, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self.engine.connect() as connection:
            return fn(connection, *args)

    def _transact(self, desc: str, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.engine.begin() as connection:
                    return fn(connection, *args)
            except sa.exc.DBAPIError as e:
                if attempt == MAX_ATTEMPTS or not is_retryable(e):
                    raise
                log.info(
                    "Retrying {desc} after a conflict (attempt {attempt})",
                    desc=desc,
                    attempt=attempt,
                )
                time.sleep(RETRY_PAUSE * attempt)
        raise AssertionError("unreachable")
