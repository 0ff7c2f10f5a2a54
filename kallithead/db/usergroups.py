"""User groups: the groups, their members, and the rows that hang off them."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kallithead.db import grants
from kallithead.db import schema as t
from kallithead.db.access import AccessWriter, bump_access_token
from kallithead.db.users import USER_COLUMNS, UserRecord, id_or_name, user_records
from kallithead.errors import Refused


@dataclass(frozen=True)
class UserGroupRecord:
    users_group_id: int
    group_name: str
    description: str
    active: bool
    owner_id: int
    owner: str
    members: tuple[UserRecord, ...]


class GroupNameTaken(Refused):
    pass


class GroupHoldsRepositories(Refused):
    """The group still holds permissions on these repositories."""

    def __init__(self, repo_names: list[str]) -> None:
        super().__init__(", ".join(repo_names))
        self.repo_names = repo_names


def _where_ident(ident: tuple[str, Any]) -> sa.ColumnElement[bool]:
    kind, value = ident
    if kind == "id":
        return t.users_groups.c.users_group_id == value
    return t.users_groups.c.users_group_name == value


def _group_records(
    conn: Connection, where: sa.ColumnElement[bool] | None = None
) -> list[UserGroupRecord]:
    """Groups with owners and members, in id order: a fixed number of queries."""
    groups = t.users_groups
    owners = t.users.alias("owners")
    query = (
        sa.select(
            groups.c.users_group_id,
            groups.c.users_group_name,
            groups.c.user_group_description,
            groups.c.users_group_active,
            groups.c.user_id,
            owners.c.username,
        )
        .select_from(groups)
        .join(owners, owners.c.user_id == groups.c.user_id)
        .order_by(groups.c.users_group_id)
    )
    if where is not None:
        query = query.where(where)
    rows = conn.execute(query).all()
    if not rows:
        return []

    ids = [row.users_group_id for row in rows]
    members = t.users_groups_members
    membership = conn.execute(
        sa.select(members.c.users_group_id, *USER_COLUMNS)
        .select_from(members)
        .join(t.users, t.users.c.user_id == members.c.user_id)
        .where(members.c.users_group_id.in_(ids))
        .order_by(members.c.users_group_member_id)
    ).all()
    users_by_id = {
        user.user_id: user for user in user_records(conn, _unique(membership))
    }
    members_by_group: dict[int, list[UserRecord]] = {}
    for row in membership:
        members_by_group.setdefault(row.users_group_id, []).append(
            users_by_id[row.user_id]
        )
    return [
        UserGroupRecord(
            users_group_id=row.users_group_id,
            group_name=row.users_group_name,
            description=row.user_group_description or "",
            active=bool(row.users_group_active),
            owner_id=row.user_id,
            owner=row.username,
            members=tuple(members_by_group.get(row.users_group_id, ())),
        )
        for row in rows
    ]


def _unique(rows: Iterable[Any]) -> list[Any]:
    seen: dict[int, Any] = {}
    for row in rows:
        seen.setdefault(row.user_id, row)
    return list(seen.values())


def find_group(conn: Connection, ident: tuple[str, Any]) -> UserGroupRecord | None:
    found = _group_records(conn, _where_ident(ident))
    return found[0] if found else None


def list_groups(
    conn: Connection, ids: Iterable[int] | None = None
) -> list[UserGroupRecord]:
    if ids is None:
        return _group_records(conn)
    return _group_records(conn, t.users_groups.c.users_group_id.in_(list(ids)))


def _name_taken(conn: Connection, name: str, except_group: int | None = None) -> bool:
    owners = set(
        conn.execute(
            sa.select(t.users_groups.c.users_group_id).where(
                t.users_groups.c.users_group_name == name
            )
        ).scalars()
    )
    owners.discard(except_group)
    return bool(owners)


def insert_group(
    conn: Connection, name: str, description: str, owner_id: int, active: bool
) -> UserGroupRecord:
    """Create a group with the `default` user's row and the owner's admin row."""
    if _name_taken(conn, name):
        raise GroupNameTaken()
    group_id = conn.execute(
        t.users_groups.insert().values(
            users_group_name=name,
            user_group_description=description,
            users_group_active=active,
            inherit_default_permissions=True,
            user_id=owner_id,
            created_on=datetime.datetime.now(),
        )
    ).inserted_primary_key[0]
    rows = {
        grants.default_user_id(conn): grants.default_level(conn, "usergroup"),
        owner_id: "usergroup.admin",
    }
    for user_id, level in rows.items():
        grants.grant(conn, grants.USER_GROUP_USER, user_id, group_id, level)
    bump_access_token(conn)
    record = find_group(conn, ("id", group_id))
    assert record is not None
    return record


def update_group(
    conn: Connection, group_id: int, changes: Mapping[str, Any]
) -> UserGroupRecord:
    """Apply column changes to a group and return it."""
    name = changes.get("users_group_name")
    if name is not None and _name_taken(conn, name, group_id):
        raise GroupNameTaken()
    if changes:
        conn.execute(
            t.users_groups.update()
            .where(t.users_groups.c.users_group_id == group_id)
            .values(**changes)
        )
        bump_access_token(conn)
    record = find_group(conn, ("id", group_id))
    assert record is not None
    return record


def delete_group(conn: Connection, group_id: int) -> None:
    """Delete a group, its memberships and its permission rows.

    Refused while the group holds a permission on a repository.
    """
    repos = conn.execute(
        sa.select(t.repositories.c.repo_name)
        .select_from(t.users_group_repo_to_perm)
        .join(
            t.repositories,
            t.repositories.c.repo_id == t.users_group_repo_to_perm.c.repository_id,
        )
        .where(t.users_group_repo_to_perm.c.users_group_id == group_id)
        .order_by(t.repositories.c.repo_name)
    ).scalars()
    held = list(repos)
    if held:
        raise GroupHoldsRepositories(held)

    for table, column in (
        (t.users_groups_members, "users_group_id"),
        (t.users_group_to_perm, "users_group_id"),
        (t.users_group_repo_group_to_perm, "users_group_id"),
        (t.user_user_group_to_perm, "user_group_id"),
        (t.user_group_user_group_to_perm, "user_group_id"),
        (t.user_group_user_group_to_perm, "target_user_group_id"),
    ):
        conn.execute(table.delete().where(table.c[column] == group_id))
    conn.execute(
        t.users_groups.delete().where(t.users_groups.c.users_group_id == group_id)
    )
    bump_access_token(conn)


def add_member(conn: Connection, group_id: int, user_id: int) -> bool:
    """Add a user to a group; False if it already was a member."""
    members = t.users_groups_members
    present = conn.execute(
        sa.select(members.c.users_group_member_id).where(
            members.c.users_group_id == group_id, members.c.user_id == user_id
        )
    ).first()
    if present is not None:
        return False
    conn.execute(members.insert().values(users_group_id=group_id, user_id=user_id))
    bump_access_token(conn)
    return True


def remove_member(conn: Connection, group_id: int, user_id: int) -> bool:
    """Remove a user from a group; False if it was not a member."""
    members = t.users_groups_members
    removed = conn.execute(
        members.delete().where(
            members.c.users_group_id == group_id, members.c.user_id == user_id
        )
    ).rowcount
    if removed:
        bump_access_token(conn)
    return bool(removed)


class UserGroupStore(AccessWriter):
    """Asynchronous access to user groups; each method is one unit of work."""

    async def find(self, ident: object) -> UserGroupRecord | None:
        found = id_or_name(ident)
        if found is None:
            return None
        return await self._db.run("find_user_group", find_group, found)

    async def list(self) -> list[UserGroupRecord]:
        return await self._db.run("list_user_groups", list_groups)

    async def named(self, name: str) -> UserGroupRecord | None:
        """The group called exactly ``name`` (never a lookup by id)."""
        return await self._db.run("find_user_group", find_group, ("name", name))

    async def create(
        self, name: str, description: str, owner_id: int, active: bool
    ) -> UserGroupRecord:
        try:
            return await self._write(
                "create_user_group", insert_group, name, description, owner_id, active
            )
        except sa.exc.IntegrityError:
            if await self.named(name) is not None:
                raise GroupNameTaken() from None
            raise

    async def update(
        self, group_id: int, changes: Mapping[str, Any]
    ) -> UserGroupRecord:
        try:
            return await self._write(
                "update_user_group", update_group, group_id, changes
            )
        except sa.exc.IntegrityError:
            name = changes.get("users_group_name")
            if name is not None and await self.named(name) is not None:
                raise GroupNameTaken() from None
            raise

    async def delete(self, group_id: int) -> None:
        await self._write("delete_user_group", delete_group, group_id)

    async def add_member(self, group_id: int, user_id: int) -> bool:
        try:
            return await self._write(
                "add_user_group_member", add_member, group_id, user_id
            )
        except sa.exc.IntegrityError:
            # A request racing this one added the same member.
            return False

    async def remove_member(self, group_id: int, user_id: int) -> bool:
        return await self._write(
            "remove_user_group_member", remove_member, group_id, user_id
        )
