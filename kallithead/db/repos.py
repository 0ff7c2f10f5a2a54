"""Repositories and repository groups in the database.

The rows only: what happens on disk is coordinated by
kallithead.repositories, which calls these units of work around its disk
steps so that a failure leaves neither an orphan row nor an orphan folder.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from twisted.logger import Logger

from kallithead.auth.cache import AccessMemory
from kallithead.auth.permissions import ID_BY_NAME
from kallithead.db import grants
from kallithead.db import schema as t
from kallithead.db.access import AccessWriter, bump_access_token
from kallithead.db.pool import Database
from kallithead.db.settings import REPOSITORY_FIELDS, is_on
from kallithead.db.users import (
    USER_COLUMNS,
    UserRecord,
    first_admin_id,
    id_or_name,
    user_records,
)
from kallithead.errors import Refused

STATE_CREATED = "repo_state_created"
STATE_PENDING = "repo_state_pending"
log = Logger()

RESERVE_ATTEMPTS = 3


class ParentIsRepository(Refused):
    """A repository cannot go inside another repository's folder."""


class RowGone(Exception):
    """The repository's row was deleted while it was being created (a rescan
    judged the creation abandoned)."""


class Reservation(NamedTuple):
    """A repository row reserved for a creation, and the ids of the
    repository groups made for it (parents first): undone together if the
    creation fails."""

    record: RepoRecord
    made_groups: tuple[int, ...]


class RepoNameTaken(Refused):
    def __init__(self, is_fork: bool) -> None:
        super().__init__()
        self.is_fork = is_fork


class RepoRecord(NamedTuple):
    """A repository row with its owner's and parent's names (a tuple: made
    by the thousand in a listing, where a dataclass costs several times
    more to build)."""

    repo_id: int
    repo_name: str
    repo_type: str
    repo_state: str
    clone_uri: str | None
    private: bool
    created_on: datetime.datetime
    updated_on: datetime.datetime
    description: str
    landing_rev: str
    owner_id: int
    owner: str
    fork_id: int | None
    fork_of: str | None
    group_id: int | None
    enable_statistics: bool
    enable_downloads: bool
    enable_locking: bool
    locked_by: UserRecord | None
    locked_since: float | None
    # The tip summary (API-SPEC.md 2.5 last_changeset) as stored: JSON text,
    # None before any.
    changeset_json: str | None
    # The custom repository fields (API-SPEC.md 2.5 ex_<key>) as (key, value)
    # pairs in the order they were added; empty while the setting
    # repository_fields is off, so that they are then shown nowhere.
    custom_fields: tuple[tuple[str, str], ...] = ()

    @property
    def changeset_cache(self) -> dict[str, Any] | None:
        return json.loads(self.changeset_json) if self.changeset_json else None


repos = t.repositories
_owners = t.users.alias("owners")
_parents = t.repositories.alias("parents")

_REPO_QUERY = (
    sa.select(
        repos.c.repo_id,
        repos.c.repo_name,
        repos.c.repo_type,
        repos.c.repo_state,
        repos.c.clone_uri,
        repos.c.private,
        repos.c.created_on,
        repos.c.updated_on,
        repos.c.description,
        repos.c.landing_revision,
        repos.c.user_id,
        _owners.c.username,
        repos.c.fork_id,
        _parents.c.repo_name,
        repos.c.group_id,
        repos.c.statistics,
        repos.c.downloads,
        repos.c.enable_locking,
        repos.c.locked_by,
        repos.c.locked_since,
        repos.c.changeset_cache,
    )
    .select_from(repos)
    .join(_owners, _owners.c.user_id == repos.c.user_id)
    .outerjoin(_parents, _parents.c.repo_id == repos.c.fork_id)
)


_fields = t.repositories_fields

# Every custom field while the setting is on, none while it is off: one
# statement whatever the number of repositories, the setting included.
_FIELDS_QUERY = (
    sa.select(_fields.c.repository_id, _fields.c.field_key, _fields.c.field_value)
    .where(is_on(REPOSITORY_FIELDS))
    .order_by(_fields.c.repo_field_id)
)


