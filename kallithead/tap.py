"""``twistd kallithea``: command-line options, configuration and the service."""

from __future__ import annotations

import sys
from typing import Any

from twisted.application.service import IService
from twisted.logger import Logger
from twisted.python import usage

from kallithead.config import ConfigError, Settings, load_settings
from kallithead.db import bootstrap, migrate
from kallithead.db.pool import create_engine, safe_url

log = Logger()


class Options(usage.Options):
    synopsis = "[--config FILE.ini] [--datadir DIR] [--listen ENDPOINT]"
    longdesc = (
        "Serve Mercurial and Git repositories and the Kallithea JSON-RPC API. "
        "Options override the configuration file; the file overrides defaults."
    )
    optParameters = [
        ["config", "c", None, "The ini file to read (see etc/kallithea.ini)."],
        ["datadir", "d", None, "The data folder (default ./kallithea-data)."],
        [
            "listen",
            "l",
            None,
            "A Twisted endpoint to listen on (default tcp:5000:interface=127.0.0.1).",
        ],
    ]

    def postOptions(self) -> None:
        overrides: dict[str, dict[str, str]] = {"server": {}}
        for key in ("datadir", "listen"):
            if self[key] is not None:
                overrides["server"][key] = self[key]
        try:
            self["settings"] = load_settings(self["config"], overrides)
        except ConfigError as e:
            raise usage.UsageError(str(e)) from None


def config_hint(options: Options) -> str:
    """The options that ``kallithead-db upgrade`` needs to find the database."""
    hint = ""
    if options["config"]:
        hint += f" --config {options['config']}"
    if options["datadir"]:
        hint += f" --datadir {options['datadir']}"
    return hint


def prepare_database(settings: Settings, hint: str = "") -> None:
    """Create or check the schema and the first users; synchronous.

    Raises ``migrate.SchemaOutOfDate`` for a database older than the code.
    """
    settings.server.datadir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database.url)
    try:
        prepared = bootstrap.prepare(engine, settings.admin_key_path, hint)
    finally:
        engine.dispose()
    if prepared.created_schema:
        log.info("Created the database schema in {url}", url=safe_url(engine))
    if prepared.admin_key_written is not None:
        log.info(
            "Created the administrator `admin`; its API key is in {path}",
            path=str(prepared.admin_key_written),
        )


def makeService(options: Options) -> IService:
    from twisted.internet import reactor

    from kallithead.service import KallitheadService

    settings: Settings = options["settings"]
    try:
        prepare_database(settings, config_hint(options))
    except migrate.SchemaOutOfDate as e:
        print(f"kallithead: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    service: Any = KallitheadService(settings, reactor)
    return service
