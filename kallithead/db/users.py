"""Users and what hangs off them: extra e-mails, extra API keys, IP whitelist.

Each public coroutine of ``UserStore`` is one unit of work on the database
pool; the module-level functions are those units, run with a connection on a
database thread.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from twisted.internet import threads

from kallithead.auth.calculation import effective_permissions, global_permissions
from kallithead.auth.permissions import PermissionSet
from kallithead.auth.secrets import check_password
from kallithead.db import schema as t
from kallithead.db.access import AccessWriter, bump_access_token, read_access_token
from kallithead.db.names import DEFAULT_USERNAME
from kallithead.errors import Refused

_DIGITS = re.compile(r"[0-9]+\Z")
_MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class UserRecord:
    user_id: int
    username: str
    firstname: str
    lastname: str
    email: str | None
    emails: tuple[str, ...]
    active: bool
    admin: bool
    last_login: datetime.datetime | None
    extern_type: str | None
    extern_name: str | None
    api_key: str
    api_keys: tuple[str, ...]
    ip_addresses: tuple[str, ...]

    @property
    def is_default(self) -> bool:
        return self.username == DEFAULT_USERNAME


@dataclass(frozen=True)
class Caller:
    """The user behind an API key, with what every call needs to know."""

    user_id: int
    username: str
    admin: bool
    global_permissions: frozenset[str]
    # The caller's own whitelist entries plus the `default` user's.
    ip_whitelist: tuple[str, ...]

    @property
    def permissions(self) -> PermissionSet:
        return PermissionSet(global_permissions=self.global_permissions)


def id_or_name(value: object) -> tuple[str, Any] | None:
    """How an "id or name" argument is looked up (API-SPEC.md 1.6).

    A JSON integer or a string of digits is a primary key, any other
    non-empty string is a name; anything else finds nothing (so does a
    string holding a NUL character, which no stored name can hold).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return ("id", value) if 0 < value <= _MAX_ID else None
    if isinstance(value, str) and value and "\x00" not in value:
        if _DIGITS.match(value):
            number = int(value)
            return ("id", number) if 0 < number <= _MAX_ID else None
        return ("name", value)
    return None


USER_COLUMNS = (
    t.users.c.user_id,
    t.users.c.username,
    t.users.c.firstname,
    t.users.c.lastname,
    t.users.c.email,
    t.users.c.active,
    t.users.c.admin,
    t.users.c.last_login,
    t.users.c.extern_type,
    t.users.c.extern_name,
    t.users.c.api_key,
)


def user_records(conn: Connection, rows: Iterable[Any]) -> list[UserRecord]:
    """Complete user rows with their e-mails, keys and IP entries.

    Three queries whatever the number of users.
    """
    rows = list(rows)
    ids = [row.user_id for row in rows]
    if not ids:
        return []

    extra_emails = _grouped(
        conn,
        sa.select(t.user_email_map.c.user_id, t.user_email_map.c.email)
        .where(t.user_email_map.c.user_id.in_(ids))
        .order_by(t.user_email_map.c.email_id),
    )
    extra_keys = _grouped(
        conn,
        sa.select(t.user_api_keys.c.user_id, t.user_api_keys.c.api_key)
        .where(t.user_api_keys.c.user_id.in_(ids))
        .order_by(t.user_api_keys.c.user_api_key_id),
    )
    ips = _grouped(
        conn,
        sa.select(t.user_ip_map.c.user_id, t.user_ip_map.c.ip_addr)
        .where(t.user_ip_map.c.user_id.in_(ids))
        .order_by(t.user_ip_map.c.ip_id),
    )
    return [
        UserRecord(
            user_id=row.user_id,
            username=row.username,
            firstname=row.firstname,
            lastname=row.lastname,
            email=row.email,
            emails=(
                *((row.email,) if row.email else ()),
                *extra_emails.get(row.user_id, ()),
            ),
            active=bool(row.active),
            admin=bool(row.admin),
            last_login=row.last_login,
            extern_type=row.extern_type,
            extern_name=row.extern_name,
            api_key=row.api_key,
            api_keys=(row.api_key, *extra_keys.get(row.user_id, ())),
            ip_addresses=tuple(ips.get(row.user_id, ())),
        )
        for row in rows
    ]