def _custom_fields(
    conn: Connection, repo_id: int | None
) -> dict[int, tuple[tuple[str, str], ...]]:
    """The custom fields shown for each repository (only ``repo_id``'s
    unless it is None), as RepoRecord.custom_fields holds them."""
    query = _FIELDS_QUERY
    if repo_id is not None:
        query = query.where(_fields.c.repository_id == repo_id)
    found: dict[int, list[tuple[str, str]]] = {}
    for owner_id, key, value in conn.execute(query):
        found.setdefault(owner_id, []).append((key, value))
    return {owner_id: tuple(pairs) for owner_id, pairs in found.items()}


# A row of _REPO_QUERY as a plain tuple, in the query's column order, then
# the repository's custom fields: everything its repository object shows
# (but a locker's user row), which makes it the key of a kept encoding.
RepoRow = tuple[Any, ...]
_LOCKED_BY = 18
_NO_FIELDS: tuple[tuple[str, str], ...] = ()


def _rows(
    conn: Connection, result: Any, single: bool = False
) -> tuple[list[RepoRow], dict[int, UserRecord]]:
    """The rows of a _REPO_QUERY result with their custom fields, and the
    users holding their locks. A ``single`` result (one repository at most)
    reads the fields of its repository only."""
    found = result.all()
    fields: dict[int, tuple[tuple[str, str], ...]] = {}
    if found:
        fields = _custom_fields(conn, found[0][0] if single else None)
    rows = [(*row, fields.get(row[0], _NO_FIELDS)) for row in found]
    locker_ids = {row[_LOCKED_BY] for row in rows if row[_LOCKED_BY] is not None}
    lockers: dict[int, UserRecord] = {}
    if locker_ids:
        users = conn.execute(
            sa.select(*USER_COLUMNS).where(t.users.c.user_id.in_(locker_ids))
        )
        lockers = {user.user_id: user for user in user_records(conn, users)}
    return rows, lockers


# Positions in a RepoRow of the flags stored as integers on some databases.
_FLAGS = (5, 15, 16, 17)


def _record(row: RepoRow, lockers: Mapping[int, UserRecord]) -> RepoRecord:
    """A record from a row: the row's columns are RepoRecord's fields, in
    order (by position: several times faster than by name over thousands of
    rows), with the flags made booleans and the locker's id its record."""
    values = list(row)
    for index in _FLAGS:
        values[index] = bool(values[index])
    locked_by = values[_LOCKED_BY]
    values[_LOCKED_BY] = lockers.get(locked_by) if locked_by is not None else None
    return RepoRecord._make(values)


def _records(conn: Connection, result: Any) -> list[RepoRecord]:
    rows, lockers = _rows(conn, result)
    return [_record(row, lockers) for row in rows]


def _where_ident(ident: tuple[str, Any]) -> sa.ColumnElement[bool]:
    kind, value = ident
    if kind == "id":
        return repos.c.repo_id == value
    return repos.c.repo_name == value


def find_repo(conn: Connection, ident: tuple[str, Any]) -> RepoRecord | None:
    result = conn.execute(_REPO_QUERY.where(_where_ident(ident)))
    rows, lockers = _rows(conn, result, single=True)
    return _record(rows[0], lockers) if rows else None


def list_repos(conn: Connection) -> list[RepoRecord]:
    return _records(conn, conn.execute(_REPO_QUERY.order_by(repos.c.repo_id)))


def encode_repos(
    conn: Connection,
    earlier: Mapping[RepoRow, bytes],
    encode: Callable[[RepoRecord], bytes],
) -> tuple[list[tuple[str, bytes]], dict[RepoRow, bytes]]:
    """Every repository as (name, ``encode(record)``), in id order, and the
    encodings by row for the next call.

    An encoding is found again by the whole row it was made from (owner and
    parent names, and the custom fields as the setting shows them,
    included), so a row that did not change is not decoded into a record
    and encoded again; locked rows also show their locker's user row, and
    are always encoded afresh.
    """
    rows, lockers = _rows(conn, conn.execute(_REPO_QUERY.order_by(repos.c.repo_id)))
    encodings: dict[RepoRow, bytes] = {}
    listing = []
    for row in rows:
        encoded = earlier.get(row) if row[_LOCKED_BY] is None else None
        if encoded is None:
            encoded = encode(_record(row, lockers))
            if row[_LOCKED_BY] is None:
                encodings[row] = encoded
        else:
            encodings[row] = encoded
        listing.append((row[1], encoded))
    return listing, encodings


