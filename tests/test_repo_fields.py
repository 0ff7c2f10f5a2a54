"""Custom repository fields over real HTTP (API-SPEC.md 2.5): with the global
setting ``repository_fields`` on, every repository object carries one key
``ex_<field_key>`` per field of its repository, after the standard keys;
with it off, none.

No API method writes fields or the setting (they come with a database taken
over from Kallithea), so the tests write both with SQL and then announce the
change the way another process would: they bump the access token and make
the server poll it (``changed_elsewhere``), which is what makes the server
forget the repository objects it remembers.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest_twisted
import sqlalchemy as sa

from kallithead.db import schema as t
from tests.conftest import make_settings, start_server, stop_server
from tests.test_repos import (
    ADMIN_ID,
    ADMIN_USER,
    changed_elsewhere,
    create,
    get_repo,
    regular,
    repo_shape,
    without_created_on,
)

# The keys of a repository object, in the order it shows them.
STANDARD_KEYS = [
    "repo_id",
    "repo_name",
    "repo_type",
    "clone_uri",
    "private",
    "created_on",
    "description",
    "landing_rev",
    "owner",
    "fork_of",
    "enable_statistics",
    "enable_downloads",
    "enable_locking",
    "locked_by",
    "locked_date",
    "last_changeset",
]

DEFAULT_MEMBERS = [{"name": "default", "type": "user", "permission": "repository.read"}]


def add_field(engine: sa.Engine, repo_id: int, key: str, value: str) -> None:
    with engine.begin() as c:
        c.execute(
            t.repositories_fields.insert().values(
                repository_id=repo_id,
                field_key=key,
                field_label=key.capitalize(),
                field_value=value,
                field_desc=f"the {key} of the repository",
                field_type="str",
                created_on=datetime.datetime.now(),
            )
        )


def change_field(engine: sa.Engine, repo_id: int, key: str, value: str) -> None:
    fields = t.repositories_fields
    with engine.begin() as c:
        changed = c.execute(
            fields.update()
            .where(fields.c.repository_id == repo_id, fields.c.field_key == key)
            .values(field_value=value)
        ).rowcount
    assert changed == 1


def set_repository_fields(engine: sa.Engine, value: str) -> None:
    """Store ``value`` as the setting, as Kallithea's settings page would."""
    settings = t.settings
    with engine.begin() as c:
        changed = c.execute(
            settings.update()
            .where(settings.c.app_settings_name == "repository_fields")
            .values(app_settings_value=value)
        ).rowcount
    assert changed == 1


async def fields_on(server: Any, engine: sa.Engine) -> None:
    set_repository_fields(engine, "True")
    await changed_elsewhere(server, engine)


def add_repo_row(engine: sa.Engine, name: str) -> int:
    """A repository row written straight into the database (nothing on
    disk: listing repositories reads rows only)."""
    now = datetime.datetime(2024, 1, 1, 12, 0, 0)
    with engine.begin() as c:
        return c.execute(
            t.repositories.insert().values(
                repo_name=name,
                repo_state="repo_state_created",
                repo_type="hg",
                user_id=ADMIN_ID,
                private=False,
                statistics=False,
                downloads=False,
                enable_locking=False,
                description=name,
                created_on=now,
                updated_on=now,
                landing_revision="rev:tip",
            )
        ).inserted_primary_key[0]


async def get_repos(server: Any, key: str | None = None) -> list[dict[str, Any]]:
    return (await server.call("get_repos", key=key)).result


# --- the setting off ---------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_fields_are_hidden_while_the_setting_is_off(server, engine):
    await create(server, "with-fields", "hg")
    add_field(engine, 1, "ticket", "T-1")
    await changed_elsewhere(server, engine)

    listed = await get_repos(server)
    assert [without_created_on(r) for r in listed] == [
        repo_shape(1, "with-fields", "hg")
    ]
    assert without_created_on(await get_repo(server, "with-fields")) == {
        **repo_shape(1, "with-fields", "hg"),
        "members": DEFAULT_MEMBERS,
        "followers": [ADMIN_USER],
    }


