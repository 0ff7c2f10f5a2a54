"""How long the effective permissions of a regular user take to compute.

The world: 10,000 repositories, 1,000 user groups, and a regular user who
belongs to 50 of them (by default). The calculation runs directly against the
database, as the daemon's database thread runs it (uncached: the daemon
remembers the answer until something changes), and the number of SQL
statements per calculation is counted to show that it does not grow with the
number of objects.

    python bench/permissions_bench.py [--db-url URL] [--repos N]
        [--user-groups N] [--member-of N] [--rounds N]

Without --db-url a temporary SQLite database is used. A server database given
with --db-url must be empty: the benchmark creates the schema in it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.populate import BENCH_USER, populate
from kallithead.auth.calculation import effective_permissions
from kallithead.config import load_settings
from kallithead.db import schema as t
from kallithead.db.pool import create_engine
from kallithead.tap import prepare_database


def measure(engine: sa.Engine, user_id: int, rounds: int) -> tuple[list[float], int]:
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    timings = []
    with engine.connect() as conn:
        sa.event.listen(engine, "before_cursor_execute", count)
        for _ in range(rounds):
            started = time.perf_counter()
            permissions = effective_permissions(conn, user_id, admin=False)
            timings.append(time.perf_counter() - started)
        sa.event.remove(engine, "before_cursor_execute", count)
    print(
        f"  objects in the answer: {len(permissions.repositories)} repositories, "
        f"{len(permissions.user_groups)} user groups"
    )
    return timings, statements // rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", default="")
    parser.add_argument("--repos", type=int, default=10_000)
    parser.add_argument("--user-groups", type=int, default=1_000)
    parser.add_argument("--member-of", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        overrides = {"server": {"datadir": folder}, "database": {"url": options.db_url}}
        settings = load_settings(None, overrides)
        prepare_database(settings)
        engine = create_engine(settings.database.url)
        print(
            f"populating: {options.repos} repositories, {options.user_groups} user "
            f"groups, user in {options.member_of} of them"
        )
        populate(engine, options.repos, options.user_groups, options.member_of)
        with engine.connect() as conn:
            user_id = conn.execute(
                sa.select(t.users.c.user_id).where(t.users.c.username == BENCH_USER)
            ).scalar_one()
        print(f"database: {engine.dialect.name}")
        timings, statements = measure(engine, user_id, options.rounds)
        engine.dispose()

    millis = sorted(1000 * s for s in timings)
    print(
        f"effective permissions: median {statistics.median(millis):.1f} ms, "
        f"min {millis[0]:.1f} ms, max {millis[-1]:.1f} ms over {len(millis)} "
        f"rounds; {statements} SQL statements per calculation"
    )


if __name__ == "__main__":
    main()