def ensure_groups(
    conn: Connection, path: str, made: list[int] | None = None
) -> int | None:
    """The id of the repository group ``path``, creating missing ones (their
    ids are added to ``made``, parents first, if given).

    A created group is owned by the first admin, described as
    ``<path> group`` and gets the `default` user's row (API-SPEC.md 3.25).
    """
    if not path:
        return None
    groups = t.repo_groups
    parent_id: int | None = None
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        full = "/".join(parts[:depth])
        group_id = conn.execute(
            sa.select(groups.c.group_id).where(groups.c.group_name == full)
        ).scalar()
        if group_id is None:
            group_id = conn.execute(
                groups.insert().values(
                    group_name=full,
                    group_parent_id=parent_id,
                    group_description=f"{full} group",
                    enable_locking=False,
                    user_id=first_admin_id(conn),
                    created_on=datetime.datetime.now(),
                )
            ).inserted_primary_key[0]
            grants.grant(
                conn,
                grants.REPO_GROUP_USER,
                grants.default_user_id(conn),
                group_id,
                grants.default_level(conn, "group"),
            )
            if made is not None:
                made.append(group_id)
        parent_id = group_id
    return parent_id


def drop_unused_groups(conn: Connection, group_ids: list[int]) -> list[str]:
    """Delete those of ``group_ids`` (parents first) that hold no repository
    and no group any more, children before parents; the names deleted.

    For the groups a failed creation made: nothing else should be in them,
    but a racing request may have put something there meanwhile, and then
    the group stays.
    """
    groups = t.repo_groups
    dropped = []
    for group_id in reversed(group_ids):
        in_use = (
            conn.execute(
                sa.select(repos.c.repo_id).where(repos.c.group_id == group_id).limit(1)
            ).first()
            or conn.execute(
                sa.select(groups.c.group_id)
                .where(groups.c.group_parent_id == group_id)
                .limit(1)
            ).first()
        )
        if in_use:
            continue
        name = conn.execute(
            sa.select(groups.c.group_name).where(groups.c.group_id == group_id)
        ).scalar()
        if name is None:
            continue
        for kind in (grants.REPO_GROUP_USER, grants.REPO_GROUP_USER_GROUP):
            grants.drop_object(conn, kind, group_id)
        conn.execute(groups.delete().where(groups.c.group_id == group_id))
        dropped.append(name)
    if dropped:
        bump_access_token(conn)
    return dropped


def _name_holder(conn: Connection, name: str) -> tuple[int, int | None] | None:
    return conn.execute(
        sa.select(repos.c.repo_id, repos.c.fork_id).where(repos.c.repo_name == name)
    ).first()


def insert_repo(
    conn: Connection,
    fields: Mapping[str, Any],
    group_path: str,
    copy_group_permissions: bool,
    copy_from_repo: int | None,
    follower_id: int,
) -> Reservation:
    """Reserve a repository: its row (pending), permission rows, follower,
    and the repository groups its name needs that do not exist yet.

    ``fields`` are column values. Permissions: the source repository's rows
    when forking with copy_permissions, else the group's rows translated when
    asked, else one `default` row (repository.none when private).
    """
    holder = _name_holder(conn, fields["repo_name"])
    if holder is not None:
        raise RepoNameTaken(is_fork=holder[1] is not None)
    parts = group_path.split("/") if group_path else []
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    if (
        prefixes
        and conn.execute(
            sa.select(repos.c.repo_id).where(repos.c.repo_name.in_(prefixes))
        ).first()
    ):
        raise ParentIsRepository()
    made_groups: list[int] = []
    group_id = ensure_groups(conn, group_path, made_groups)
    values = dict(fields)
    if group_id is not None:
        # A repository made inside a group takes the group's locking flag.
        values["enable_locking"] = bool(
            conn.execute(
                sa.select(t.repo_groups.c.enable_locking).where(
                    t.repo_groups.c.group_id == group_id
                )
            ).scalar()
        )
    now = datetime.datetime.now()
    repo_id = conn.execute(
        repos.insert().values(
            **values,
            group_id=group_id,
            repo_state=STATE_PENDING,
            created_on=now,
            updated_on=now,
        )
    ).inserted_primary_key[0]

    if copy_from_repo is not None:
        for kind in (grants.REPO_USER, grants.REPO_USER_GROUP):
            for subject, permission_id in grants.rows_on(conn, kind, copy_from_repo):
                grants.grant(conn, kind, subject, repo_id, str(permission_id))
    elif copy_group_permissions and group_id is not None:
        pairs = (
            (grants.REPO_GROUP_USER, grants.REPO_USER),
            (grants.REPO_GROUP_USER_GROUP, grants.REPO_USER_GROUP),
        )
        for source, target in pairs:
            for subject, permission_id in grants.rows_on(conn, source, group_id):
                level = "repository." + _level_word(permission_id)
                grants.grant(conn, target, subject, repo_id, level)
    else:
        level = (
            "repository.none"
            if fields.get("private")
            else grants.default_level(conn, "repository")
        )
        grants.grant(
            conn, grants.REPO_USER, grants.default_user_id(conn), repo_id, level
        )

    conn.execute(
        t.user_followings.insert().values(
            user_id=follower_id, follows_repository_id=repo_id, follows_from=now
        )
    )
    bump_access_token(conn)
    record = find_repo(conn, ("id", repo_id))
    assert record is not None
    return Reservation(record, tuple(made_groups))