@pytest_twisted.ensureDeferred
async def test_a_setting_that_is_not_a_true_word_keeps_the_fields_hidden(
    server, engine
):
    await create(server, "with-fields", "hg")
    add_field(engine, 1, "ticket", "T-1")
    set_repository_fields(engine, "no")
    await changed_elsewhere(server, engine)
    assert "ex_ticket" not in (await get_repos(server))[0]
    assert "ex_ticket" not in await get_repo(server, "with-fields")


# --- the setting on ----------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_repo_shows_every_field_after_the_standard_keys(server, engine):
    await create(server, "api-repo", "hg")
    add_field(engine, 1, "ticket", "T-17")
    add_field(engine, 1, "team", 'the "core" team, ünïcode')
    await fields_on(server, engine)

    shown = await get_repo(server, "api-repo")
    assert without_created_on(shown) == {
        **repo_shape(1, "api-repo", "hg"),
        "ex_ticket": "T-17",
        "ex_team": 'the "core" team, ünïcode',
        "members": DEFAULT_MEMBERS,
        "followers": [ADMIN_USER],
    }
    assert list(shown) == [
        *STANDARD_KEYS,
        "ex_ticket",
        "ex_team",
        "members",
        "followers",
    ]


@pytest_twisted.ensureDeferred
async def test_get_repos_shows_the_fields_of_each_repository(server, engine):
    await create(server, "two-fields", "hg")
    await create(server, "no-fields", "git")
    await create(server, "one-field", "git")
    add_field(engine, 1, "ticket", "T-1")
    add_field(engine, 3, "ticket", "T-3")
    add_field(engine, 1, "owner_team", "core")
    await fields_on(server, engine)

    listed = await get_repos(server)
    assert [without_created_on(r) for r in listed] == [
        {
            **repo_shape(1, "two-fields", "hg"),
            "ex_ticket": "T-1",
            "ex_owner_team": "core",
        },
        repo_shape(2, "no-fields", "git"),
        {**repo_shape(3, "one-field", "git"), "ex_ticket": "T-3"},
    ]
    assert list(listed[0]) == [*STANDARD_KEYS, "ex_ticket", "ex_owner_team"]
    assert list(listed[1]) == STANDARD_KEYS


@pytest_twisted.ensureDeferred
async def test_get_repos_of_a_regular_user_shows_the_fields_it_may_read(server, engine):
    key = await regular(server)
    await create(server, "public", "hg")
    await create(server, "secret", "hg", private=True)
    add_field(engine, 1, "ticket", "T-1")
    add_field(engine, 2, "ticket", "T-2")
    await fields_on(server, engine)

    listed = await get_repos(server, key)
    assert [without_created_on(r) for r in listed] == [
        {**repo_shape(1, "public", "hg"), "ex_ticket": "T-1"}
    ]
    shown = await get_repo(server, "public", key)
    assert shown["ex_ticket"] == "T-1"


@pytest_twisted.ensureDeferred
async def test_a_repository_without_fields_gets_no_extra_key(server, engine):
    await create(server, "plain", "hg")
    await fields_on(server, engine)
    assert list(await get_repo(server, "plain")) == [
        *STANDARD_KEYS,
        "members",
        "followers",
    ]
    assert list((await get_repos(server))[0]) == STANDARD_KEYS


@pytest_twisted.ensureDeferred
async def test_update_repo_answers_the_repository_with_its_fields(server, engine):
    await create(server, "api-repo", "hg")
    add_field(engine, 1, "ticket", "T-9")
    await fields_on(server, engine)

    reply = await server.call("update_repo", repoid="api-repo", description="new")
    repository = reply.result["repository"]
    assert without_created_on(repository) == {
        **repo_shape(1, "api-repo", "hg", description="new"),
        "ex_ticket": "T-9",
    }
    assert list(repository) == [*STANDARD_KEYS, "ex_ticket"]


