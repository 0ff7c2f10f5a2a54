"""Schema versions: create, check and upgrade the database with alembic.

These functions are synchronous: the daemon calls them before the reactor
runs, and ``kallithead-db`` calls them from the command line.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")

UPGRADE_COMMAND = "kallithead-db upgrade"


class SchemaOutOfDate(Exception):
    """The database holds an older (or unknown) schema than this code needs."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def is_empty(connection: Connection) -> bool:
    """True when the database has no tables at all (a first start)."""
    return not sa.inspect(connection).get_table_names()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (before, after)."""
    with engine.begin() as connection:
        before = current_revision(connection)
        command.upgrade(alembic_config(connection), "head")
        return before, head_revision()


def check_current(connection: Connection, config_hint: str) -> None:
    """Raise ``SchemaOutOfDate`` unless the schema is at the newest revision."""
    current = current_revision(connection)
    head = head_revision()
    if current == head:
        return
    if current is None:
        found = "has tables but no kallithead schema version"
    else:
        found = f"is at schema revision {current}"
    raise SchemaOutOfDate(
        f"the database {found}; this kallithead needs revision {head}. "
        f"Back up the database, then run: {UPGRADE_COMMAND}{config_hint}"
    )
