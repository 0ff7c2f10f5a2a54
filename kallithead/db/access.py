"""The access token: one value that changes whenever access answers may.

See kallithead.auth.cache for how processes use it. Every unit of work that
changes users, keys, whitelists, permissions, memberships or the set of
objects calls ``bump_access_token`` inside its transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kallithead.auth.cache import AccessMemory
from kallithead.db import schema as t
from kallithead.db.pool import Database

T = TypeVar("T")

ACCESS_TOKEN_SETTING = "access_token"


def read_access_token(conn: Connection) -> str | None:
    return conn.execute(
        sa.select(t.settings.c.app_settings_value).where(
            t.settings.c.app_settings_name == ACCESS_TOKEN_SETTING
        )
    ).scalar()


def bump_access_token(conn: Connection) -> None:
    """Tell every process that what it remembers about access may be wrong."""
    token = secrets.token_hex(16)
    updated = conn.execute(
        t.settings.update()
        .where(t.settings.c.app_settings_name == ACCESS_TOKEN_SETTING)
        .values(app_settings_value=token)
    )
    if not updated.rowcount:
        conn.execute(
            t.settings.insert().values(
                app_settings_name=ACCESS_TOKEN_SETTING,
                app_settings_value=token,
                app_settings_type="unicode",
            )
        )


class AccessWriter:
    """Base of the stores whose writes change access answers.

    ``_write`` runs a unit of work in a transaction (which bumps the access
    token) and then makes this process forget what it remembered.
    """

    def __init__(self, db: Database, memory: AccessMemory) -> None:
        self._db = db
        self.memory = memory

    async def _write(self, desc: str, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await self._db.run_in_transaction(desc, fn, *args)
        finally:
            self.memory.clear()
