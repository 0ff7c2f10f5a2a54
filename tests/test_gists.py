"""The gist methods over real HTTP, on a real database and disk.

Expected values follow API-SPEC.md 2.8, 3.42 to 3.45 and the cases T246 to
T258, with the errata (an empty ``files`` object makes an empty gist, as
Kallithea 0.7.0 does). Each gist is a real Mercurial repository, read back
here with the mercurial library.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import sqlalchemy as sa
from mercurial import hg
from mercurial import ui as uimod

from kallithead.db import schema as t
from tests.conftest import make_settings, start_server, stop_server
from tests.test_repos import regular, repos_root

PRIVATE_ID = re.compile(
    r"[23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjklmnpqrstuvwxyz]{20}"
)
CREATED_ON = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?")
ONE_FILE = {"foobar": {"content": "foo"}}


def gist_store(server: Any) -> Path:
    return repos_root(server) / ".rc_gist_store"


def read_gist_repository(path: Path) -> dict[str, Any]:
    """What the library reads from a gist's repository: its changesets'
    authors and messages, the tip's files, and the metadata file."""
    ui = uimod.ui()
    ui.setconfig(b"ui", b"quiet", b"true")
    repo = hg.repository(ui, os.fsencode(path))
    changesets = [repo[rev] for rev in repo]
    tip = repo[b"tip"]
    return {
        "changesets": [
            (c.user().decode(), c.description().decode()) for c in changesets
        ],
        "files": {name.decode(): tip[name].data().decode() for name in tip.manifest()},
        "metadata": json.loads((path / ".hg" / ".rc_gist_metadata").read_text()),
    }


async def make_gist(server: Any, key: str | None = None, **args: Any) -> dict[str, Any]:
    args.setdefault("files", ONE_FILE)
    reply = await server.call("create_gist", key=key, **args)
    assert reply.error is None, reply.error
    return reply.result["gist"]


def gist_rows(engine: sa.Engine) -> list[tuple[str, int]]:
    with engine.connect() as c:
        return sorted(
            c.execute(sa.select(t.gists.c.gist_access_id, t.gists.c.user_id)).all()
        )


# --- create_gist -----------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_create_public_gist(server, engine):
    reply = await server.call(
        "create_gist",
        description="test gist",
        gist_type="public",
        files={
            "hello.py": {"content": "print(1)\n", "lexer": None},
            "notes.txt": {"content": "some notes\n"},
        },
    )
    gist = reply.result["gist"]
    assert reply.result["msg"] == "created new gist"
    assert CREATED_ON.fullmatch(gist.pop("created_on"))
    assert gist == {
        "gist_id": 1,
        "type": "public",
        "access_id": "1",
        "description": "test gist",
        "url": f"{server.base_url}/_admin/gists/1",
        "expires": -1.0,
    }
    stored = read_gist_repository(gist_store(server) / "1")
    assert stored["changesets"] == [
        ("Kallithea Admin <admin@localhost>", "added files: hello.py, notes.txt")
    ]
    assert stored["files"] == {"hello.py": "print(1)\n", "notes.txt": "some notes\n"}
    metadata = stored["metadata"]
    assert isinstance(metadata.pop("gist_updated"), float)
    assert metadata == {
        "metadata_version": "1",
        "gist_db_id": 1,
        "gist_access_id": "1",
        "gist_owner_id": 2,
        "gist_type": "public",
        "gist_expires": -1.0,
    }
    assert gist_rows(engine) == [("1", 2)]


@pytest_twisted.ensureDeferred
async def test_create_private_gist_for_another_owner(server, engine):
    key = await regular(server, "test-api")
    before = time.time()
    reply = await server.call(
        "create_gist",
        key=key,
        owner="admin",
        gist_type="private",
        lifetime=10,
        description="foobar-gist",
        files=ONE_FILE,
    )
    gist = reply.result["gist"]
    assert PRIVATE_ID.fullmatch(gist["access_id"])
    assert gist["type"] == "private"
    assert before + 600 <= gist["expires"] <= time.time() + 600
    assert gist["url"] == f"{server.base_url}/_admin/gists/{gist['access_id']}"
    stored = read_gist_repository(gist_store(server) / gist["access_id"])
    assert stored["changesets"] == [
        ("Kallithea Admin <admin@localhost>", "added file: foobar")
    ]
    assert gist_rows(engine) == [(gist["access_id"], 2)]


@pytest.mark.parametrize(
    "lifetime, minutes",
    [(10, 10), ("10", 10), (2.9, 2), (-1, None), ("soon", None), ([], None)],
)
@pytest_twisted.ensureDeferred
async def test_lifetime_is_read_as_a_whole_number(server, lifetime, minutes):
    before = time.time()
    gist = await make_gist(server, lifetime=lifetime)
    if minutes is None:
        assert gist["expires"] == -1.0
    else:
        assert before + minutes * 60 <= gist["expires"] <= time.time() + minutes * 60


@pytest_twisted.ensureDeferred
async def test_empty_files_make_an_empty_gist(server):
    gist = await make_gist(server, files={})
    folder = gist_store(server) / gist["access_id"]
    ui = uimod.ui()
    assert len(hg.repository(ui, os.fsencode(folder))) == 0


