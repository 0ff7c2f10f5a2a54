"""The effective permissions of a user, computed with a fixed number of queries.

The rules are Kallithea 0.6's, as DESIGN.md decides (API-SPEC.md 4.4): an
admin has admin on everything; a regular user starts from what the `default`
user holds (globally, and on each object), the owner of an object gets admin
on it, a private repository gives `repository.none` to everyone else; then
every grant to the user and to the *active* user groups the user belongs to
can only raise a level, never lower it. Global permissions keep only the
strongest member of each family.

Each function runs on the database thread with a connection and issues one
query per kind of grant, whatever the number of objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kallithead.auth.permissions import (
    ADMIN,
    NAME_BY_ID,
    PermissionSet,
    stronger,
    strongest_per_family,
)
from kallithead.db import grants
from kallithead.db import schema as t
from kallithead.db.grants import GrantTable
from kallithead.db.names import DEFAULT_USERNAME


def _default_user_id() -> sa.ScalarSelect:
    return (
        sa.select(t.users.c.user_id)
        .where(t.users.c.username == DEFAULT_USERNAME)
        .scalar_subquery()
    )


def _active_group_ids(user_id: int) -> sa.Select:
    """The ids of the active user groups that ``user_id`` belongs to."""
    members = t.users_groups_members
    groups = t.users_groups
    return (
        sa.select(members.c.users_group_id)
        .select_from(members)
        .join(groups, groups.c.users_group_id == members.c.users_group_id)
        .where(members.c.user_id == user_id, groups.c.users_group_active.is_(True))
    )


def global_permissions(conn: Connection, user_id: int, admin: bool) -> frozenset[str]:
    """The global permission names of a user."""
    if admin:
        return frozenset({ADMIN})
    own_and_default = sa.select(t.user_to_perm.c.permission_id).where(
        t.user_to_perm.c.user_id.in_([user_id, _default_user_id()])
    )
    through_groups = sa.select(t.users_group_to_perm.c.permission_id).where(
        t.users_group_to_perm.c.users_group_id.in_(_active_group_ids(user_id))
    )
    rows = conn.execute(sa.union(own_and_default, through_groups)).scalars()
    return frozenset(strongest_per_family(NAME_BY_ID[pid] for pid in rows))


@dataclass(frozen=True)
class _ObjectKind:
    """One kind of object: its table, and the grant tables that name it.

    The grant tables are those ``kallithead.db.grants`` grants and revokes with;
    the subject of ``user_grants`` is a user, that of ``group_grants`` a user
    group.
    """

    family: str
    objects: sa.Table
    object_id: str
    name: str
    user_grants: GrantTable
    group_grants: GrantTable
    private: str | None = None


REPOSITORIES = _ObjectKind(
    family="repository",
    objects=t.repositories,
    object_id="repo_id",
    name="repo_name",
    user_grants=grants.REPO_USER,
    group_grants=grants.REPO_USER_GROUP,
    private="private",
)

REPOSITORY_GROUPS = _ObjectKind(
    family="group",
    objects=t.repo_groups,
    object_id="group_id",
    name="group_name",
    user_grants=grants.REPO_GROUP_USER,
    group_grants=grants.REPO_GROUP_USER_GROUP,
)

USER_GROUPS = _ObjectKind(
    family="usergroup",
    objects=t.users_groups,
    object_id="users_group_id",
    name="users_group_name",
    user_grants=grants.USER_GROUP_USER,
    # A user group's grant on another user group: the target is the object.
    group_grants=grants.USER_GROUP_USER_GROUP,
)


def effective_permissions(conn: Connection, user_id: int, admin: bool) -> PermissionSet:
    """Global permissions and the level on every object, for ``get_user``."""
    levels = _all_admin if admin else _levels
    return PermissionSet(
        global_permissions=global_permissions(conn, user_id, admin),
        repositories=levels(conn, user_id, REPOSITORIES),
        repository_groups=levels(conn, user_id, REPOSITORY_GROUPS),
        user_groups=levels(conn, user_id, USER_GROUPS),
    )


def _all_admin(conn: Connection, user_id: int, kind: _ObjectKind) -> dict[str, str]:
    level = f"{kind.family}.admin"
    names = conn.execute(sa.select(kind.objects.c[kind.name])).scalars()
    return {name: level for name in names}


def _levels(conn: Connection, user_id: int, kind: _ObjectKind) -> dict[str, str]:
    """The level of a regular user on every object of one kind: two queries."""
    objects = kind.objects
    name = objects.c[kind.name]
    object_id = objects.c[kind.object_id]

    users, groups = kind.user_grants, kind.group_grants
    default_rows = users.table.alias("default_rows")
    private = objects.c[kind.private] if kind.private else sa.false()
    base = conn.execute(
        sa.select(name, objects.c.user_id, private, default_rows.c.permission_id)
        .select_from(objects)
        .outerjoin(
            default_rows,
            sa.and_(
                default_rows.c[users.object] == object_id,
                default_rows.c[users.subject] == _default_user_id(),
            ),
        )
    )
    none, admin = f"{kind.family}.none", f"{kind.family}.admin"
    levels: dict[str, str] = {}
    owned: set[str] = set()
    for object_name, owner_id, is_private, permission_id in base:
        if owner_id == user_id:
            levels[object_name] = admin
            owned.add(object_name)
        elif is_private or permission_id is None:
            levels[object_name] = none
        else:
            levels[object_name] = NAME_BY_ID[permission_id]

    user_table, group_table = users.table, groups.table
    rows = conn.execute(
        sa.union_all(
            sa.select(name, user_table.c.permission_id)
            .select_from(user_table)
            .join(objects, object_id == user_table.c[users.object])
            .where(user_table.c[users.subject] == user_id),
            sa.select(name, group_table.c.permission_id)
            .select_from(group_table)
            .join(objects, object_id == group_table.c[groups.object])
            .where(group_table.c[groups.subject].in_(_active_group_ids(user_id))),
        )
    )
    # Grants only ever raise a level (DESIGN.md: the strongest grant wins).
    for object_name, permission_id in rows:
        if object_name in levels and object_name not in owned:
            levels[object_name] = stronger(
                levels[object_name], NAME_BY_ID[permission_id]
            )
    return levels