def adopt_repos(
    conn: Connection, entries: list[dict[str, Any]], owner_id: int
) -> list[str]:
    """Register many repositories found on disk in one transaction.

    Each entry holds column values, ``changeset_cache`` (JSON text or None)
    and ``updated_on`` included. Names already taken, or inside another
    repository's folder, are skipped. Returns the names added, in order.
    """
    known = set(conn.execute(sa.select(repos.c.repo_name)).scalars())
    groups: dict[str, int] = {}
    locking: dict[int, bool] = {}
    for group_name, group_id, flag in conn.execute(
        sa.select(
            t.repo_groups.c.group_name,
            t.repo_groups.c.group_id,
            t.repo_groups.c.enable_locking,
        )
    ):
        groups[group_name] = group_id
        locking[group_id] = bool(flag)
    now = datetime.datetime.now()
    rows = []
    for entry in entries:
        name = entry["repo_name"]
        path = name.rpartition("/")[0]
        parts = path.split("/") if path else []
        inside_repo = any("/".join(parts[: n + 1]) in known for n in range(len(parts)))
        if name in known or inside_repo:
            continue
        group_id = groups.get(path) if path else None
        if path and group_id is None:
            group_id = ensure_groups(conn, path)
            groups[path] = group_id
            locking[group_id] = False
        values = dict(entry, group_id=group_id, created_on=now)
        if values.get("updated_on") is None:
            values["updated_on"] = now
        if group_id is not None:
            values["enable_locking"] = bool(locking.get(group_id))
        rows.append(values)
        known.add(name)
    if not rows:
        return []

    conn.execute(repos.insert(), rows)
    added = [row["repo_name"] for row in rows]
    ids: dict[str, int] = {}
    for start in range(0, len(added), 500):
        chunk = added[start : start + 500]
        query = sa.select(repos.c.repo_name, repos.c.repo_id).where(
            repos.c.repo_name.in_(chunk)
        )
        ids.update((name, repo_id) for name, repo_id in conn.execute(query))
    default_id = grants.default_user_id(conn)
    public = ID_BY_NAME[grants.default_level(conn, "repository")]
    hidden = ID_BY_NAME["repository.none"]
    conn.execute(
        t.repo_to_perm.insert(),
        [
            {
                "user_id": default_id,
                "repository_id": ids[row["repo_name"]],
                "permission_id": hidden if row.get("private") else public,
            }
            for row in rows
        ],
    )
    conn.execute(
        t.user_followings.insert(),
        [
            {
                "user_id": owner_id,
                "follows_repository_id": ids[name],
                "follows_from": now,
            }
            for name in added
        ],
    )
    bump_access_token(conn)
    return added


def _level_word(permission_id: int) -> str:
    from kallithead.auth.permissions import NAME_BY_ID

    return NAME_BY_ID[permission_id].rpartition(".")[2]


def mark_created(
    conn: Connection, repo_id: int, cache: dict[str, Any] | None, updated_on: Any
) -> None:
    values: dict[str, Any] = {"repo_state": STATE_CREATED}
    if cache is not None:
        values["changeset_cache"] = json.dumps(cache)
    if updated_on is not None:
        values["updated_on"] = updated_on
    done = conn.execute(
        repos.update().where(repos.c.repo_id == repo_id).values(**values)
    )
    if done.rowcount != 1:
        raise RowGone(repo_id)
    bump_access_token(conn)


