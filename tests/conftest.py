"""Fixtures: a real kallithead on an ephemeral port, over a real database.

The database is SQLite in a temporary folder, or the server named by
``KALLITHEAD_TEST_DB_URL`` (PostgreSQL or MariaDB); there every test starts
from an empty schema.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import sqlalchemy as sa
import treq
from twisted.internet import reactor, threads
from twisted.web.client import HTTPConnectionPool

from kallithead.config import Settings, load_settings
from kallithead.db import schema as t
from kallithead.db.pool import create_engine
from kallithead.service import KallitheadService
from kallithead.tap import prepare_database

TEST_DB_URL_VARIABLE = "KALLITHEAD_TEST_DB_URL"


def _empty_database(url: str) -> None:
    """Drop every table (ours and alembic's) so the next start is a first one."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            t.metadata.drop_all(connection)
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    url = os.environ.get(TEST_DB_URL_VARIABLE, "")
    if url:
        _empty_database(url)
    return make_settings(tmp_path)


@pytest.fixture
def engine(settings: Settings) -> Iterator[sa.Engine]:
    """A direct connection to the server's database, to arrange and inspect."""
    engine = create_engine(settings.database.url)
    yield engine
    engine.dispose()


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def result(self) -> Any:
        document = self.document
        assert document["error"] is None, document["error"]
        return document["result"]

    @property
    def error(self) -> str | None:
        return self.document["error"]


@dataclass
class Server:
    """A running kallithead and an HTTP client for it."""

    service: KallitheadService
    base_url: str
    admin_key: str
    pool: HTTPConnectionPool
    _next_id: int = field(default=0)

    @property
    def api_url(self) -> str:
        return self.base_url + "/_admin/api"

    async def post(
        self,
        body: bytes | Any,
        headers: dict[bytes, list[bytes]] | None = None,
        method: str = "POST",
        path: str = "/_admin/api",
    ) -> Reply:
        response = await treq.request(
            method,
            self.base_url + path,
            data=body,
            headers=headers,
            pool=self.pool,
        )
        content = await response.content()
        return Reply(response.code, response.headers, content)

    async def call(self, method: str, key: str | None = None, **args: Any) -> Reply:
        """Call an API method with ``key`` (the admin's by default)."""
        self._next_id += 1
        request_id = self._next_id
        request = {
            "id": request_id,
            "api_key": self.admin_key if key is None else key,
            "method": method,
            "args": args,
        }
        reply = await self.post(json.dumps(request).encode())
        assert reply.status == 200
        assert reply.document["id"] == request_id
        return reply

    async def create_user(self, username: str, **extra: Any) -> dict[str, Any]:
        """Create a user through the API; returns its detailed user object."""
        extra.setdefault("email", f"{username}@example.com")
        reply = await self.call("create_user", username=username, **extra)
        return reply.result["user"]


def make_settings(tmp_path: Path, **server_options: str) -> Settings:
    """Settings for a test daemon; ``server_options`` go to [server]."""
    url = os.environ.get(TEST_DB_URL_VARIABLE, "")
    overrides = {
        "server": {
            "datadir": str(tmp_path / "data"),
            "listen": "tcp:0:interface=127.0.0.1",
            "max_body_size": str(1024 * 1024),
            **server_options,
        },
        "database": {"url": url},
    }
    return load_settings(None, overrides)


async def start_server(settings: Settings) -> Server:
    await threads.deferToThread(prepare_database, settings)
    service = KallitheadService(settings, reactor)
    service.startService()
    port = await service.listening
    return Server(
        service=service,
        base_url=f"http://127.0.0.1:{port.getHost().port}",
        admin_key=settings.admin_key_path.read_text().strip(),
        pool=HTTPConnectionPool(reactor, persistent=True),
    )


async def stop_server(server: Server) -> None:
    await server.pool.closeCachedConnections()
    await server.service.stopService()


@pytest_twisted.async_yield_fixture
async def server(settings: Settings) -> AsyncIterator[Server]:
    running = await start_server(settings)
    yield running
    await stop_server(running)
