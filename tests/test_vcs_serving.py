"""Clone, pull and push over HTTP with the real client libraries.

Mercurial's own HTTP client (``hg.clone``, ``exchange.push``) and dulwich's
(``porcelain.clone``, ``porcelain.push``) talk to a real kallithead on an
ephemeral port; they run on threads, as the server runs in this process.
Refusals are also checked at the HTTP level (status codes and headers).
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import pytest
import pytest_twisted
import sqlalchemy as sa
import treq
from dulwich import porcelain
from dulwich.client import HTTPUnauthorized
from dulwich.errors import GitProtocolError
from mercurial import error as hgerror
from mercurial import exchange, hg
from twisted.internet import reactor, threads
from twisted.internet.task import deferLater

from kallithead.db import schema as t
from tests.conftest import make_settings, start_server, stop_server
from tests.gitutil import GitWorkdir
from tests.hgutil import HgWorkdir, _ui
from tests.test_repos import changed_elsewhere, regular

PASSWORD = "s3cret-pass"
# What the client libraries raise when the server refuses.
CLIENT_ERRORS = (hgerror.Abort, HTTPError, GitProtocolError, HTTPUnauthorized)
DAY = 1704110400


@pytest.fixture(params=["hg", "git"])
def kind(request: Any) -> str:
    return request.param


def url(
    server: Any, name: str, user: str | None = None, password: str = PASSWORD
) -> str:
    if user is None:
        return f"{server.base_url}/{name}"
    host = server.base_url.removeprefix("http://")
    return f"http://{user}:{password}@{host}/{name}"


async def make_user(server: Any, name: str) -> str:
    """A regular user with a password; returns its API key."""
    reply = await server.call(
        "create_user", username=name, email=f"{name}@example.com", password=PASSWORD
    )
    assert reply.error is None, reply.error
    return reply.result["user"]["api_key"]


async def make_repo(server: Any, name: str, kind: str, **extra: Any) -> None:
    reply = await server.call("create_repo", repo_name=name, repo_type=kind, **extra)
    assert reply.error is None, reply.error


async def grant(server: Any, repo: str, user: str, perm: str) -> None:
    reply = await server.call(
        "grant_user_permission", repoid=repo, userid=user, perm=perm
    )
    assert reply.error is None, reply.error


# --- the clients, on threads ---------------------------------------------------


def _hg_commit_and_push(work: Path, target: str, n: int) -> int:
    """Commit a file in a new repository at ``work`` and push it to
    ``target``; the push's changegroup result."""
    workdir = HgWorkdir(work)
    workdir.commit({f"file{n}.txt": f"content {n}\n"}, f"commit {n}", DAY + n)
    peer = hg.peer(_ui(), {}, target.encode())
    result = exchange.push(workdir.repo, peer).cgresult
    if not result:
        raise hgerror.Abort(b"nothing was pushed")
    return result


def _git_commit_and_push(work: Path, target: str, n: int) -> None:
    workdir = GitWorkdir(work)
    try:
        workdir.commit({f"file{n}.txt": f"content {n}\n"}, f"commit {n}", DAY + n)
        _git_push(workdir, target)
    finally:
        workdir.close()


def _git_push(workdir: GitWorkdir, target: str) -> None:
    out = io.BytesIO()
    porcelain.push(
        workdir.repo, target, b"HEAD:refs/heads/master", errstream=out, outstream=out
    )


def commit_and_push(kind: str, work: Path, target: str, n: int = 1) -> Any:
    fn = _hg_commit_and_push if kind == "hg" else _git_commit_and_push
    return threads.deferToThread(fn, work, target, n)


def _clone(kind: str, source: str, target: Path) -> list[str]:
    """Clone; the files of the tip."""
    if kind == "hg":
        repo = hg.clone(_ui(), {}, source.encode(), os.fsencode(target), update=True)[
            1
        ].local()
        return sorted(f.decode() for f in repo[b"tip"].manifest())
    with porcelain.clone(source, str(target), errstream=io.BytesIO()) as repo:
        return sorted(
            path.decode()
            for path, _, _ in repo.object_store.iter_tree_contents(
                repo[repo.head()].tree
            )
        )


