"""The settings Kallithea keeps in its database (API-SPEC.md 2.7)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kallithead.db import schema as t
from kallithead.db.pool import Database

# The words a bool setting holds when it is on (compared stripped, lower case).
TRUE_WORDS = ("true", "1", "yes", "on")

# Whether repository objects carry the custom repository fields.
REPOSITORY_FIELDS = "repository_fields"


def read_settings(conn: Connection) -> dict[str, str]:
    rows = conn.execute(
        sa.select(t.settings.c.app_settings_name, t.settings.c.app_settings_value)
    )
    return {name: value for name, value in rows}


def as_bool(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE_WORDS


def is_on(name: str) -> sa.ColumnElement[bool]:
    """A condition true when the bool setting ``name`` is on, for queries
    whose rows only matter while a setting holds: the setting then costs no
    statement of its own. It reads the value as ``as_bool`` does, except that
    only spaces are trimmed (SQL ``trim``), not tabs or line ends."""
    value = sa.func.lower(sa.func.trim(t.settings.c.app_settings_value))
    return (
        sa.select(t.settings.c.app_settings_id)
        .where(t.settings.c.app_settings_name == name, value.in_(TRUE_WORDS))
        .exists()
    )


class SettingsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> dict[str, str]:
        return await self._db.run("read_settings", read_settings)