@pytest_twisted.ensureDeferred
async def test_get_locks_shows_the_locked_repository_with_its_fields(server, engine):
    await create(server, "locked-repo", "hg")
    add_field(engine, 1, "ticket", "T-5")
    await fields_on(server, engine)
    await server.call("lock", repoid="locked-repo", locked=True)

    locks = (await server.call("get_locks")).result
    assert len(locks) == 1
    assert locks[0]["repo_name"] == "locked-repo"
    assert locks[0]["locked_by"] == ADMIN_USER
    assert locks[0]["ex_ticket"] == "T-5"
    assert list(locks[0]) == [*STANDARD_KEYS, "ex_ticket"]


# --- changes reach the answers -----------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_changed_value_shows_once_the_change_is_announced(server, engine):
    await create(server, "api-repo", "hg")
    await create(server, "other", "hg")
    add_field(engine, 1, "ticket", "T-1")
    add_field(engine, 2, "ticket", "T-2")
    await fields_on(server, engine)
    # Both answers remembered with the old value.
    assert (await get_repo(server, "api-repo"))["ex_ticket"] == "T-1"
    assert [r["ex_ticket"] for r in await get_repos(server)] == ["T-1", "T-2"]

    change_field(engine, 1, "ticket", "T-100")
    await changed_elsewhere(server, engine)

    assert (await get_repo(server, "api-repo"))["ex_ticket"] == "T-100"
    assert [r["ex_ticket"] for r in await get_repos(server)] == ["T-100", "T-2"]


@pytest_twisted.ensureDeferred
async def test_a_field_added_later_shows_once_announced(server, engine):
    await create(server, "api-repo", "hg")
    await fields_on(server, engine)
    assert "ex_ticket" not in (await get_repos(server))[0]

    add_field(engine, 1, "ticket", "T-1")
    await changed_elsewhere(server, engine)

    assert (await get_repos(server))[0]["ex_ticket"] == "T-1"
    assert (await get_repo(server, 1))["ex_ticket"] == "T-1"


@pytest_twisted.ensureDeferred
async def test_turning_the_setting_on_and_off_at_run_time(server, engine):
    await create(server, "api-repo", "hg")
    add_field(engine, 1, "ticket", "T-1")
    await changed_elsewhere(server, engine)
    assert "ex_ticket" not in (await get_repos(server))[0]
    assert "ex_ticket" not in await get_repo(server, "api-repo")

    await fields_on(server, engine)
    assert (await get_repos(server))[0]["ex_ticket"] == "T-1"
    assert (await get_repo(server, "api-repo"))["ex_ticket"] == "T-1"

    set_repository_fields(engine, "False")
    await changed_elsewhere(server, engine)
    assert list((await get_repos(server))[0]) == STANDARD_KEYS
    assert "ex_ticket" not in await get_repo(server, "api-repo")


# --- cost ----------------------------------------------------------------------


@pytest_twisted.async_yield_fixture
async def quiet_server(settings, tmp_path):
    """A server that never polls the access token by itself (the tests poll
    it), so that every statement it runs during a call is the call's."""
    running = await start_server(make_settings(tmp_path, auth_cache_refresh="3600"))
    yield running
    await stop_server(running)


@pytest_twisted.ensureDeferred
async def test_get_repos_reads_the_fields_in_one_statement_at_any_size(
    quiet_server, engine
):
    server = quiet_server
    set_repository_fields(engine, "True")
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_rest):
        statements.append(statement)

    counts = []
    field_reads = []
    next_number = 0
    for size in (2, 60):
        while next_number < size:
            next_number += 1
            repo_id = add_repo_row(engine, f"repo-{next_number}")
            add_field(engine, repo_id, "ticket", f"T-{next_number}")
            add_field(engine, repo_id, "team", "core")
        await changed_elsewhere(server, engine)

        statements.clear()
        db_engine = server.service.db.engine
        sa.event.listen(db_engine, "before_cursor_execute", note)
        try:
            listed = await get_repos(server)
        finally:
            sa.event.remove(db_engine, "before_cursor_execute", note)

        assert len(listed) == size
        assert listed[-1]["ex_ticket"] == f"T-{size}"
        assert listed[-1]["ex_team"] == "core"
        counts.append(len(statements))
        field_reads.append(sum("repositories_fields" in s for s in statements))

    assert counts[0] == counts[1]
    assert field_reads == [1, 1]