def clone(kind: str, source: str, target: Path) -> Any:
    return threads.deferToThread(_clone, kind, source, target)


# --- raw HTTP --------------------------------------------------------------


def info_path(kind: str, name: str, push: bool = False) -> str:
    if kind == "hg":
        return f"/{name}?cmd=capabilities"
    service = "git-receive-pack" if push else "git-upload-pack"
    return f"/{name}/info/refs?service={service}"


def data_request(kind: str, name: str, push: bool) -> tuple[str, str]:
    """(method, path) of the request that moves changesets."""
    if kind == "hg":
        return (
            ("POST", f"/{name}?cmd=unbundle")
            if push
            else ("GET", f"/{name}?cmd=getbundle")
        )
    return ("POST", f"/{name}/git-receive-pack" if push else f"/{name}/git-upload-pack")


async def http(
    server: Any,
    method: str,
    path: str,
    user: str | None = None,
    password: str = PASSWORD,
) -> Any:
    headers = {}
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    response = await treq.request(
        method, server.base_url + path, headers=headers, pool=server.pool
    )
    await response.content()
    return response


# --- reading ---------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_anonymous_clone_of_a_public_repository(server, kind, tmp_path):
    await make_repo(server, "public", kind)
    await commit_and_push(
        kind,
        tmp_path / "w",
        url(server, "public", "admin", await admin_password(server)),
    )
    files = await clone(kind, url(server, "public"), tmp_path / "clone")
    assert files == ["file1.txt"]


async def admin_password(server: Any) -> str:
    """Give admin a password (it has only an API key at first)."""
    reply = await server.call("update_user", userid="admin", password=PASSWORD)
    assert reply.error is None, reply.error
    return PASSWORD


@pytest_twisted.ensureDeferred
async def test_private_repository_needs_credentials(server, kind, tmp_path):
    await make_repo(server, "secret", kind, private=True)
    await make_user(server, "reader")
    await make_user(server, "stranger")
    response = await http(server, "GET", info_path(kind, "secret"))
    assert response.code == 401
    assert response.headers.getRawHeaders("www-authenticate") == [
        'Basic realm="Kallithea"'
    ]
    wrong = await http(server, "GET", info_path(kind, "secret"), "reader", "nope")
    assert wrong.code == 401
    stranger = await http(server, "GET", info_path(kind, "secret"), "stranger")
    assert stranger.code == 403
    await grant(server, "secret", "reader", "repository.read")
    reader = await http(server, "GET", info_path(kind, "secret"), "reader")
    assert reader.code == 200
    admin = url(server, "secret", "admin", await admin_password(server))
    await commit_and_push(kind, tmp_path / "w", admin)
    files = await clone(kind, url(server, "secret", "reader"), tmp_path / "c")
    assert files == ["file1.txt"]


@pytest_twisted.ensureDeferred
async def test_api_key_as_password(server, kind, tmp_path):
    await make_repo(server, "secret", kind, private=True)
    key = await regular(server, "keyonly")
    await grant(server, "secret", "keyonly", "repository.read")
    by_key = await http(server, "GET", info_path(kind, "secret"), "keyonly", key)
    assert by_key.code == 200
    other_key = await http(
        server, "GET", info_path(kind, "secret"), "keyonly", server.admin_key
    )
    assert other_key.code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/nope?cmd=capabilities",
        "/nope/info/refs?service=git-upload-pack",
        "/../etc?cmd=capabilities",
        "/%2e%2e/x/info/refs?service=git-upload-pack",
        "/x/info/refs",
        "/x/info/refs?service=git-bogus",
        "/",
        "/x/HEAD",
        "/h?cmd=file",
        "/h?cmd=annotate",
        "/h?cmd=archive&node=tip&type=zip",
    ],
)
@pytest_twisted.ensureDeferred
async def test_not_found(server, path):
    await make_repo(server, "x", "git")
    await make_repo(server, "h", "hg")
    response = await http(server, "GET", path)
    assert response.code == 404


@pytest_twisted.ensureDeferred
async def test_wrong_protocol_for_the_repository_is_not_found(server, kind):
    await make_repo(server, "r", kind)
    other = "git" if kind == "hg" else "hg"
    response = await http(server, "GET", info_path(other, "r"))
    assert response.code == 404


