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

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kallithead.auth.permissions import (
    ADMIN,
    NAME_BY_ID,
    PermissionSet,
    stronger,
    strongest_per_family,
)
from kallithead.db import schema as t

DEFAULT_USERNAME = "default"


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


def effective_permissions(conn: Connection, user_id: int, admin: bool) -> PermissionSet:
    """Global permissions and the level on every object, for ``get_user``."""
    globals_ = global_permissions(conn, user_id, admin)
    if admin:
        return PermissionSet(
            global_permissions=globals_,
            repositories=_all_names(conn, t.repositories.c.repo_name, "repository"),
            repository_groups=_all_names(conn, t.repo_groups.c.group_name, "group"),
            user_groups=_all_names(
                conn, t.users_groups.c.users_group_name, "usergroup"
            ),
        )
    return PermissionSet(
        global_permissions=globals_,
        repositories=_repository_levels(conn, user_id),
        repository_groups=_repo_group_levels(conn, user_id),
        user_groups=_user_group_levels(conn, user_id),
    )


def _all_names(conn: Connection, column: sa.Column, family: str) -> dict[str, str]:
    level = f"{family}.admin"
    return {name: level for name in conn.execute(sa.select(column)).scalars()}


def _raise_levels(
    levels: dict[str, str], grants: Iterable[tuple[str, int]], owned: set[str]
) -> None:
    for name, permission_id in grants:
        if name in levels and name not in owned:
            levels[name] = stronger(levels[name], NAME_BY_ID[permission_id])


def _repository_levels(conn: Connection, user_id: int) -> dict[str, str]:
    repos = t.repositories
    default_rows = t.repo_to_perm.alias("default_rows")
    base = conn.execute(
        sa.select(
            repos.c.repo_name,
            repos.c.user_id,
            repos.c.private,
            default_rows.c.permission_id,
        )
        .select_from(repos)
        .outerjoin(
            default_rows,
            sa.and_(
                default_rows.c.repository_id == repos.c.repo_id,
                default_rows.c.user_id == _default_user_id(),
            ),
        )
    )
    levels: dict[str, str] = {}
    owned: set[str] = set()
    for name, owner_id, private, permission_id in base:
        if owner_id == user_id:
            levels[name] = "repository.admin"
            owned.add(name)
        elif private or permission_id is None:
            levels[name] = "repository.none"
        else:
            levels[name] = NAME_BY_ID[permission_id]

    explicit = (
        sa.select(repos.c.repo_name, t.repo_to_perm.c.permission_id)
        .select_from(t.repo_to_perm)
        .join(repos, repos.c.repo_id == t.repo_to_perm.c.repository_id)
    )
    group_rows = t.users_group_repo_to_perm
    through_groups = (
        sa.select(repos.c.repo_name, group_rows.c.permission_id)
        .select_from(group_rows)
        .join(repos, repos.c.repo_id == group_rows.c.repository_id)
    )
    grants = conn.execute(
        sa.union_all(
            explicit.where(t.repo_to_perm.c.user_id == user_id),
            through_groups.where(
                group_rows.c.users_group_id.in_(_active_group_ids(user_id))
            ),
        )
    )
    _raise_levels(levels, grants, owned)
    return levels


def _repo_group_levels(conn: Connection, user_id: int) -> dict[str, str]:
    groups = t.repo_groups
    user_rows = t.user_repo_group_to_perm
    default_rows = user_rows.alias("default_rows")
    base = conn.execute(
        sa.select(groups.c.group_name, groups.c.user_id, default_rows.c.permission_id)
        .select_from(groups)
        .outerjoin(
            default_rows,
            sa.and_(
                default_rows.c.group_id == groups.c.group_id,
                default_rows.c.user_id == _default_user_id(),
            ),
        )
    )
    levels, owned = _base_levels(base, user_id, "group")

    group_rows = t.users_group_repo_group_to_perm
    grants = conn.execute(
        sa.union_all(
            sa.select(groups.c.group_name, user_rows.c.permission_id)
            .select_from(user_rows)
            .join(groups, groups.c.group_id == user_rows.c.group_id)
            .where(user_rows.c.user_id == user_id),
            sa.select(groups.c.group_name, group_rows.c.permission_id)
            .select_from(group_rows)
            .join(groups, groups.c.group_id == group_rows.c.group_id)
            .where(group_rows.c.users_group_id.in_(_active_group_ids(user_id))),
        )
    )
    _raise_levels(levels, grants, owned)
    return levels


def _user_group_levels(conn: Connection, user_id: int) -> dict[str, str]:
    groups = t.users_groups
    user_rows = t.user_user_group_to_perm
    default_rows = user_rows.alias("default_rows")
    base = conn.execute(
        sa.select(
            groups.c.users_group_name, groups.c.user_id, default_rows.c.permission_id
        )
        .select_from(groups)
        .outerjoin(
            default_rows,
            sa.and_(
                default_rows.c.user_group_id == groups.c.users_group_id,
                default_rows.c.user_id == _default_user_id(),
            ),
        )
    )
    levels, owned = _base_levels(base, user_id, "usergroup")

    group_rows = t.user_group_user_group_to_perm
    grants = conn.execute(
        sa.union_all(
            sa.select(groups.c.users_group_name, user_rows.c.permission_id)
            .select_from(user_rows)
            .join(groups, groups.c.users_group_id == user_rows.c.user_group_id)
            .where(user_rows.c.user_id == user_id),
            sa.select(groups.c.users_group_name, group_rows.c.permission_id)
            .select_from(group_rows)
            .join(groups, groups.c.users_group_id == group_rows.c.target_user_group_id)
            .where(group_rows.c.user_group_id.in_(_active_group_ids(user_id))),
        )
    )
    _raise_levels(levels, grants, owned)
    return levels


def _base_levels(
    rows: Iterable[tuple[str, int, int | None]], user_id: int, family: str
) -> tuple[dict[str, str], set[str]]:
    """Start from the `default` user's level; owners get admin."""
    levels: dict[str, str] = {}
    owned: set[str] = set()
    for name, owner_id, permission_id in rows:
        if owner_id == user_id:
            levels[name] = f"{family}.admin"
            owned.add(name)
        elif permission_id is None:
            levels[name] = f"{family}.none"
        else:
            levels[name] = NAME_BY_ID[permission_id]
    return levels, owned
