"""Repository groups in the database (API-SPEC.md 2.6, 3.33 to 3.41).

A group's ``group_name`` is its full path; its repositories and nested
groups carry that path as the start of their own names. Renaming or moving
a group therefore rewrites every name below it, in the same transaction.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kallithead.db import grants
from kallithead.db import schema as t
from kallithead.db.access import AccessWriter, bump_access_token
from kallithead.db.repos import STATE_PENDING
from kallithead.db.users import id_or_name
from kallithead.errors import Refused

groups = t.repo_groups
repos = t.repositories
_owners = t.users.alias("group_owners")
_parents = t.repo_groups.alias("parent_groups")

# apply_to_children: which objects below a group a grant or revoke reaches
# besides the group itself (API-SPEC.md 6.7); any other value reaches none.
_REACH = {
    "none": (False, False),
    "groups": (True, False),
    "repos": (False, True),
    "all": (True, True),
}


class GroupNameTaken(Refused):
    """A group or a repository already has the full name."""


class GroupNotEmpty(Refused):
    """The group still holds repositories or groups."""


class BadParent(Refused):
    """The new parent is the group itself or one of its descendants."""


class CreationUnderWay(Refused):
    """A repository inside the group is still being created."""


class GroupGone(Refused):
    """The group was deleted by a request racing this one."""


class RepoGroupRecord(NamedTuple):
    group_id: int
    group_name: str
    parent_id: int | None
    parent_name: str | None
    description: str
    enable_locking: bool
    owner_id: int
    owner: str
    created_on: datetime.datetime
    # Full names of the repositories directly inside, sorted.
    repositories: tuple[str, ...]
    # Whether any group is directly inside.
    holds_groups: bool

    @property
    def short_name(self) -> str:
        return self.group_name.rpartition("/")[2]


_GROUP_QUERY = (
    sa.select(
        groups.c.group_id,
        groups.c.group_name,
        groups.c.group_parent_id,
        _parents.c.group_name,
        groups.c.group_description,
        groups.c.enable_locking,
        groups.c.user_id,
        _owners.c.username,
        groups.c.created_on,
    )
    .select_from(groups)
    .join(_owners, _owners.c.user_id == groups.c.user_id)
    .outerjoin(_parents, _parents.c.group_id == groups.c.group_parent_id)
)


def _records(conn: Connection, rows: Sequence[sa.Row[Any]]) -> list[RepoGroupRecord]:
    """Records for ``rows`` of _GROUP_QUERY, with one query for the
    repositories of all of them."""
    inside: dict[int, list[str]] = {row[0]: [] for row in rows}
    if inside:
        query = sa.select(repos.c.group_id, repos.c.repo_name).order_by(
            repos.c.repo_name
        )
        if len(inside) == 1:
            query = query.where(repos.c.group_id == next(iter(inside)))
        else:
            query = query.where(repos.c.group_id.is_not(None))
        for group_id, repo_name in conn.execute(query):
            if group_id in inside:
                inside[group_id].append(repo_name)
    parents = set(
        conn.execute(
            sa.select(groups.c.group_parent_id)
            .where(groups.c.group_parent_id.is_not(None))
            .distinct()
        ).scalars()
    )
    return [
        RepoGroupRecord(
            group_id=row[0],
            group_name=row[1],
            parent_id=row[2],
            parent_name=row[3],
            description=row[4],
            enable_locking=bool(row[5]),
            owner_id=row[6],
            owner=row[7],
            created_on=row[8],
            repositories=tuple(sorted(inside[row[0]])),
            holds_groups=row[0] in parents,
        )
        for row in rows
    ]


def find_repo_group(conn: Connection, ident: tuple[str, Any]) -> RepoGroupRecord | None:
    kind, value = ident
    column = groups.c.group_id if kind == "id" else groups.c.group_name
    rows = conn.execute(_GROUP_QUERY.where(column == value)).all()
    found = _records(conn, rows)
    return found[0] if found else None


def list_repo_groups(conn: Connection) -> list[RepoGroupRecord]:
    """Every group in creation order (Kallithea 0.6 and later list them in
    the database's order)."""
    rows = conn.execute(_GROUP_QUERY.order_by(groups.c.group_id)).all()
    return _records(conn, rows)


def _name_is_free(conn: Connection, name: str) -> bool:
    """No group and no repository is called ``name``."""
    taken_by_group = conn.execute(
        sa.select(groups.c.group_id).where(groups.c.group_name == name)
    ).first()
    taken_by_repo = conn.execute(
        sa.select(repos.c.repo_id).where(repos.c.repo_name == name)
    ).first()
    return taken_by_group is None and taken_by_repo is None


def insert_repo_group(
    conn: Connection,
    full_name: str,
    parent_id: int | None,
    description: str,
    owner_id: int,
    owner_is_admin: bool,
    copy_permissions: bool,
) -> RepoGroupRecord:
    """A new group and its permission rows (API-SPEC.md 3.35): the parent's
    rows copied when asked, else the `default` user's row at the default
    group level; a regular owner gets group.admin."""
    if not _name_is_free(conn, full_name):
        raise GroupNameTaken(full_name)
    group_id = conn.execute(
        groups.insert().values(
            group_name=full_name,
            group_parent_id=parent_id,
            group_description=description,
            enable_locking=False,
            user_id=owner_id,
            created_on=datetime.datetime.now(),
        )
    ).inserted_primary_key[0]
    if parent_id is not None and copy_permissions:
        for kind in (grants.REPO_GROUP_USER, grants.REPO_GROUP_USER_GROUP):
            for subject, permission_id in grants.rows_on(conn, kind, parent_id):
                if kind is grants.REPO_GROUP_USER and subject == owner_id:
                    if not owner_is_admin:
                        continue
                grants.grant(conn, kind, subject, group_id, str(permission_id))
    else:
        grants.grant(
            conn,
            grants.REPO_GROUP_USER,
            grants.default_user_id(conn),
            group_id,
            grants.default_level(conn, "group"),
        )
    if not owner_is_admin:
        grants.grant(conn, grants.REPO_GROUP_USER, owner_id, group_id, "group.admin")
    bump_access_token(conn)
    record = find_repo_group(conn, ("id", group_id))
    assert record is not None
    return record


class Renamed(NamedTuple):
    group: RepoGroupRecord
    # (old, new) full names of the repositories that moved with the group.
    repositories: list[tuple[str, str]]


def _below(column: sa.ColumnElement[str], name: str) -> sa.ColumnElement[bool]:
    """``column`` names something inside the group called ``name``."""
    prefix = name + "/"
    return sa.func.substr(column, 1, len(prefix)) == prefix


def update_repo_group_row(
    conn: Connection,
    group_id: int,
    new_name: str,
    parent_id: int | None,
    changes: dict[str, Any],
) -> Renamed:
    """Change a group's row; a new full name is given to every group and
    repository below it too."""
    current = find_repo_group(conn, ("id", group_id))
    if current is None:
        raise GroupGone(group_id)
    moved: list[tuple[str, str]] = []
    values = dict(changes)
    if new_name != current.group_name:
        if not _name_is_free(conn, new_name):
            raise GroupNameTaken(new_name)
        if parent_id is not None and _is_within(conn, parent_id, current):
            raise BadParent(new_name)
        old = current.group_name
        cut = len(old)
        creating = conn.execute(
            sa.select(repos.c.repo_id)
            .where(_below(repos.c.repo_name, old), repos.c.repo_state == STATE_PENDING)
            .limit(1)
        ).first()
        if creating is not None:
            # A repository is being built in the group's folder: moving the
            # folder now would leave it behind.
            raise CreationUnderWay(old)
        for nested_id, nested_name in conn.execute(
            sa.select(groups.c.group_id, groups.c.group_name).where(
                _below(groups.c.group_name, old)
            )
        ).all():
            conn.execute(
                groups.update()
                .where(groups.c.group_id == nested_id)
                .values(group_name=new_name + nested_name[cut:])
            )
        for repo_id, repo_name in conn.execute(
            sa.select(repos.c.repo_id, repos.c.repo_name).where(
                _below(repos.c.repo_name, old)
            )
        ).all():
            renamed = new_name + repo_name[cut:]
            conn.execute(
                repos.update()
                .where(repos.c.repo_id == repo_id)
                .values(repo_name=renamed)
            )
            conn.execute(
                t.cache_invalidation.update()
                .where(t.cache_invalidation.c.cache_args == repo_name)
                .values(cache_args=renamed)
            )
            moved.append((repo_name, renamed))
        values.update(group_name=new_name, group_parent_id=parent_id)
    if values:
        conn.execute(
            groups.update().where(groups.c.group_id == group_id).values(values)
        )
    bump_access_token(conn)
    record = find_repo_group(conn, ("id", group_id))
    assert record is not None
    return Renamed(record, moved)


def _is_within(conn: Connection, group_id: int, group: RepoGroupRecord) -> bool:
    """Whether ``group_id`` is ``group`` or a group below it."""
    if group_id == group.group_id:
        return True
    name = conn.execute(
        sa.select(groups.c.group_name).where(groups.c.group_id == group_id)
    ).scalar()
    return name is not None and name.startswith(group.group_name + "/")


def delete_repo_group_rows(conn: Connection, group_id: int) -> None:
    """Delete an empty group with its permission rows."""
    holds_repo = conn.execute(
        sa.select(repos.c.repo_id).where(repos.c.group_id == group_id).limit(1)
    ).first()
    holds_group = conn.execute(
        sa.select(groups.c.group_id)
        .where(groups.c.group_parent_id == group_id)
        .limit(1)
    ).first()
    if holds_repo is not None or holds_group is not None:
        raise GroupNotEmpty(group_id)
    for kind in (grants.REPO_GROUP_USER, grants.REPO_GROUP_USER_GROUP):
        grants.drop_object(conn, kind, group_id)
    conn.execute(groups.delete().where(groups.c.group_id == group_id))
    bump_access_token(conn)


def apply_to_tree(
    conn: Connection,
    group: RepoGroupRecord,
    by_user_group: bool,
    subject: int,
    level: str | None,
    reach: str,
) -> None:
    """Grant ``level`` (a ``group.*`` name) to ``subject`` on the group, or
    revoke it when ``level`` is None; and on what ``reach`` names below it
    (repositories get the ``repository.*`` level of the same word)."""
    on_groups, on_repos = _REACH.get(reach, (False, False))
    group_kind = (
        grants.REPO_GROUP_USER_GROUP if by_user_group else grants.REPO_GROUP_USER
    )
    repo_kind = grants.REPO_USER_GROUP if by_user_group else grants.REPO_USER
    targets: list[tuple[grants.GrantTable, int, str | None]] = [
        (group_kind, group.group_id, level)
    ]
    if on_groups:
        nested = conn.execute(
            sa.select(groups.c.group_id)
            .where(_below(groups.c.group_name, group.group_name))
            .order_by(groups.c.group_name)
        ).scalars()
        targets += [(group_kind, nested_id, level) for nested_id in nested]
    if on_repos:
        repo_level = None if level is None else "repository." + level.partition(".")[2]
        inside = conn.execute(
            sa.select(repos.c.repo_id)
            .where(_below(repos.c.repo_name, group.group_name))
            .order_by(repos.c.repo_name)
        ).scalars()
        targets += [(repo_kind, repo_id, repo_level) for repo_id in inside]
    for kind, obj, granted in targets:
        if granted is None:
            grants.revoke(conn, kind, subject, obj)
        else:
            grants.grant(conn, kind, subject, obj, granted)
    bump_access_token(conn)


def group_members(conn: Connection, group_id: int) -> list[dict[str, Any]]:
    return grants.members(
        conn, grants.REPO_GROUP_USER, grants.REPO_GROUP_USER_GROUP, group_id
    )


class RepoGroupStore(AccessWriter):
    """Asynchronous access to repository group rows; one unit of work each."""

    async def find(self, ident: object) -> RepoGroupRecord | None:
        lookup = id_or_name(ident)
        if lookup is None:
            return None
        return await self._db.run("find_repo_group", find_repo_group, lookup)

    async def find_named(self, name: str) -> RepoGroupRecord | None:
        """The group whose full name is exactly ``name`` (never by id)."""
        if "\x00" in name:
            return None
        return await self._db.run("find_repo_group", find_repo_group, ("name", name))

    async def list(self) -> list[RepoGroupRecord]:
        return await self._db.run("list_repo_groups", list_repo_groups)

    async def members(self, group_id: int) -> list[dict[str, Any]]:
        return await self._db.run("repo_group_members", group_members, group_id)

    async def insert(
        self,
        full_name: str,
        parent_id: int | None,
        description: str,
        owner_id: int,
        owner_is_admin: bool,
        copy_permissions: bool,
    ) -> RepoGroupRecord:
        try:
            return await self._write(
                "create_repo_group",
                insert_repo_group,
                full_name,
                parent_id,
                description,
                owner_id,
                owner_is_admin,
                copy_permissions,
            )
        except sa.exc.IntegrityError as e:
            # A request racing this one took the name first.
            raise GroupNameTaken(full_name) from e

    async def update(
        self,
        group_id: int,
        new_name: str,
        parent_id: int | None,
        changes: dict[str, Any],
    ) -> Renamed:
        try:
            return await self._write(
                "update_repo_group",
                update_repo_group_row,
                group_id,
                new_name,
                parent_id,
                changes,
            )
        except sa.exc.IntegrityError as e:
            raise GroupNameTaken(new_name) from e

    async def delete(self, group_id: int) -> None:
        try:
            await self._write("delete_repo_group", delete_repo_group_rows, group_id)
        except sa.exc.IntegrityError as e:
            # Something was put into the group while it was being deleted.
            raise GroupNotEmpty(group_id) from e

    async def apply(
        self,
        group: RepoGroupRecord,
        by_user_group: bool,
        subject: int,
        level: str | None,
        reach: str,
    ) -> None:
        await self._write(
            "repo_group_permission",
            apply_to_tree,
            group,
            by_user_group,
            subject,
            level,
            reach,
        )