@pytest_twisted.ensureDeferred
async def test_ip_whitelist_applies(server, engine, kind):
    await make_repo(server, "r", kind)
    await make_user(server, "fenced")
    with engine.begin() as c:
        user_id = c.execute(
            sa.select(t.users.c.user_id).where(t.users.c.username == "fenced")
        ).scalar_one()
        c.execute(t.user_ip_map.insert().values(user_id=user_id, ip_addr="10.9.9.9"))
    await changed_elsewhere(server, engine)
    response = await http(server, "GET", info_path(kind, "r"), "fenced")
    assert response.code == 403


# --- pushing ---------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_push_needs_write_and_updates_the_tip(server, engine, kind, tmp_path):
    await make_repo(server, "r", kind)
    await make_user(server, "writer")
    refused = await http(server, *data_request(kind, "r", push=True), "writer")
    assert refused.code == 403
    anonymous = await http(server, *data_request(kind, "r", push=True))
    assert anonymous.code == 401
    with pytest.raises(CLIENT_ERRORS):
        await commit_and_push(kind, tmp_path / "w0", url(server, "r", "writer"))
    before = (await server.call("get_repo", repoid="r")).result["last_changeset"]
    assert before["revision"] == -1

    await grant(server, "r", "writer", "repository.write")
    await commit_and_push(kind, tmp_path / "w1", url(server, "r", "writer"), n=1)
    after = (await server.call("get_repo", repoid="r")).result["last_changeset"]
    assert after["revision"] == 0
    assert after["message"].strip() == "commit 1"
    nodes = await server.call(
        "get_repo_nodes", repoid="r", revision="tip", root_path=""
    )
    assert [n["name"] for n in nodes.result] == ["file1.txt"]
    journal = journal_actions(engine)
    assert ("writer", "r", "push") in journal