def _grouped(conn: Connection, query: sa.Select) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for owner, value in conn.execute(query):
        grouped.setdefault(owner, []).append(value)
    return grouped


def _where_ident(ident: tuple[str, Any]) -> sa.ColumnElement[bool]:
    kind, value = ident
    if kind == "id":
        return t.users.c.user_id == value
    return t.users.c.username == value


def find_user(conn: Connection, ident: tuple[str, Any]) -> UserRecord | None:
    rows = conn.execute(sa.select(*USER_COLUMNS).where(_where_ident(ident)))
    records = user_records(conn, rows)
    return records[0] if records else None


def find_user_by_id(conn: Connection, user_id: int) -> UserRecord | None:
    return find_user(conn, ("id", user_id))


def first_admin_id(conn: Connection) -> int:
    return conn.execute(
        sa.select(t.users.c.user_id)
        .where(t.users.c.admin.is_(True))
        .order_by(t.users.c.user_id)
        .limit(1)
    ).scalar_one()


def list_users(conn: Connection) -> list[UserRecord]:
    query = (
        sa.select(*USER_COLUMNS)
        .where(t.users.c.username != DEFAULT_USERNAME)
        .order_by(t.users.c.username)
    )
    return user_records(conn, conn.execute(query))


def authenticate(
    conn: Connection, api_key: str, now: float
) -> tuple[Caller, float] | None:
    """The active, non-default user owning ``api_key``, and the key's expiry.

    The main key never expires (-1); an extra key counts while its
    ``expires`` is -1 or not yet past.
    """
    users = t.users
    columns = (users.c.user_id, users.c.username, users.c.active, users.c.admin)
    row = conn.execute(
        sa.select(*columns, sa.literal(-1.0).label("expires")).where(
            users.c.api_key == api_key
        )
    ).first()
    if row is None:
        keys = t.user_api_keys
        row = conn.execute(
            sa.select(*columns, keys.c.expires)
            .select_from(keys)
            .join(users, keys.c.user_id == users.c.user_id)
            .where(
                keys.c.api_key == api_key,
                sa.or_(keys.c.expires == -1, keys.c.expires >= now),
            )
        ).first()
    if row is None or not row.active or row.username == DEFAULT_USERNAME:
        return None
    return _caller(conn, row.user_id, row.username, bool(row.admin)), float(row.expires)


def _caller(conn: Connection, user_id: int, username: str, admin: bool) -> Caller:
    """The caller ``user_id`` with its global permissions and whitelist."""
    users = t.users
    whitelist = conn.execute(
        sa.select(t.user_ip_map.c.ip_addr)
        .select_from(t.user_ip_map)
        .join(users, users.c.user_id == t.user_ip_map.c.user_id)
        .where(
            sa.or_(
                t.user_ip_map.c.user_id == user_id,
                users.c.username == DEFAULT_USERNAME,
            )
        )
        .order_by(t.user_ip_map.c.ip_id)
    ).scalars()
    return Caller(
        user_id=user_id,
        username=username,
        admin=admin,
        global_permissions=global_permissions(conn, user_id, admin),
        ip_whitelist=tuple(whitelist),
    )


def password_login(conn: Connection, username: str) -> tuple[Caller, str | None] | None:
    """The active, non-default user called ``username`` (the case of the
    name does not matter, as user names are unique without it) and its
    password hash (None: it has no password)."""
    users = t.users
    row = conn.execute(
        sa.select(
            users.c.user_id,
            users.c.username,
            users.c.active,
            users.c.admin,
            users.c.password,
        ).where(sa.func.lower(users.c.username) == username.lower())
    ).first()
    if row is None or not row.active or row.username == DEFAULT_USERNAME:
        return None
    return _caller(conn, row.user_id, row.username, bool(row.admin)), row.password


def anonymous_caller(conn: Connection) -> Caller | None:
    """The `default` user as a caller, if it is active."""
    users = t.users
    row = conn.execute(
        sa.select(users.c.user_id, users.c.active).where(
            users.c.username == DEFAULT_USERNAME
        )
    ).first()
    if row is None or not row.active:
        return None
    return _caller(conn, row.user_id, DEFAULT_USERNAME, False)


def user_with_permissions(
    conn: Connection, ident: tuple[str, Any]
) -> tuple[UserRecord, PermissionSet] | None:
    record = find_user(conn, ident)
    if record is None:
        return None
    return record, effective_permissions(conn, record.user_id, record.admin)


