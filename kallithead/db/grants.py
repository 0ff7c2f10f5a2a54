"""Permission rows on objects: default levels, grants, revokes, member lists.

One row per (subject, object) pair: granting replaces the level of an
existing row. These functions run on the database thread inside a
transaction; the caller bumps the access token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kallithead.auth.permissions import ID_BY_NAME, NAME_BY_ID
from kallithead.db import schema as t
from kallithead.db.access import AccessWriter
from kallithead.db.names import DEFAULT_USERNAME


def default_user_id(conn: Connection) -> int:
    return conn.execute(
        sa.select(t.users.c.user_id).where(t.users.c.username == DEFAULT_USERNAME)
    ).scalar_one()


def default_level(conn: Connection, family: str) -> str:
    """The level of ``family`` (repository, group, usergroup) that the
    `default` user's global permissions give new objects; read if none."""
    ids = conn.execute(
        sa.select(t.user_to_perm.c.permission_id)
        .select_from(t.user_to_perm)
        .join(t.users, t.users.c.user_id == t.user_to_perm.c.user_id)
        .where(t.users.c.username == DEFAULT_USERNAME)
    ).scalars()
    for permission_id in ids:
        name = NAME_BY_ID.get(permission_id, "")
        if name.startswith(f"{family}."):
            return name
    return f"{family}.read"


@dataclass(frozen=True)
class GrantTable:
    """A table of grants: its subject column and its object column.

    The one description of each grant table, for granting and revoking here and
    for computing effective permissions in ``kallithead.auth.calculation``.
    """

    table: sa.Table
    subject: str
    object: str


REPO_USER = GrantTable(t.repo_to_perm, "user_id", "repository_id")
REPO_USER_GROUP = GrantTable(
    t.users_group_repo_to_perm, "users_group_id", "repository_id"
)
REPO_GROUP_USER = GrantTable(t.user_repo_group_to_perm, "user_id", "group_id")
REPO_GROUP_USER_GROUP = GrantTable(
    t.users_group_repo_group_to_perm, "users_group_id", "group_id"
)
USER_GROUP_USER = GrantTable(t.user_user_group_to_perm, "user_id", "user_group_id")
USER_GROUP_USER_GROUP = GrantTable(
    t.user_group_user_group_to_perm, "user_group_id", "target_user_group_id"
)


def grant(
    conn: Connection, where: GrantTable, subject: int, obj: int, level: str
) -> None:
    """Give ``subject`` the permission ``level`` on ``obj`` (replacing any)."""
    table = where.table
    permission_id = ID_BY_NAME[level] if level in ID_BY_NAME else int(level)
    updated = conn.execute(
        table.update()
        .where(table.c[where.subject] == subject, table.c[where.object] == obj)
        .values(permission_id=permission_id)
    )
    if not updated.rowcount:
        conn.execute(
            table.insert().values(
                {
                    where.subject: subject,
                    where.object: obj,
                    "permission_id": permission_id,
                }
            )
        )


def revoke(conn: Connection, where: GrantTable, subject: int, obj: int) -> None:
    table = where.table
    conn.execute(
        table.delete().where(
            table.c[where.subject] == subject, table.c[where.object] == obj
        )
    )


def drop_object(conn: Connection, where: GrantTable, obj: int) -> None:
    """Delete every row on ``obj``."""
    conn.execute(where.table.delete().where(where.table.c[where.object] == obj))


def rows_on(conn: Connection, where: GrantTable, obj: int) -> list[tuple[int, int]]:
    """(subject, permission id) of every row on ``obj``, in creation order."""
    table = where.table
    key = next(iter(table.primary_key.columns))
    return [
        (subject, permission_id)
        for subject, permission_id in conn.execute(
            sa.select(table.c[where.subject], table.c.permission_id)
            .where(table.c[where.object] == obj)
            .order_by(key)
        )
    ]


def members(
    conn: Connection, users: GrantTable, groups: GrantTable, obj: int
) -> list[dict[str, Any]]:
    """The ``members`` list of get_repo / get_repo_group: user rows in
    creation order (the `default` user's included), then user group rows."""
    user_table, group_table = users.table, groups.table
    user_key = next(iter(user_table.primary_key.columns))
    group_key = next(iter(group_table.primary_key.columns))
    user_rows = conn.execute(
        sa.select(t.users.c.username, user_table.c.permission_id)
        .select_from(user_table)
        .join(t.users, t.users.c.user_id == user_table.c[users.subject])
        .where(user_table.c[users.object] == obj)
        .order_by(user_key)
    )
    group_rows = conn.execute(
        sa.select(t.users_groups.c.users_group_name, group_table.c.permission_id)
        .select_from(group_table)
        .join(
            t.users_groups,
            t.users_groups.c.users_group_id == group_table.c[groups.subject],
        )
        .where(group_table.c[groups.object] == obj)
        .order_by(group_key)
    )
    listed = [
        {"name": name, "type": "user", "permission": NAME_BY_ID[pid]}
        for name, pid in user_rows
    ]
    listed += [
        {"name": name, "type": "user_group", "permission": NAME_BY_ID[pid]}
        for name, pid in group_rows
    ]
    return listed


class GrantStore(AccessWriter):
    """Granting and revoking permissions on objects, one unit of work each."""

    async def grant(
        self, where: GrantTable, subject: int, obj: int, level: str
    ) -> None:
        try:
            await self._write("grant", grant, where, subject, obj, level)
        except sa.exc.IntegrityError:
            # A request racing this one created the row: replace its level.
            await self._write("grant", grant, where, subject, obj, level)

    async def revoke(self, where: GrantTable, subject: int, obj: int) -> None:
        await self._write("revoke", revoke, where, subject, obj)