def set_changeset_cache(
    conn: Connection, repo_id: int, cache: dict[str, Any] | None, updated_on: Any
) -> bool:
    """Store a new tip summary; False when it was already the stored one."""
    encoded = json.dumps(cache) if cache is not None else None
    current = conn.execute(
        sa.select(repos.c.changeset_cache).where(repos.c.repo_id == repo_id)
    ).scalar()
    if current == encoded:
        return False
    values: dict[str, Any] = {"changeset_cache": encoded}
    if updated_on is not None:
        values["updated_on"] = updated_on
    conn.execute(repos.update().where(repos.c.repo_id == repo_id).values(**values))
    bump_access_token(conn)
    return True


def delete_repo_rows(conn: Connection, repo_id: int) -> None:
    """Delete a repository's row and every row that hangs off it."""
    conn.execute(repos.update().where(repos.c.fork_id == repo_id).values(fork_id=None))
    pull_requests = sa.select(t.pull_requests.c.pull_request_id).where(
        sa.or_(
            t.pull_requests.c.org_repo_id == repo_id,
            t.pull_requests.c.other_repo_id == repo_id,
        )
    )
    conn.execute(
        t.changeset_statuses.delete().where(
            sa.or_(
                t.changeset_statuses.c.repo_id == repo_id,
                t.changeset_statuses.c.pull_request_id.in_(pull_requests),
            )
        )
    )
    conn.execute(
        t.changeset_comments.delete().where(
            sa.or_(
                t.changeset_comments.c.repo_id == repo_id,
                t.changeset_comments.c.pull_request_id.in_(pull_requests),
            )
        )
    )
    conn.execute(
        t.pull_request_reviewers.delete().where(
            t.pull_request_reviewers.c.pull_request_id.in_(pull_requests)
        )
    )
    conn.execute(
        t.pull_requests.delete().where(
            t.pull_requests.c.pull_request_id.in_(pull_requests)
        )
    )
    for kind in (grants.REPO_USER, grants.REPO_USER_GROUP):
        grants.drop_object(conn, kind, repo_id)
    for table, column in (
        (t.user_followings, "follows_repository_id"),
        (t.statistics, "repository_id"),
        (t.repositories_fields, "repository_id"),
    ):
        conn.execute(table.delete().where(table.c[column] == repo_id))
    conn.execute(
        t.user_logs.update()
        .where(t.user_logs.c.repository_id == repo_id)
        .values(repository_id=None)
    )
    name = conn.execute(
        sa.select(repos.c.repo_name).where(repos.c.repo_id == repo_id)
    ).scalar()
    if name is not None:
        conn.execute(
            t.cache_invalidation.delete().where(
                t.cache_invalidation.c.cache_args == name
            )
        )
    conn.execute(repos.delete().where(repos.c.repo_id == repo_id))
    bump_access_token(conn)


def find_group_id(conn: Connection, ident: tuple[str, Any]) -> tuple[int, str] | None:
    """A repository group's id and full name, by id or full name."""
    groups = t.repo_groups
    kind, value = ident
    column = groups.c.group_id if kind == "id" else groups.c.group_name
    row = conn.execute(
        sa.select(groups.c.group_id, groups.c.group_name).where(column == value)
    ).first()
    return (row[0], row[1]) if row else None


def update_repo_row(
    conn: Connection, repo_id: int, changes: Mapping[str, Any], old_name: str
) -> RepoRecord:
    """Apply column changes; a new name must be free and not inside a repo."""
    name = changes.get("repo_name")
    if name is not None and name != old_name:
        holder = _name_holder(conn, name)
        if holder is not None:
            raise RepoNameTaken(is_fork=holder[1] is not None)
        conn.execute(
            t.cache_invalidation.update()
            .where(t.cache_invalidation.c.cache_args == old_name)
            .values(cache_args=name)
        )
    if changes:
        conn.execute(repos.update().where(repos.c.repo_id == repo_id).values(**changes))
    if changes.get("private"):
        grants.grant(
            conn,
            grants.REPO_USER,
            grants.default_user_id(conn),
            repo_id,
            "repository.none",
        )
    bump_access_token(conn)
    record = find_repo(conn, ("id", repo_id))
    assert record is not None
    return record