class UsernameTaken(Refused):
    pass


class EmailTaken(Refused):
    pass


def _email_in_use(conn: Connection, email: str, except_user: int | None = None) -> bool:
    """Whether ``email`` is any user's main or extra address (any letter case)."""
    lowered = email.lower()
    main = sa.select(t.users.c.user_id).where(sa.func.lower(t.users.c.email) == lowered)
    extra = sa.select(t.user_email_map.c.user_id).where(
        sa.func.lower(t.user_email_map.c.email) == lowered
    )
    owners = set(conn.execute(sa.union(main, extra)).scalars())
    owners.discard(except_user)
    return bool(owners)


def _username_in_use(
    conn: Connection, username: str, except_user: int | None = None
) -> bool:
    query = sa.select(t.users.c.user_id).where(
        sa.func.lower(t.users.c.username) == username.lower()
    )
    owners = set(conn.execute(query).scalars())
    owners.discard(except_user)
    return bool(owners)


def _conflict(
    conn: Connection, username: str | None, email: str | None, user_id: int | None
) -> Refused | None:
    if username is not None and _username_in_use(conn, username, user_id):
        return UsernameTaken()
    if email is not None and _email_in_use(conn, email, user_id):
        return EmailTaken()
    return None


def insert_user(conn: Connection, fields: Mapping[str, Any]) -> UserRecord:
    """Create a user; ``fields`` are column values (password already hashed)."""
    if _username_in_use(conn, fields["username"]):
        raise UsernameTaken()
    if fields["email"] is not None and _email_in_use(conn, fields["email"]):
        raise EmailTaken()
    values = dict(fields)
    values.setdefault("inherit_default_permissions", True)
    values["created_on"] = datetime.datetime.now()
    user_id = conn.execute(t.users.insert().values(**values)).inserted_primary_key[0]
    bump_access_token(conn)
    record = find_user_by_id(conn, user_id)
    assert record is not None
    return record


def update_user_row(
    conn: Connection, user_id: int, changes: Mapping[str, Any]
) -> UserRecord:
    """Apply ``changes`` (column values) to a user and return the result."""
    if "username" in changes and _username_in_use(conn, changes["username"], user_id):
        raise UsernameTaken()
    email = changes.get("email")
    if email is not None and _email_in_use(conn, email, user_id):
        raise EmailTaken()
    if changes:
        conn.execute(
            t.users.update().where(t.users.c.user_id == user_id).values(**changes)
        )
        bump_access_token(conn)
    record = find_user_by_id(conn, user_id)
    assert record is not None
    return record


class UserStillOwns(Refused):
    """The user owns repositories, repository groups, user groups or gists.

    Gists are included although Kallithea does not name them: deleting their
    rows would leave their repositories on disk without an owner.
    """


def delete_user_rows(conn: Connection, user_id: int) -> None:
    """Delete a user and every row that only makes sense with it."""
    for table in (t.repositories, t.repo_groups, t.users_groups, t.gists):
        owned = conn.execute(
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.user_id == user_id)
        ).scalar_one()
        if owned:
            raise UserStillOwns()

    by_user = (
        t.user_to_perm,
        t.repo_to_perm,
        t.user_repo_group_to_perm,
        t.user_user_group_to_perm,
        t.users_groups_members,
        t.user_email_map,
        t.user_api_keys,
        t.user_ip_map,
        t.pull_request_reviewers,
        t.changeset_statuses,
    )
    conn.execute(
        t.user_followings.delete().where(
            sa.or_(
                t.user_followings.c.user_id == user_id,
                t.user_followings.c.follows_user_id == user_id,
            )
        )
    )
    for table in by_user:
        conn.execute(table.delete().where(table.c.user_id == user_id))
    # Comments go, together with the votes that point at them.
    comment_ids = sa.select(t.changeset_comments.c.comment_id).where(
        t.changeset_comments.c.user_id == user_id
    )
    conn.execute(
        t.changeset_statuses.delete().where(
            t.changeset_statuses.c.changeset_comment_id.in_(comment_ids)
        )
    )
    conn.execute(
        t.changeset_comments.delete().where(t.changeset_comments.c.user_id == user_id)
    )
    # The journal keeps the username as text; only the link is cut.
    conn.execute(
        t.user_logs.update()
        .where(t.user_logs.c.user_id == user_id)
        .values(user_id=None)
    )
    conn.execute(
        t.repositories.update()
        .where(t.repositories.c.locked_by == user_id)
        .values(locked_by=None, locked_since=None)
    )
    conn.execute(t.users.delete().where(t.users.c.user_id == user_id))
    bump_access_token(conn)


