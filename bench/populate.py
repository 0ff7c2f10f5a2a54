"""Fill a kallithead database with many objects, for benchmarks.

Adds repository rows (no repositories on disk: what is measured here is the
database side), user groups, a regular user who belongs to some of them, and
a spread of permission grants, all with bulk inserts.

    python bench/populate.py DB_URL [--repos N] [--user-groups N] [--member-of N]

The database must have been prepared by a first start of the daemon (or by
``kallithead.tap.prepare_database``). The regular user is called ``bench``;
its API key is printed.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kallithead.auth.permissions import ID_BY_NAME
from kallithead.db import schema as t
from kallithead.db.access import bump_access_token
from kallithead.db.pool import create_engine

BENCH_USER = "bench"
BENCH_KEY = "b" * 40
BATCH = 1000
NOW = datetime.datetime(2026, 1, 1)


def _user(conn: sa.Connection, name: str, key: str) -> int:
    return conn.execute(
        t.users.insert().values(
            username=name,
            active=True,
            admin=False,
            firstname="Bench",
            lastname="User",
            email=f"{name}@example.com",
            api_key=key,
            inherit_default_permissions=True,
            created_on=NOW,
        )
    ).inserted_primary_key[0]


def _ids(conn: sa.Connection, column: sa.Column, prefix: str) -> list[int]:
    table = column.table
    key = next(iter(table.primary_key.columns))
    query = sa.select(key).where(column.like(f"{prefix}%")).order_by(key)
    return list(conn.execute(query).scalars())


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        conn.execute(table.insert(), rows[start : start + BATCH])


def _tip_summary(n: int) -> str:
    """A stored last_changeset like a real repository's (each different)."""
    raw_id = hashlib.sha1(f"repository {n}".encode()).hexdigest()
    return json.dumps(
        {
            "short_id": raw_id[:12],
            "raw_id": raw_id,
            "revision": n % 500,
            "message": f"Fix the handling of case {n} in the parser",
            "date": "2025-12-31T18:30:00",
            "author": "Bench Author <author@example.com>",
        }
    )


def populate(engine: sa.Engine, repos: int, user_groups: int, member_of: int) -> str:
    """Add the objects; returns the bench user's API key."""
    with engine.begin() as conn:
        default_id = conn.execute(
            sa.select(t.users.c.user_id).where(t.users.c.username == "default")
        ).scalar_one()
        owner_id = conn.execute(
            sa.select(t.users.c.user_id).where(t.users.c.username == "admin")
        ).scalar_one()
        bench_id = _user(conn, BENCH_USER, BENCH_KEY)

        _insert(
            conn,
            t.repositories,
            [
                {
                    "repo_name": f"bench/repo{n:05d}",
                    "repo_state": "repo_state_created",
                    "repo_type": "hg" if n % 2 else "git",
                    "user_id": owner_id,
                    "private": n % 10 == 0,
                    "statistics": False,
                    "downloads": False,
                    "enable_locking": False,
                    "description": f"repository {n}",
                    "created_on": NOW,
                    "updated_on": NOW,
                    "landing_revision": "rev:tip",
                    "changeset_cache": _tip_summary(n),
                }
                for n in range(repos)
            ],
        )
        repo_ids = _ids(conn, t.repositories.c.repo_name, "bench/")
        read, none = ID_BY_NAME["repository.read"], ID_BY_NAME["repository.none"]
        _insert(
            conn,
            t.repo_to_perm,
            [
                {
                    "user_id": default_id,
                    "repository_id": repo_id,
                    "permission_id": none if n % 10 == 0 else read,
                }
                for n, repo_id in enumerate(repo_ids)
            ],
        )

        _insert(
            conn,
            t.users_groups,
            [
                {
                    "users_group_name": f"bench-group{n:04d}",
                    "user_group_description": "",
                    "users_group_active": n % 7 != 0,
                    "inherit_default_permissions": True,
                    "user_id": owner_id,
                    "created_on": NOW,
                }
                for n in range(user_groups)
            ],
        )
        group_ids = _ids(conn, t.users_groups.c.users_group_name, "bench-group")
        _insert(
            conn,
            t.user_user_group_to_perm,
            [
                {
                    "user_id": default_id,
                    "user_group_id": group_id,
                    "permission_id": ID_BY_NAME["usergroup.read"],
                }
                for group_id in group_ids
            ],
        )
        mine = group_ids[:member_of]
        _insert(
            conn,
            t.users_groups_members,
            [{"users_group_id": g, "user_id": bench_id} for g in mine],
        )
        # Each of the user's groups holds write on a slice of repositories
        # and admin on one other user group.
        step = max(1, len(repo_ids) // max(1, len(mine)))
        grants = []
        for n, group_id in enumerate(mine):
            for repo_id in repo_ids[n * step : n * step + 20]:
                grants.append(
                    {
                        "users_group_id": group_id,
                        "repository_id": repo_id,
                        "permission_id": ID_BY_NAME["repository.write"],
                    }
                )
        _insert(conn, t.users_group_repo_to_perm, grants)
        _insert(
            conn,
            t.user_group_user_group_to_perm,
            [
                {
                    "user_group_id": group_id,
                    "target_user_group_id": group_ids[-1 - n],
                    "permission_id": ID_BY_NAME["usergroup.admin"],
                }
                for n, group_id in enumerate(mine)
            ],
        )
        bump_access_token(conn)
    return BENCH_KEY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db_url")
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--user-groups", type=int, default=100)
    parser.add_argument("--member-of", type=int, default=10)
    options = parser.parse_args()
    engine = create_engine(options.db_url)
    key = populate(engine, options.repos, options.user_groups, options.member_of)
    engine.dispose()
    print(f"user {BENCH_USER}, API key {key}")


if __name__ == "__main__":
    main()