def fork_ids(conn: Connection, repo_id: int) -> list[int]:
    return list(
        conn.execute(
            sa.select(repos.c.repo_id)
            .where(repos.c.fork_id == repo_id)
            .order_by(repos.c.repo_id)
        ).scalars()
    )


def followers(conn: Connection, repo_id: int) -> list[UserRecord]:
    rows = conn.execute(
        sa.select(*USER_COLUMNS)
        .select_from(t.user_followings)
        .join(t.users, t.users.c.user_id == t.user_followings.c.user_id)
        .where(t.user_followings.c.follows_repository_id == repo_id)
        .order_by(t.user_followings.c.user_following_id)
    )
    return user_records(conn, rows)


def repo_members(conn: Connection, repo_id: int) -> list[dict[str, Any]]:
    return grants.members(conn, grants.REPO_USER, grants.REPO_USER_GROUP, repo_id)


def add_journal(
    conn: Connection,
    user_id: int | None,
    username: str,
    repo_id: int | None,
    repo_name: str,
    address: str | None,
    action: str,
) -> None:
    conn.execute(
        t.user_logs.insert().values(
            user_id=user_id,
            username=username,
            repository_id=repo_id,
            repository_name=repo_name,
            user_ip=address,
            action=action,
            action_date=datetime.datetime.now(),
        )
    )


def current_reviews(
    conn: Connection, repo_id: int, raw_id: str
) -> list[dict[str, Any]]:
    """The current (version 0) review votes on a changeset."""
    statuses = t.changeset_statuses
    rows = conn.execute(
        sa.select(statuses.c.status, statuses.c.modified_at, t.users.c.username)
        .select_from(statuses)
        .join(t.users, t.users.c.user_id == statuses.c.user_id)
        .where(
            statuses.c.repo_id == repo_id,
            statuses.c.revision == raw_id,
            statuses.c.version == 0,
        )
        .order_by(statuses.c.changeset_status_id)
    )
    return [
        {
            "status": status,
            "modified_at": modified_at.replace(microsecond=0),
            "reviewer": username,
        }
        for status, modified_at, username in rows
    ]


def set_lock(
    conn: Connection, repo_id: int, user_id: int | None, since: float | None
) -> None:
    conn.execute(
        repos.update()
        .where(repos.c.repo_id == repo_id)
        .values(locked_by=user_id, locked_since=since)
    )
    bump_access_token(conn)


def deactivate_caches(conn: Connection, repo_name: str) -> None:
    cache = t.cache_invalidation
    conn.execute(
        cache.update().where(cache.c.cache_args == repo_name).values(cache_active=False)
    )


