"""Locks shared by every kallithead process that uses the same database.

Work that must run once however many daemons share a database (the
periodic rescan) takes one of these first. On PostgreSQL it is a
session-level advisory lock, on MySQL and MariaDB a named lock
(``GET_LOCK``); either way it lives on one connection set aside for as long
as the lock is held, and the server drops it if that connection dies, so a
crashed process never leaves it taken.

SQLite has no such thing, and a SQLite database is not shared between
processes (DESIGN.md 4): there the lock is always free, and callers rely on
their own in-process lock.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from twisted.internet import task
from twisted.internet.interfaces import IReactorTime

from kallithead.db.pool import Database

# How often a caller that waits asks for the lock again.
RETRY_INTERVAL = 0.2


def lock_key(name: str) -> int:
    """A stable 63-bit key for ``name`` (PostgreSQL locks take a bigint)."""
    prefix = zlib.crc32(b"kallithead") << 31
    return (prefix ^ zlib.crc32(name.encode())) & 0x7FFF_FFFF_FFFF_FFFF


def _mysql_name(name: str) -> str:
    return f"kallithead.{name}"


def _try_lock(connection: Connection, dialect: str, name: str) -> bool:
    if dialect == "postgresql":
        got = connection.execute(
            sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key(name)}
        ).scalar()
    else:
        got = connection.execute(
            sa.text("SELECT GET_LOCK(:name, 0)"), {"name": _mysql_name(name)}
        ).scalar()
    # End the transaction the statement opened: the lock belongs to the
    # session and outlives it, and no transaction stays open meanwhile.
    connection.commit()
    return bool(got)


def _unlock(connection: Connection, dialect: str, name: str) -> None:
    try:
        if dialect == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key(name)}
            )
        else:
            connection.execute(
                sa.text("SELECT RELEASE_LOCK(:name)"), {"name": _mysql_name(name)}
            )
        connection.commit()
    except Exception:
        # The server drops a session's locks when the session ends: end it.
        connection.invalidate()
        raise
    finally:
        connection.close()


class SharedLock:
    """One named lock across the processes sharing ``db``."""

    def __init__(self, db: Database, name: str, clock: IReactorTime) -> None:
        self._db = db
        self._name = name
        self._clock = clock

    @property
    def enforced(self) -> bool:
        """Whether this database can hold the lock across processes."""
        return self._db.dialect in ("postgresql", "mysql")

    async def _try(self) -> Connection | None:
        """The connection now holding the lock, or None if it is taken."""
        connection = await self._db.checkout()
        try:
            got = await self._db.run_on(
                connection, "try_lock", _try_lock, self._db.dialect, self._name
            )
        except BaseException:
            await self._db.checkin(connection, discard=True)
            raise
        if got:
            return connection
        await self._db.checkin(connection)
        return None

    @asynccontextmanager
    async def held(self, wait: bool) -> AsyncIterator[bool]:
        """Hold the lock for the ``async with`` body, which receives True.

        Without ``wait``, a lock taken elsewhere gives the body False at
        once; with it, the lock is asked for again until it is free.
        """
        if not self.enforced:
            yield True
            return
        connection = await self._try()
        while connection is None and wait:
            await task.deferLater(self._clock, RETRY_INTERVAL, lambda: None)
            connection = await self._try()
        if connection is None:
            yield False
            return
        try:
            yield True
        finally:
            await self._db.run_on(
                connection, "unlock", _unlock, self._db.dialect, self._name
            )
