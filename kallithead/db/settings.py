"""The settings Kallithea keeps in its database (API-SPEC.md 2.7)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kallithead.db import schema as t
from kallithead.db.pool import Database


def read_settings(conn: Connection) -> dict[str, str]:
    rows = conn.execute(
        sa.select(t.settings.c.app_settings_name, t.settings.c.app_settings_value)
    )
    return {name: value for name, value in rows}


def as_bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes", "on")


class SettingsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> dict[str, str]:
        return await self._db.run("read_settings", read_settings)