@pytest.mark.parametrize(
    "files",
    [
        [],
        "text",
        {"dir/name": {"content": "x"}},
        {"../escape": {"content": "x"}},
        {"..": {"content": "x"}},
        {".hg": {"content": "x"}},
        {"a\nb": {"content": "x"}},
        {"": {"content": "x"}},
        {"name": "x"},
        {"name": {"content": 5}},
        {"name": {}},
    ],
)
@pytest_twisted.ensureDeferred
async def test_bad_files_create_nothing(server, engine, files):
    reply = await server.call("create_gist", files=files)
    assert reply.error == "failed to create gist"
    assert gist_rows(engine) == []
    store = gist_store(server)
    assert not store.exists() or list(store.iterdir()) == []


@pytest_twisted.ensureDeferred
async def test_unknown_owner(server, engine):
    reply = await server.call("create_gist", files=ONE_FILE, owner="ghost")
    assert reply.error == "user `ghost` does not exist"
    assert gist_rows(engine) == []


@pytest_twisted.ensureDeferred
async def test_a_folder_in_the_way_leaves_no_row(server, engine):
    (gist_store(server) / "1").mkdir(parents=True)
    reply = await server.call("create_gist", files=ONE_FILE)
    assert reply.error == "failed to create gist"
    assert gist_rows(engine) == []
    assert [p.name for p in gist_store(server).iterdir()] == ["1"]


@pytest_twisted.ensureDeferred
async def test_gists_are_not_repositories(server):
    await make_gist(server)
    reply = await server.call("rescan_repos")
    assert reply.result == {"added": [], "removed": []}
    assert (await server.call("get_repos")).result == []


# --- get_gist, get_gists ---------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_gist_by_number_or_access_id(server):
    made = await make_gist(server, description="new-gist")
    for ident in (1, "1"):
        assert (await server.call("get_gist", gistid=ident)).result == made
    private = await make_gist(server, gist_type="private")
    by_access = await server.call("get_gist", gistid=private["access_id"])
    assert by_access.result == private
    by_number = await server.call("get_gist", gistid=private["gist_id"])
    assert by_number.result == private


@pytest_twisted.ensureDeferred
async def test_only_the_owner_or_an_admin_sees_a_gist(server):
    key = await regular(server)
    admins = await make_gist(server)
    own = await make_gist(server, key=key)
    for gistid in ("12345", admins["access_id"]):
        reply = await server.call("get_gist", key=key, gistid=gistid)
        assert reply.error == f"gist `{gistid}` does not exist"
    assert (await server.call("get_gist", key=key, gistid=own["gist_id"])).result == own
    assert (await server.call("get_gist", gistid=own["gist_id"])).result == own


@pytest_twisted.ensureDeferred
async def test_expired_gists_are_shown_but_not_listed(server):
    expired = await make_gist(server, lifetime=0)
    time.sleep(0.01)
    assert (await server.call("get_gist", gistid=1)).result == expired
    assert (await server.call("get_gists")).result == []


@pytest_twisted.ensureDeferred
async def test_get_gists(server):
    key = await regular(server, "test-api")
    first = await make_gist(server)
    second = await make_gist(server)
    theirs = [await make_gist(server, key=key) for _ in range(3)]
    assert (await server.call("get_gists")).result == [second, first]
    assert (await server.call("get_gists", key=key)).result == theirs[::-1]
    by_admin = await server.call("get_gists", userid="test-api")
    assert by_admin.result == theirs[::-1]
    own_id = await server.call("get_gists", key=key, userid=3)
    assert own_id.result == theirs[::-1]
    other = await server.call("get_gists", key=key, userid="admin")
    assert other.error == "userid is not the same as your user"
    unknown = await server.call("get_gists", userid="ghost")
    assert unknown.error == "user `ghost` does not exist"


# --- delete_gist -----------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_delete_gist_removes_row_and_folder(server, engine):
    gist = await make_gist(server)
    reply = await server.call("delete_gist", gistid=gist["access_id"])
    assert reply.result == {"msg": "deleted gist ID:1", "gist": None}
    assert gist_rows(engine) == []
    assert list(gist_store(server).iterdir()) == []
    again = await server.call("delete_gist", gistid=1)
    assert again.error == "gist `1` does not exist"


@pytest_twisted.ensureDeferred
async def test_owner_may_delete_others_may_not(server, engine):
    key = await regular(server)
    admins = await make_gist(server)
    own = await make_gist(server, key=key, gist_type="private")
    refused = await server.call("delete_gist", key=key, gistid=admins["gist_id"])
    assert refused.error == f"gist `{admins['gist_id']}` does not exist"
    deleted = await server.call("delete_gist", key=key, gistid=own["access_id"])
    assert deleted.result == {
        "msg": f"deleted gist ID:{own['access_id']}",
        "gist": None,
    }
    assert gist_rows(engine) == [("1", 2)]
    assert [p.name for p in gist_store(server).iterdir()] == ["1"]


@pytest_twisted.ensureDeferred
async def test_a_user_with_gists_is_not_deleted(server, engine):
    key = await regular(server, "writer")
    await make_gist(server, key=key)
    reply = await server.call("delete_user", userid="writer")
    assert reply.error == "failed to delete user ID:3 writer"
    assert gist_rows(engine) == [("1", 3)]


# --- URLs --------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, url",
    [
        (
            {"canonical_url": "https://code.example.com/kh/"},
            "https://code.example.com/kh/_admin/gists/1",
        ),
        (
            {"gist_alias_url": "https://gist.example.com/g/{gistid}"},
            "https://gist.example.com/g/1",
        ),
    ],
)
@pytest_twisted.ensureDeferred
async def test_configured_urls(settings, tmp_path, options, url):
    # ``settings`` gives a server database an empty schema first.
    server = await start_server(make_settings(tmp_path, **options))
    try:
        gist = await make_gist(server)
        assert gist["url"] == url
    finally:
        await stop_server(server)