class RepoStore(AccessWriter):
    """Asynchronous access to repository rows; one unit of work per call."""

    def __init__(self, db: Database, memory: AccessMemory) -> None:
        super().__init__(db, memory)
        # Encoded repository objects by the row they were made from. Never
        # stale (a changed row is another key); replaced by each listing, so
        # it holds only rows that still exist.
        self._encodings: dict[RepoRow, bytes] = {}

    async def find(self, ident: object) -> RepoRecord | None:
        """A repository by id or name; remembered until the next change."""
        lookup = id_or_name(ident)
        if lookup is None:
            return None
        key = ("repo", lookup)
        found = self.memory.objects.get(key)
        if found is None:
            epoch = self.memory.epoch
            found = await self._db.run("find_repo", find_repo, lookup)
            if found is not None:
                self.memory.remember(self.memory.objects, key, found, epoch)
        return found

    async def find_named(self, name: str) -> RepoRecord | None:
        """The repository called exactly ``name`` (never a lookup by id)."""
        if "\x00" in name:
            return None
        return await self._db.run("find_repo", find_repo, ("name", name))

    async def list(self) -> list[RepoRecord]:
        return await self._db.run("list_repos", list_repos)

    async def encoded(
        self, encode: Callable[[RepoRecord], bytes]
    ) -> list[tuple[str, bytes]]:
        """Every repository as (name, ``encode(record)``), in id order.

        Encodings are kept by row between calls: after a change only the
        rows that changed are encoded again. The work, encoding included,
        runs on a database thread.
        """
        listing, self._encodings = await self._db.run(
            "encode_repos", encode_repos, self._encodings, encode
        )
        return listing

    async def reserve(
        self,
        fields: Mapping[str, Any],
        group_path: str,
        follower_id: int,
        copy_group_permissions: bool = False,
        copy_from_repo: int | None = None,
    ) -> Reservation:
        """Reserve the name; a conflict with a request racing this one is
        either the same name (taken) or a repository group both created:
        then the group exists now, and the next attempt uses it."""
        for attempt in range(1, RESERVE_ATTEMPTS + 1):
            try:
                return await self._write(
                    "reserve_repo",
                    insert_repo,
                    fields,
                    group_path,
                    copy_group_permissions,
                    copy_from_repo,
                    follower_id,
                )
            except sa.exc.IntegrityError:
                holder = await self._db.run(
                    "repo_name_holder", _name_holder, fields["repo_name"]
                )
                if holder is not None:
                    raise RepoNameTaken(is_fork=holder[1] is not None) from None
                if attempt == RESERVE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def adopt_many(
        self, entries: list[dict[str, Any]], owner_id: int
    ) -> list[str]:
        return await self._write("adopt_repos", adopt_repos, entries, owner_id)

    async def mark_created(
        self, record: RepoRecord, cache: dict[str, Any] | None, updated_on: Any
    ) -> RepoRecord:
        await self._write(
            "mark_repo_created", mark_created, record.repo_id, cache, updated_on
        )
        return record._replace(
            repo_state=STATE_CREATED,
            changeset_json=json.dumps(cache) if cache is not None else None,
        )

    async def set_changeset_cache(
        self, repo_id: int, cache: dict[str, Any] | None, updated_on: Any
    ) -> bool:
        return await self._write(
            "set_changeset_cache", set_changeset_cache, repo_id, cache, updated_on
        )

    async def forget(self, repo_id: int) -> None:
        await self._write("delete_repo", delete_repo_rows, repo_id)

    async def forget_reservation(self, reservation: Reservation) -> list[str]:
        """Undo a reservation: the row, then the groups made for it unless
        something else is in them now; the names of the groups deleted.

        The groups go in a transaction of their own: a request that used
        one meanwhile (its row not yet committed, so not seen here) makes
        that transaction fail on the foreign key, and the group then stays.
        """
        await self.forget(reservation.record.repo_id)
        if not reservation.made_groups:
            return []
        try:
            return await self._write(
                "drop_unused_groups", drop_unused_groups, list(reservation.made_groups)
            )
        except sa.exc.DBAPIError:
            log.failure("Could not remove the groups of a failed creation")
            return []

    async def find_group(self, ident: object) -> tuple[int, str] | None:
        lookup = id_or_name(ident)
        if lookup is None:
            return None
        return await self._db.run("find_repo_group", find_group_id, lookup)

    async def update(
        self, record: RepoRecord, changes: Mapping[str, Any]
    ) -> RepoRecord:
        return await self._write(
            "update_repo", update_repo_row, record.repo_id, changes, record.repo_name
        )

    async def reviews(self, repo_id: int, raw_id: str) -> list[dict[str, Any]]:
        return await self._db.run("current_reviews", current_reviews, repo_id, raw_id)

    async def set_lock(
        self, repo_id: int, user_id: int | None, since: float | None
    ) -> None:
        await self._write("set_lock", set_lock, repo_id, user_id, since)

    async def deactivate_caches(self, repo_name: str) -> None:
        await self._db.run_in_transaction(
            "deactivate_caches", deactivate_caches, repo_name
        )

    async def forks(self, repo_id: int) -> list[int]:
        return await self._db.run("repo_forks", fork_ids, repo_id)

    async def followers(self, repo_id: int) -> list[UserRecord]:
        return await self._db.run("repo_followers", followers, repo_id)

    async def members(self, repo_id: int) -> list[dict[str, Any]]:
        return await self._db.run("repo_members", repo_members, repo_id)

    async def journal(
        self,
        user_id: int | None,
        username: str,
        repo_id: int | None,
        repo_name: str,
        address: str | None,
        action: str,
    ) -> None:
        await self._db.run_in_transaction(
            "journal",
            add_journal,
            user_id,
            username,
            repo_id,
            repo_name,
            address,
            action,
        )
