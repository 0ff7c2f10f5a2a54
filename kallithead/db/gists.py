"""Gists in the database (API-SPEC.md 2.8, 3.42 to 3.45)."""

from __future__ import annotations

import datetime
import secrets
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kallithead.db import schema as t
from kallithead.db.pool import Database

gists = t.gists

GIST_PUBLIC = "public"
GIST_PRIVATE = "private"
NEVER_EXPIRES = -1.0
_PRIVATE_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjklmnpqrstuvwxyz"
_PRIVATE_ID_LENGTH = 20


def private_access_id() -> str:
    return "".join(
        secrets.choice(_PRIVATE_ID_ALPHABET) for _ in range(_PRIVATE_ID_LENGTH)
    )


class GistRecord(NamedTuple):
    gist_id: int
    access_id: str
    description: str
    owner_id: int
    expires: float
    gist_type: str
    created_on: datetime.datetime
    modified_at: datetime.datetime

    def expired(self, now: float) -> bool:
        return self.expires != NEVER_EXPIRES and self.expires < now


_GIST_QUERY = sa.select(
    gists.c.gist_id,
    gists.c.gist_access_id,
    gists.c.gist_description,
    gists.c.user_id,
    gists.c.gist_expires,
    gists.c.gist_type,
    gists.c.created_on,
    gists.c.modified_at,
)


def _record(row: Any) -> GistRecord:
    return GistRecord(
        gist_id=row[0],
        access_id=row[1],
        description=row[2],
        owner_id=row[3],
        expires=float(row[4]),
        gist_type=row[5],
        created_on=row[6],
        modified_at=row[7],
    )


def find_gist(conn: Connection, ident: str) -> GistRecord | None:
    """A gist by its access id, else (for digits) by its numeric id."""
    row = conn.execute(_GIST_QUERY.where(gists.c.gist_access_id == ident)).first()
    if row is None and ident.isdigit() and len(ident) < 10:
        row = conn.execute(_GIST_QUERY.where(gists.c.gist_id == int(ident))).first()
    return _record(row) if row is not None else None


def gists_of(conn: Connection, owner_id: int, now: float) -> list[GistRecord]:
    """The user's gists that have not expired, newest first."""
    rows = conn.execute(
        _GIST_QUERY.where(
            gists.c.user_id == owner_id,
            sa.or_(gists.c.gist_expires == NEVER_EXPIRES, gists.c.gist_expires >= now),
        ).order_by(gists.c.created_on.desc(), gists.c.gist_id.desc())
    )
    return [_record(row) for row in rows]


def insert_gist(
    conn: Connection,
    description: str,
    owner_id: int,
    expires: float,
    gist_type: str,
) -> GistRecord:
    """The row of a new gist: a public one's access id is its number, any
    other's a random one."""
    now = datetime.datetime.now()
    private = gist_type == GIST_PRIVATE
    # A placeholder no access id can equal until the number is known.
    placeholder = "\x01" + secrets.token_hex(8)
    gist_id = conn.execute(
        gists.insert().values(
            gist_access_id=private_access_id() if private else placeholder,
            gist_description=description,
            user_id=owner_id,
            gist_expires=expires,
            gist_type=gist_type,
            created_on=now,
            modified_at=now,
        )
    ).inserted_primary_key[0]
    if not private:
        conn.execute(
            gists.update()
            .where(gists.c.gist_id == gist_id)
            .values(gist_access_id=str(gist_id))
        )
    row = conn.execute(_GIST_QUERY.where(gists.c.gist_id == gist_id)).one()
    return _record(row)


def delete_gist_row(conn: Connection, gist_id: int) -> None:
    conn.execute(gists.delete().where(gists.c.gist_id == gist_id))


class GistStore:
    """Asynchronous access to gist rows; one unit of work per call."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(self, ident: object) -> GistRecord | None:
        if isinstance(ident, bool) or not isinstance(ident, (int, str)):
            return None
        text = str(ident)
        if not text or "\x00" in text:
            return None
        return await self._db.run("find_gist", find_gist, text)

    async def of_user(self, owner_id: int, now: float) -> list[GistRecord]:
        return await self._db.run("gists_of", gists_of, owner_id, now)

    async def insert(
        self, description: str, owner_id: int, expires: float, gist_type: str
    ) -> GistRecord:
        return await self._db.run_in_transaction(
            "create_gist", insert_gist, description, owner_id, expires, gist_type
        )

    async def delete(self, gist_id: int) -> None:
        await self._db.run_in_transaction("delete_gist", delete_gist_row, gist_id)
