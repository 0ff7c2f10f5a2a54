"""``kallithead-db``: show or upgrade the schema of kallithead's database."""

from __future__ import annotations

import argparse
import sys

from kallithead.config import ConfigError, load_settings
from kallithead.db import migrate
from kallithead.db.pool import create_engine, safe_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kallithead-db", description="Manage the kallithead database schema."
    )
    parser.add_argument("action", choices=["upgrade", "current"])
    parser.add_argument("--config", help="the kallithea.ini file the daemon uses")
    parser.add_argument("--datadir", help="the data folder (overrides the file)")
    parser.add_argument("--db-url", help="the database URL (overrides the file)")
    options = parser.parse_args(argv)

    overrides: dict[str, dict[str, str]] = {"server": {}, "database": {}}
    if options.datadir:
        overrides["server"]["datadir"] = options.datadir
    if options.db_url:
        overrides["database"]["url"] = options.db_url
    try:
        settings = load_settings(options.config, overrides)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2

    settings.server.datadir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database.url)
    try:
        if options.action == "current":
            with engine.connect() as connection:
                current = migrate.current_revision(connection)
            newest = migrate.head_revision()
            print(f"{safe_url(engine)}: revision {current}, newest {newest}")
            return 0
        before, after = migrate.upgrade(engine)
        print(f"{safe_url(engine)}: upgraded from {before} to {after}")
        return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