def journal_actions(engine: sa.Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as c:
        return [
            tuple(row)
            for row in c.execute(
                sa.select(
                    t.user_logs.c.username,
                    t.user_logs.c.repository_name,
                    t.user_logs.c.action,
                ).order_by(t.user_logs.c.user_log_id)
            )
        ]


@pytest_twisted.ensureDeferred
async def test_push_too_large(settings, tmp_path, kind):
    # ``settings`` gives a server database an empty schema first.
    server = await start_server(make_settings(tmp_path, max_push_size="1000"))
    try:
        await make_repo(server, "r", kind)
        method, path = data_request(kind, "r", push=True)
        response = await treq.request(
            method,
            server.base_url + path,
            data=b"x" * 5000,
            headers={"Authorization": "Basic " + base64.b64encode(b"admin:x").decode()},
            pool=server.pool,
        )
        await response.content()
        assert response.code == 413
        # The API keeps its own limit.
        api = await server.call("get_server_info")
        assert api.error is None
    finally:
        await stop_server(server)


# --- locks (API-SPEC.md 6.1) -----------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_stored_lock_refuses_transfers(server, kind, tmp_path):
    await make_repo(server, "r", kind)
    await make_user(server, "holder")
    await make_user(server, "other")
    for user in ("holder", "other"):
        await grant(server, "r", user, "repository.write")
    reply = await server.call("lock", repoid="r", userid="holder", locked=True)
    assert reply.error is None, reply.error
    message = "Repository `r` locked by user `holder`"
    for user, push, code in (
        ("holder", False, 423),
        ("other", False, 423),
        ("other", True, 423),
    ):
        response = await http(server, *data_request(kind, "r", push), user)
        assert response.code == code, (user, push)
        assert response.phrase.decode() == message
    # Advertisements are not transfers: the holder's push can start.
    assert (
        await http(server, "GET", info_path(kind, "r", push=True), "holder")
    ).code == 200
    with pytest.raises(CLIENT_ERRORS):
        await commit_and_push(kind, tmp_path / "o", url(server, "r", "other"))


@pytest_twisted.ensureDeferred
async def test_pull_locks_and_the_holders_push_unlocks(server, kind, tmp_path):
    # Private: Mercurial sends credentials only when asked for them, and
    # an anonymous pull takes no lock.
    await make_repo(server, "r", kind, private=True)
    # create_repo takes enable_locking from the global defaults.
    reply = await server.call("update_repo", repoid="r", enable_locking=True)
    assert reply.error is None, reply.error
    await make_user(server, "dev")
    await grant(server, "r", "dev", "repository.write")
    await commit_and_push(
        kind, tmp_path / "w1", url(server, "r", "admin", await admin_password(server))
    )
    # The admin's push does not lock; the dev's pull does.
    state = await server.call("lock", repoid="r")
    assert state.result["locked"] is False
    await clone(kind, url(server, "r", "dev"), tmp_path / "c")
    # The lock is taken once the answer has gone out: the client may be
    # done reading a moment before.
    state = await lock_state_after_change(server, "r")
    assert state.result["locked"] is True
    assert state.result["locked_by"] == "dev"
    # Now nobody can pull, the holder included; the holder can push.
    with pytest.raises(CLIENT_ERRORS):
        await clone(kind, url(server, "r", "dev"), tmp_path / "c2")
    work = tmp_path / "c"
    if kind == "hg":
        await threads.deferToThread(_hg_push_more, work, url(server, "r", "dev"))
    else:
        await threads.deferToThread(_git_push_more, work, url(server, "r", "dev"))
    state = await server.call("lock", repoid="r")
    assert state.result["locked"] is False
    last = (await server.call("get_repo", repoid="r")).result["last_changeset"]
    assert last["message"].strip() == "commit 2"


async def lock_state_after_change(server: Any, name: str) -> Any:
    state = await server.call("lock", repoid=name)
    for _ in range(50):
        if state.result["locked"]:
            break
        await deferLater(reactor, 0.05, lambda: None)
        state = await server.call("lock", repoid=name)
    return state


def _hg_push_more(work: Path, target: str) -> None:
    workdir = HgWorkdir.existing(work)
    workdir.commit({"file2.txt": "two\n"}, "commit 2", DAY + 2)
    exchange.push(workdir.repo, hg.peer(_ui(), {}, target.encode()))


def _git_push_more(work: Path, target: str) -> None:
    workdir = GitWorkdir.existing(work)
    try:
        workdir.commit({"file2.txt": "two\n"}, "commit 2", DAY + 2)
        _git_push(workdir, target)
    finally:
        workdir.close()


# --- the git command line ----------------------------------------------------

GIT = shutil.which("git")


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(cwd or Path.cwd()),
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
    }
    assert GIT is not None
    return subprocess.run(
        [GIT, *args], cwd=cwd, env=environment, capture_output=True, text=True
    )


@pytest.mark.skipif(GIT is None, reason="the git command is not installed")
@pytest_twisted.ensureDeferred
async def test_git_command_line_clone_and_push(server, tmp_path):
    """git itself (protocol version 2 where it can, gzipped requests, a
    large chunked push) against the server."""
    await make_repo(server, "r", "git", private=True)
    await make_user(server, "dev")
    await grant(server, "r", "dev", "repository.write")
    target = url(server, "r", "dev")
    work = tmp_path / "work"
    cloned = await threads.deferToThread(_git, "clone", target, str(work), cwd=tmp_path)
    assert cloned.returncode == 0, cloned.stderr
    # Big enough for git to send the push in chunks.
    (work / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    (work / "a.txt").write_text("a\n")
    for args in (("add", "."), ("commit", "-m", "from git")):
        done = await threads.deferToThread(_git, *args, cwd=work)
        assert done.returncode == 0, done.stderr
    pushed = await threads.deferToThread(
        _git, "-c", "http.postBuffer=65536", "push", "origin", "HEAD:master", cwd=work
    )
    assert pushed.returncode == 0, pushed.stderr
    last = (await server.call("get_repo", repoid="r")).result["last_changeset"]
    assert last["message"].strip() == "from git"
    again = tmp_path / "again"
    recloned = await threads.deferToThread(
        _git, "clone", target, str(again), cwd=tmp_path
    )
    assert recloned.returncode == 0, recloned.stderr
    assert (again / "a.txt").read_text() == "a\n"
    anonymous = await threads.deferToThread(
        _git, "clone", url(server, "r"), str(tmp_path / "no"), cwd=tmp_path
    )
    assert anonymous.returncode != 0