class UserStore(AccessWriter):
    """Asynchronous access to users; each method is one unit of work.

    ``memory`` remembers who is behind each API key and each user's
    permissions (see kallithead.auth.cache); writes make it forget.
    """

    async def authenticate(self, api_key: str, now: float) -> Caller | None:
        caller = self.memory.callers.get(api_key, now)
        if caller is not None:
            return caller
        epoch = self.memory.epoch
        found = await self._db.run("authenticate", authenticate, api_key, now)
        if found is None:
            return None
        caller, expires = found
        self.memory.remember(self.memory.callers, api_key, caller, epoch, expires)
        return caller

    async def login(self, username: str, password: str, now: float) -> Caller | None:
        """The user whose name and password (or one of whose API keys, for
        users without a password) these are; remembered until a change.

        The password hash is checked on a thread of its own: bcrypt takes a
        good part of a second by design.
        """
        if "\x00" in username or not username or not password:
            return None
        key = ("login", hashlib.sha256(f"{username}\0{password}".encode()).digest())
        caller = self.memory.callers.get(key, now)
        if caller is not None:
            return caller
        epoch = self.memory.epoch
        found = await self._db.run("password_login", password_login, username)
        if found is None:
            return None
        caller, hashed = found
        accepted = await threads.deferToThread(check_password, password, hashed)
        if not accepted:
            by_key = await self.authenticate(password, now)
            if by_key is None or by_key.user_id != caller.user_id:
                return None
        self.memory.remember(self.memory.callers, key, caller, epoch)
        return caller

    async def anonymous(self) -> Caller | None:
        return await self._db.run("anonymous_caller", anonymous_caller)

    async def poll_access_token(self) -> None:
        """Forget what is remembered if another process changed something."""
        token = await self._db.run("read_access_token", read_access_token)
        self.memory.saw_token(token)

    async def find(self, ident: object) -> UserRecord | None:
        lookup = id_or_name(ident)
        if lookup is None:
            return None
        return await self._db.run("find_user", find_user, lookup)

    async def find_with_permissions(
        self, ident: object
    ) -> tuple[UserRecord, PermissionSet] | None:
        lookup = id_or_name(ident)
        if lookup is None:
            return None
        found = self.memory.users.get(lookup)
        if found is not None:
            return found
        epoch = self.memory.epoch
        found = await self._db.run(
            "user_with_permissions", user_with_permissions, lookup
        )
        if found is not None:
            self.memory.remember(self.memory.users, lookup, found, epoch)
        return found

    async def permissions_of(self, user_id: int) -> PermissionSet:
        """A user's effective permissions (remembered between calls)."""
        found = await self.find_with_permissions(user_id)
        assert found is not None, f"user {user_id} vanished"
        return found[1]

    async def list(self) -> list[UserRecord]:
        return await self._db.run("list_users", list_users)

    async def first_admin_id(self) -> int:
        """The admin with the lowest id: owner of what nobody else created."""
        return await self._db.run("first_admin", first_admin_id)

    async def create(self, fields: Mapping[str, Any]) -> UserRecord:
        try:
            return await self._write("create_user", insert_user, fields)
        except sa.exc.IntegrityError:
            # A request racing this one took the name or the address.
            await self._raise_conflict(fields["username"], fields["email"])
            raise

    async def update(self, user_id: int, changes: Mapping[str, Any]) -> UserRecord:
        try:
            return await self._write("update_user", update_user_row, user_id, changes)
        except sa.exc.IntegrityError:
            await self._raise_conflict(
                changes.get("username"), changes.get("email"), user_id
            )
            raise

    async def _raise_conflict(
        self, username: str | None, email: str | None, user_id: int | None = None
    ) -> None:
        taken = await self._db.run(
            "find_user_conflict", _conflict, username, email, user_id
        )
        if taken is not None:
            raise taken

    async def delete(self, user_id: int) -> None:
        await self._write("delete_user", delete_user_rows, user_id)
