"""Preparing the database before the daemon serves: schema and first users.

On an empty database this creates the schema, the settings Kallithea keeps in
the database, the `default` user (which stands for everyone, and for anonymous
visitors) with the default global permissions, and an administrator `admin`
whose random API key is written to ``<datadir>/admin-api-key``. Later starts
only check that the schema is current.
"""

from __future__ import annotations

import datetime
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kallithead.auth.permissions import DEFAULT_GLOBAL_PERMISSIONS, ID_BY_NAME
from kallithead.auth.secrets import hash_password, new_api_key
from kallithead.db import migrate
from kallithead.db import schema as t
from kallithead.db.names import DEFAULT_USERNAME

ADMIN_USERNAME = "admin"

# The settings Kallithea stores in its settings table that the API consults,
# with their initial values and types.
INITIAL_SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("default_repo_type", "hg", "unicode"),
    ("default_repo_private", "False", "bool"),
    ("default_repo_enable_statistics", "False", "bool"),
    ("default_repo_enable_downloads", "False", "bool"),
    ("default_repo_enable_locking", "False", "bool"),
    ("repository_fields", "False", "bool"),
    ("title", "", "unicode"),
    ("clone_uri_tmpl", "{scheme}://{user}@{netloc}/{repo}", "unicode"),
)


@dataclass(frozen=True)
class PreparedDatabase:
    created_schema: bool
    admin_key_written: Path | None


def prepare(engine: Engine, admin_key_path: Path, config_hint: str) -> PreparedDatabase:
    """Create or check the schema, and create the first users if needed.

    Raises ``migrate.SchemaOutOfDate`` when an existing database is older
    than the code.
    """
    with engine.connect() as connection:
        empty = migrate.is_empty(connection)
    if empty:
        migrate.upgrade(engine)
    with engine.connect() as connection:
        migrate.check_current(connection, config_hint)

    with engine.begin() as connection:
        if _has_user(connection, DEFAULT_USERNAME):
            return PreparedDatabase(created_schema=empty, admin_key_written=None)
        admin_key = _create_first_users(connection)

    _write_secret(admin_key_path, admin_key + "\n")
    return PreparedDatabase(created_schema=empty, admin_key_written=admin_key_path)


def _has_user(connection: Connection, username: str) -> bool:
    query = sa.select(t.users.c.user_id).where(t.users.c.username == username)
    return connection.execute(query).first() is not None


def _create_first_users(connection: Connection) -> str:
    now = datetime.datetime.now()
    connection.execute(
        t.settings.insert(),
        [
            {
                "app_settings_name": name,
                "app_settings_value": value,
                "app_settings_type": kind,
            }
            for name, value, kind in INITIAL_SETTINGS
        ],
    )

    default_id = connection.execute(
        t.users.insert().values(
            username=DEFAULT_USERNAME,
            # Nobody logs in as `default`; its password is random and unknown.
            password=hash_password(secrets.token_urlsafe(24)),
            active=True,
            admin=False,
            firstname="Anonymous",
            lastname="User",
            email="anonymous@kallithea-scm.org",
            api_key=new_api_key(),
            inherit_default_permissions=True,
            created_on=now,
        )
    ).inserted_primary_key[0]
    connection.execute(
        t.user_to_perm.insert(),
        [
            {"user_id": default_id, "permission_id": ID_BY_NAME[name]}
            for name in DEFAULT_GLOBAL_PERMISSIONS
        ],
    )

    admin_key = new_api_key()
    connection.execute(
        t.users.insert().values(
            username=ADMIN_USERNAME,
            password=None,
            active=True,
            admin=True,
            firstname="Kallithea",
            lastname="Admin",
            email="admin@localhost",
            extern_type="internal",
            api_key=admin_key,
            inherit_default_permissions=True,
            created_on=now,
        )
    )
    return admin_key


def _write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as f:
        f.write(text)
    os.chmod(path, 0o600)
