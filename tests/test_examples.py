"""Replaying Kallithea 0.7.0's recorded repository exchanges against kallithead.

/work/shared/examples holds requests that were sent to a running Kallithea
0.7.0 and the answers it gave. This module sends the repository-related ones
(create_repo, get_repo, get_repos, get_repo_nodes, get_changesets,
get_changeset, update_repo, fork_repo, delete_repo, pull, rescan_repos,
invalidate_cache, the four repository grant and revoke methods, and the errors
about repositories) to a real kallithead, after building by hand the part of
the examples' world that each one relies on, and checks that the answer has
the same wire shape:

- the same HTTP status and Content-Type, and the same envelope (``id``
  echoed, ``result``, ``error``);
- the same keys at every level of every object, and the same JSON type for
  every value (null, boolean, integer, float, string, array, object);
- arrays of the same length, and the same values wherever the world built
  here is the same as the examples' one (names, descriptions, flags, commit
  messages, authors, dates, file lists, ``msg`` and ``error`` strings), so
  that the orderings API-SPEC.md defines (get_repos in database order,
  get_changesets oldest first, get_repo_nodes directories before files) are
  checked too.

Values that cannot be the same (creation times, changeset hashes made from
other file contents, repository ids, the port of the HTTP source) are checked
for their JSON type and form only; each such rule is named below. Where
kallithead deliberately answers differently, the difference is a named
allowance (ALLOWED_LOCKING_FIELDS, ALLOWED_LOCAL_PULL_REFUSAL) citing DESIGN.md
section 1.

The examples are read from ../shared/examples next to the project folder at
test time; without that folder the tests that need them are skipped (the
tests of the comparison itself still run).
"""

from __future__ import annotations

import copy
import datetime
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import sqlalchemy as sa

from kallithead.db import schema as t
from tests.conftest import Server
from tests.gitutil import GitWorkdir
from tests.hgutil import HgWorkdir
from tests.test_repos import local, repos_root
from tests.vcs_http import VcsHttpServer

EXAMPLES = Path(__file__).parents[2] / "shared" / "examples"

# CI runs from a clean clone of the project; the examples sit beside it.
needs_examples = pytest.mark.skipif(
    not (EXAMPLES / "INDEX.txt").is_file(),
    reason=f"the recorded Kallithea 0.7.0 examples are not at {EXAMPLES}",
)


def load_example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def indexed_names() -> list[str]:
    """Every example INDEX.txt lists, in its order."""
    lines = (EXAMPLES / "INDEX.txt").read_text(encoding="utf-8").splitlines()
    return [line.split()[0] for line in lines if line.strip()]


# --- comparing two JSON documents ------------------------------------------


def json_type(value: Any) -> str:
    """The JSON type a decoded value was written as."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a decoded JSON value: {value!r}")


@dataclass(frozen=True)
class Varies:
    """An expected value that legitimately differs between Kallithea's world
    and ours: only its JSON type, and the form of a string, are compared."""

    type: str
    form: str | None
    why: str

    def problem(self, actual: Any) -> str | None:
        if json_type(actual) != self.type:
            return f"expected {self.type} ({self.why}), got {json.dumps(actual)}"
        if self.form is not None and not re.fullmatch(self.form, actual):
            return f"expected {self.why} like /{self.form}/, got {json.dumps(actual)}"
        return None


def differences(expected: Any, actual: Any, where: str = "$") -> list[str]:
    """Everything in which ``actual`` departs from ``expected``, one line each.

    Objects must have the same keys, arrays the same length, every value the
    same JSON type and, unless the expectation is a ``Varies``, the same
    value."""
    if isinstance(expected, Varies):
        problem = expected.problem(actual)
        return [] if problem is None else [f"{where}: {problem}"]

    wanted, got = json_type(expected), json_type(actual)
    if wanted != got:
        return [f"{where}: expected {wanted}, got {got}: {json.dumps(actual)}"]

    if isinstance(expected, dict):
        found = [
            f"{where}: missing key {key!r}" for key in expected if key not in actual
        ]
        found += [
            f"{where}: unexpected key {key!r}" for key in actual if key not in expected
        ]
        for key, value in expected.items():
            if key in actual:
                found += differences(value, actual[key], f"{where}.{key}")
        return found

    if isinstance(expected, list):
        found = []
        if len(expected) != len(actual):
            found.append(
                f"{where}: expected {len(expected)} items, got {len(actual)}: "
                + json.dumps(actual)
            )
        for index, (one, other) in enumerate(zip(expected, actual, strict=False)):
            found += differences(one, other, f"{where}[{index}]")
        return found

    if expected != actual:
        return [f"{where}: expected {json.dumps(expected)}, got {json.dumps(actual)}"]
    return []


# --- from Kallithea's answer to the answer expected here --------------------

# Kallithea's values that cannot match here, by the key they appear under.
CREATED_ON = Varies(
    "string", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?", "a creation time"
)
RAW_ID = Varies("string", r"[0-9a-f]{40}", "a changeset hash of other contents")
SHORT_ID = Varies("string", r"[0-9a-f]{12}", "a short hash of other contents")
REPO_ID = Varies("integer", None, "an id that depends on the arrangement")
NO_CHANGESET = "0" * 40

# The allowances: where kallithead answers unlike Kallithea 0.7.0 on purpose.
#
# Allowance 1. DESIGN.md section 1, row "repository objects": kallithead's
# repository objects are Kallithea 0.7.0's plus the 0.2 locking fields. Nothing
# is locked in these worlds, so their values are known too.
ALLOWED_LOCKING_FIELDS = {
    "enable_locking": False,
    "locked_by": None,
    "locked_date": None,
}

# Allowance 2. DESIGN.md section 1, row "clone URIs": local paths are refused
# for everyone, and API-SPEC.md's errata (row 3.3) extend that to pull's
# clone_uri argument, which Kallithea 0.7.0 accepted (the examples "pull" and
# "pull__git_local_path"). Such a pull fails with pull's failure message; the
# same pull from an http:// source must then answer as Kallithea did.
ALLOWED_LOCAL_PULL_REFUSAL = "Unable to pull changes from `{name}`"

# Allowance 3. DESIGN.md section 1, row "caller lacks an admin or global
# permission": `Access was denied to this resource.` where Kallithea said
# `Internal server error` to a non-admin (error__non_admin_create_repo_group).
ACCESS_DENIED = "Access was denied to this resource."


def utc_to_local(text: str) -> str:
    """A date as Kallithea wrote it, as kallithead here writes the same
    moment. The examples' server ran on UTC: its placeholder date for an
    empty repository, the Unix epoch in local time, is 1970-01-01T00:00:00."""
    moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
    return local(int(moment.replace(tzinfo=datetime.UTC).timestamp()))


def is_repository_object(value: dict[str, Any]) -> bool:
    return {"repo_id", "repo_name", "repo_type", "last_changeset"} <= value.keys()


def expectation(kallithea: Any, key: str | None = None) -> Any:
    """Kallithea's decoded answer with the rules above applied: ``Varies``
    for the values that cannot match, dates in this machine's local time,
    and the allowed additions."""
    if isinstance(kallithea, dict):
        if key in ("tags", "branches", "bookmarks"):
            return {name: RAW_ID for name in kallithea}
        shaped = {name: expectation(value, name) for name, value in kallithea.items()}
        if is_repository_object(kallithea):
            shaped.update(ALLOWED_LOCKING_FIELDS)
        return shaped
    if isinstance(kallithea, list):
        return [expectation(item) for item in kallithea]
    if key == "created_on":
        return CREATED_ON
    if key == "repo_id":
        return REPO_ID
    if key == "raw_id" and kallithea != NO_CHANGESET:
        return RAW_ID
    if key == "short_id" and kallithea != NO_CHANGESET[:12]:
        return SHORT_ID
    if key == "date":
        return utc_to_local(kallithea)
    return kallithea


def put(document: dict[str, Any], path: str, value: Any) -> None:
    """Replace the value at a dotted path of objects and list positions
    (``result.clone_uri``, ``result.0.url``)."""
    *parents, last = path.split(".")
    here: Any = document
    for name in parents:
        here = here[int(name)] if isinstance(here, list) else here[name]
    if isinstance(here, list):
        assert int(last) < len(here), f"no {path} in the example"
        here[int(last)] = value
        return
    assert last in here, f"no {path} in the example"
    here[last] = value


# --- the examples' world, by hand -------------------------------------------

# Both histories have the examples' messages, authors and dates (noon UTC on
# two days); their files are the ones get_repo_nodes and the file lists show.
DAY_ONE = 1704110400  # 2024-01-01T12:00:00 UTC
DAY_TWO = DAY_ONE + 24 * 3600
AUTHOR = "Admin <admin@example.com>"
HG_HISTORY = [
    (
        {"README.txt": "an hg repository\n", "src/main.py": "print('hg')\n"},
        "first hg commit",
        DAY_ONE,
    ),
    ({"README.txt": "an hg repository, changed\n"}, "second hg commit", DAY_TWO),
]
# Kallithea's git messages end with the newline the git command line adds.
GIT_HISTORY = [
    (
        {"README.md": "a git repository\n", "lib/util.sh": "echo util\n"},
        "first git commit\n",
        DAY_ONE,
    ),
    ({"README.md": "a git repository, changed\n"}, "second git commit\n", DAY_TWO),
]


def write_example_history(kind: str, path: Path) -> list[str]:
    """The examples' two commits of ``kind`` in a new repository at ``path``;
    returns their raw ids, as Mercurial or dulwich computed them."""
    if kind == "hg":
        hg = HgWorkdir(path)
        return [
            hg.commit(files, message, when, user=AUTHOR)
            for files, message, when in HG_HISTORY
        ]
    git = GitWorkdir(path)
    try:
        return [
            git.commit(files, message, when, author=AUTHOR)
            for files, message, when in GIT_HISTORY
        ]
    finally:
        git.close()


@dataclass
class Case:
    """What one replay sends and what it expects beyond Kallithea's answer.

    ``args`` replace values in the example's request arguments, ``key`` is
    the API key to send (the admin's when None), ``expect`` replaces values in
    Kallithea's answer at dotted paths (after ``expectation``), and
    ``refused`` is an allowed refusal: the example's own request, with
    ``refused_args`` merged in, must get this error before the replay."""

    args: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    expect: dict[str, Any] = field(default_factory=dict)
    refused: str | None = None
    refused_args: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    """A kallithead being brought to the state an example was recorded in."""

    server: Server
    engine: sa.Engine
    tmp_path: Path
    remote: VcsHttpServer | None = None
    sources: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    async def stop(self) -> None:
        if self.remote is not None:
            await self.remote.stop()

    async def send(self, method: str, **args: Any) -> Any:
        """An arrangement call: it must succeed."""
        return (await self.server.call(method, **args)).result

    async def send_example(self, name: str, **args: Any) -> Any:
        """An earlier example's request, sent as it was (with ``args``
        replacing some arguments) to reach the state it left behind."""
        request = load_example(name)["request"]
        return await self.send(request["method"], **{**request["args"], **args})

    async def source(self, kind: str) -> tuple[str, list[str]]:
        """The URL of the examples' history of ``kind``, served over HTTP by
        this process, and its raw ids."""
        if kind not in self.sources:
            if self.remote is None:
                self.remote = VcsHttpServer(self.tmp_path / "remote")
                await self.remote.start()
            name = f"{kind}-source"
            raw_ids = write_example_history(kind, self.remote.path(kind, name))
            self.sources[kind] = (self.remote.url(kind, name), raw_ids)
        return self.sources[kind]

    def repo_id(self, name: str) -> int:
        """The id of a repository, read from the database."""
        table = t.repositories
        with self.engine.connect() as c:
            return c.execute(
                sa.select(table.c.repo_id).where(table.c.repo_name == name)
            ).scalar_one()

    # The steps of the examples' session that later examples rely on.

    async def admin(self) -> None:
        """The examples' administrator had the address admin@example.com."""
        await self.send("update_user", userid="admin", email="admin@example.com")

    async def testuser(self) -> str:
        """The regular user of the examples; returns its API key."""
        return (await self.send_example("create_user"))["user"]["api_key"]

    async def devs(self) -> None:
        await self.send_example("create_user_group")

    async def hgrepo(self, history: bool = True) -> None:
        """``hgrepo`` as create_repo made it, then given the two commits
        (pulled from an explicit URI, so no clone URI is stored)."""
        await self.send_example("create_repo")
        if history:
            url, _ = await self.source("hg")
            await self.send("pull", repoid="hgrepo", clone_uri=url)

    async def gitrepo(self, history: bool = True) -> None:
        await self.send_example("create_repo__git")
        if history:
            url, _ = await self.source("git")
            await self.send("pull", repoid="gitrepo", clone_uri=url)

    async def inner(self) -> None:
        """``grp1/inner``. In the examples the group ``grp1`` existed already;
        here create_repo makes it (DESIGN.md section 1), which the answer does
        not show."""
        await self.send_example("create_repo__in_group")

    async def repositories(self) -> None:
        """hgrepo, gitrepo (with history) and grp1/inner, in the examples'
        order, with the examples' administrator."""
        await self.admin()
        await self.hgrepo()
        await self.gitrepo()
        await self.inner()


Arrangement = Callable[[World], Awaitable[Case]]
ARRANGEMENTS: dict[str, Arrangement] = {}


def arranges(*names: str) -> Callable[[Arrangement], Arrangement]:
    def register(arrangement: Arrangement) -> Arrangement:
        for name in names:
            assert name not in ARRANGEMENTS, name
            ARRANGEMENTS[name] = arrangement
        return arrangement

    return register


@arranges(
    "create_repo",
    "create_repo__git",
    "create_repo__in_group",
    "create_repo__hgmirror",
    "create_repo__gitmirror",
)
async def _nothing_yet(world: World) -> Case:
    return Case()


@arranges("get_repo__empty_hg", "get_changesets__empty_repo")
async def _empty_hgrepo(world: World) -> Case:
    await world.admin()
    await world.hgrepo(history=False)
    return Case()


@arranges("invalidate_cache", "invalidate_cache__git")
async def _empty_repositories(world: World) -> Case:
    await world.hgrepo(history=False)
    await world.gitrepo(history=False)
    return Case()


@arranges(
    "get_repo",
    "get_repo__git",
    "get_repo__with_revision_names",
    "get_repos",
    "get_repo_nodes",
    "get_repo_nodes__git",
    "get_repo_nodes__subdir_files",
    "get_changesets",
    "get_changesets__git_with_file_list",
    "get_changeset__unknown",
    "fork_repo",
    "fork_repo__git",
    "pull__no_clone_uri",
    "rescan_repos",
    "error__missing_required_arg",
    "error__repo_not_found",
    "error__unexpected_arg",
)
async def _repositories(world: World) -> Case:
    await world.repositories()
    return Case()


@arranges("get_changeset")
async def _second_hg_changeset(world: World) -> Case:
    await world.repositories()
    _, raw_ids = await world.source("hg")
    return Case(args={"raw_id": raw_ids[1]})


@arranges("get_changeset__git_with_reviews")
async def _second_git_changeset(world: World) -> Case:
    await world.repositories()
    _, raw_ids = await world.source("git")
    return Case(args={"raw_id": raw_ids[1]})


@arranges("update_repo")
async def _update(world: World) -> Case:
    await world.repositories()
    repo_id = world.repo_id("hgrepo")
    return Case(expect={"result.msg": f"updated repo ID:{repo_id} hgrepo"})


@arranges("grant_user_permission")
async def _testuser(world: World) -> Case:
    await world.repositories()
    await world.testuser()
    return Case()


@arranges("revoke_user_permission")
async def _testuser_granted(world: World) -> Case:
    await world.repositories()
    await world.testuser()
    await world.send_example("grant_user_permission")
    return Case()


@arranges("grant_user_group_permission")
async def _devs(world: World) -> Case:
    await world.repositories()
    await world.devs()
    return Case()


@arranges("revoke_user_group_permission")
async def _devs_granted(world: World) -> Case:
    await world.repositories()
    await world.devs()
    await world.send_example("grant_user_group_permission")
    return Case()


@arranges("get_repo__fork", "pull__fork_from_parent", "delete_repo")
async def _hg_fork(world: World) -> Case:
    await world.repositories()
    await world.send_example("fork_repo")
    return Case()


@arranges("delete_repo__git_fork")
async def _git_fork(world: World) -> Case:
    await world.repositories()
    await world.send_example("fork_repo__git")
    return Case()


@arranges("delete_repo__already_deleted")
async def _hg_fork_deleted(world: World) -> Case:
    await world.repositories()
    await world.send_example("fork_repo")
    await world.send_example("delete_repo")
    return Case()


@arranges("create_repo__clone_uri_local_path")
async def _local_source(world: World) -> Case:
    await world.repositories()
    # Kallithea was given its own hgrepo's folder; so is kallithead.
    return Case(args={"clone_uri": str(repos_root(world.server) / "hgrepo")})


@arranges("pull")
async def _hg_mirror(world: World) -> Case:
    await world.repositories()
    await world.send_example("create_repo__hgmirror")
    url, _ = await world.source("hg")
    return Case(
        refused=ALLOWED_LOCAL_PULL_REFUSAL.format(name="hgmirror"),
        refused_args={"clone_uri": str(repos_root(world.server) / "hgrepo")},
        args={"clone_uri": url},
    )


@arranges("pull__git_local_path")
async def _git_mirror(world: World) -> Case:
    await world.repositories()
    await world.send_example("create_repo__gitmirror")
    url, _ = await world.source("git")
    return Case(
        refused=ALLOWED_LOCAL_PULL_REFUSAL.format(name="gitmirror"),
        refused_args={"clone_uri": str(repos_root(world.server) / "gitrepo")},
        args={"clone_uri": url},
    )


@arranges("get_changesets__after_pull")
async def _hg_mirror_pulled(world: World) -> Case:
    await world.repositories()
    await world.send_example("create_repo__hgmirror")
    url, _ = await world.source("hg")
    await world.send("pull", repoid="hgmirror", clone_uri=url)
    return Case()


@arranges("create_repo__clone_uri_http")
async def _http_source(world: World) -> Case:
    await world.repositories()
    url, _ = await world.source("hg")
    return Case(args={"clone_uri": url})


async def _http_mirror(world: World) -> str:
    """``hgmirror-http``, cloned over HTTP; returns its clone URI."""
    await world.repositories()
    url, _ = await world.source("hg")
    await world.send_example("create_repo__clone_uri_http", clone_uri=url)
    return url


@arranges("pull__clone_uri_http")
async def _http_mirror_to_pull(world: World) -> Case:
    await _http_mirror(world)
    return Case()


@arranges("get_repo__mirror_http")
async def _http_mirror_to_show(world: World) -> Case:
    url = await _http_mirror(world)
    return Case(expect={"result.clone_uri": url})


@arranges("rescan_repos__added_ondisk")
async def _on_disk(world: World) -> Case:
    await world.repositories()
    write_example_history("hg", repos_root(world.server) / "ondisk")
    return Case()


@arranges("get_repo__as_non_admin_default_read")
async def _seen_by_testuser(world: World) -> Case:
    await world.repositories()
    key = await world.testuser()
    await world.send_example("update_repo")
    return Case(key=key)


@arranges("delete_repo__in_group")
async def _inner(world: World) -> Case:
    await world.repositories()
    return Case()


@arranges("create_repo_group")
async def _no_group_yet(world: World) -> Case:
    return Case()


async def _grp1(world: World) -> None:
    await world.send_example("create_repo_group")


@arranges("get_repo_group", "get_repo_groups", "update_repo_group", "delete_repo_group")
async def _group_grp1(world: World) -> Case:
    await _grp1(world)
    return Case()


@arranges("grant_user_permission_to_repo_group")
async def _group_and_testuser(world: World) -> Case:
    await _grp1(world)
    await world.testuser()
    return Case()


@arranges("revoke_user_permission_from_repo_group")
async def _testuser_granted_on_group(world: World) -> Case:
    await _group_and_testuser(world)
    await world.send_example("grant_user_permission_to_repo_group")
    return Case()


@arranges("grant_user_group_permission_to_repo_group")
async def _group_and_devs(world: World) -> Case:
    await _grp1(world)
    await world.devs()
    return Case()


@arranges("revoke_user_group_permission_from_repo_group")
async def _devs_granted_on_group(world: World) -> Case:
    await _group_and_devs(world)
    await world.send_example("grant_user_group_permission_to_repo_group")
    return Case()


@arranges("error__non_admin_create_repo_group")
async def _regular_creating_a_group(world: World) -> Case:
    # Allowance 3 (above).
    return Case(key=await world.testuser(), expect={"error": ACCESS_DENIED})


def gist_url(world: World, access_id: str) -> str:
    """The examples' server was at http://127.0.0.1:5000; this one's gist
    URLs name its own address."""
    return f"{world.server.base_url}/_admin/gists/{access_id}"


@arranges("create_gist")
async def _no_gist_yet(world: World) -> Case:
    return Case(expect={"result.gist.url": gist_url(world, "1")})


@arranges("get_gist")
async def _one_gist(world: World) -> Case:
    await world.admin()
    await world.send_example("create_gist")
    return Case(expect={"result.url": gist_url(world, "1")})


@arranges("get_gists")
async def _one_gist_listed(world: World) -> Case:
    await _one_gist(world)
    return Case(expect={"result.0.url": gist_url(world, "1")})


@arranges("delete_gist")
async def _one_gist_to_delete(world: World) -> Case:
    await _one_gist(world)
    return Case()


# Every other example, and why it is not replayed here.
NOT_REPLAYED = {
    **dict.fromkeys(
        [
            "get_server_info",
            "get_server_info__args_is_list",
            "get_ip",
            "error__bad_api_key",
            "error__unknown_method",
            "error__malformed_json",
            "error__missing_args_key",
            "error__http_get",
            "error__non_admin_get_server_info",
        ],
        "framing and server methods, not about repositories",
    ),
    **dict.fromkeys(
        [
            "get_user",
            "get_user__by_name",
            "get_users",
            "create_user",
            "create_user__duplicate",
            "update_user",
            "create_user__deleteme",
            "delete_user",
            "delete_user__unknown",
            "get_user__as_non_admin_self",
            "error__non_admin_get_users",
            "error__non_admin_get_other_user",
            "create_user_group",
            "get_user_group",
            "get_user_groups",
            "update_user_group",
            "add_user_to_user_group",
            "get_user_group__with_member",
            "remove_user_from_user_group",
            "create_user_group__tmpgroup",
            "delete_user_group",
        ],
        "user and user group methods, outside this module's scope",
    ),
}

# Where kallithead answers unlike Kallithea 0.7.0 without a DESIGN.md
# decision behind it: the tests keep asserting Kallithea's answer.
KNOWN_DIFFERENCES: dict[str, str] = {}


def replayed() -> list[Any]:
    return [
        pytest.param(
            name,
            marks=(
                [pytest.mark.xfail(strict=True, reason=KNOWN_DIFFERENCES[name])]
                if name in KNOWN_DIFFERENCES
                else []
            ),
        )
        for name in ARRANGEMENTS
    ]


# --- replaying --------------------------------------------------------------


async def exchange(
    server: Server, request: dict[str, Any]
) -> tuple[int, str | None, Any]:
    """Send a request document as it is; the status, Content-Type and the
    decoded answer."""
    reply = await server.post(json.dumps(request).encode())
    content_type = reply.headers.getRawHeaders(b"content-type", [None])[0]
    return (
        reply.status,
        None if content_type is None else content_type.decode("latin-1"),
        json.loads(reply.body),
    )


def report(problems: list[str], answer: Any) -> str:
    return "\n".join([*problems, "kallithead answered: " + json.dumps(answer)])


async def replay(world: World, name: str, case: Case) -> None:
    example = load_example(name)
    key = world.server.admin_key if case.key is None else case.key
    request = copy.deepcopy(example["request"])
    request["api_key"] = key

    if case.refused is not None:
        refused = {**request, "args": {**request["args"], **case.refused_args}}
        status, content_type, answer = await exchange(world.server, refused)
        assert (status, content_type) == (200, "application/json")
        wanted = {"id": request["id"], "result": None, "error": case.refused}
        assert answer == wanted, report(differences(wanted, answer), answer)

    request["args"].update(case.args)
    expected = expectation(example["response"])
    for path, value in case.expect.items():
        put(expected, path, value)

    status, content_type, answer = await exchange(world.server, request)
    assert (status, content_type) == (example["http_status"], example["content_type"])
    problems = differences(expected, answer)
    assert not problems, report(problems, answer)


@needs_examples
@pytest.mark.parametrize("name", replayed())
@pytest_twisted.ensureDeferred
async def test_example(
    name: str, server: Server, engine: sa.Engine, tmp_path: Path
) -> None:
    world = World(server, engine, tmp_path)
    try:
        case = await ARRANGEMENTS[name](world)
        await replay(world, name, case)
    finally:
        await world.stop()


@needs_examples
def test_every_example_is_replayed_or_left_out_with_a_reason() -> None:
    names = indexed_names()
    assert sorted(set(ARRANGEMENTS) | set(NOT_REPLAYED)) == sorted(names)
    assert not set(ARRANGEMENTS) & set(NOT_REPLAYED)
    assert not set(KNOWN_DIFFERENCES) - set(ARRANGEMENTS)
    assert all((EXAMPLES / f"{name}.json").is_file() for name in names)


# --- the comparison can fail --------------------------------------------------

REPO = {
    "repo_id": 1,
    "repo_name": "hgrepo",
    "private": False,
    "clone_uri": None,
    "landing_rev": ["rev", "tip"],
    "last_changeset": {"revision": 1, "raw_id": "ab" * 20},
}


def test_differences_accepts_the_same_document() -> None:
    assert differences(REPO, copy.deepcopy(REPO)) == []


def test_differences_reports_a_missing_key() -> None:
    answer = copy.deepcopy(REPO)
    del answer["last_changeset"]["revision"]
    assert differences(REPO, answer) == ["$.last_changeset: missing key 'revision'"]


def test_differences_reports_an_unexpected_key() -> None:
    answer = {**REPO, "task": None}
    assert differences(REPO, answer) == ["$: unexpected key 'task'"]


@pytest.mark.parametrize(
    ("key", "value", "kinds"),
    [
        ("private", 0, "boolean, got integer"),
        ("clone_uri", "", "null, got string"),
        ("repo_id", "1", "integer, got string"),
        ("landing_rev", "rev:tip", "array, got string"),
        ("last_changeset", None, "object, got null"),
    ],
)
def test_differences_reports_a_wrong_type(key: str, value: Any, kinds: str) -> None:
    answer = {**REPO, key: value}
    assert differences(REPO, answer) == [
        f"$.{key}: expected {kinds}: {json.dumps(value)}"
    ]


def test_differences_reports_a_different_length_and_value() -> None:
    answer = {**REPO, "landing_rev": ["rev"], "repo_name": "other"}
    assert differences(REPO, answer) == [
        '$.repo_name: expected "hgrepo", got "other"',
        '$.landing_rev: expected 2 items, got 1: ["rev"]',
    ]


def test_varies_checks_type_and_form_only() -> None:
    expected = {"raw_id": RAW_ID, "created_on": CREATED_ON}
    fine = {"raw_id": "cd" * 20, "created_on": "2024-01-01T00:00:00"}
    assert differences(expected, fine) == []

    wrong = {"raw_id": "cd" * 19, "created_on": 3}
    assert [line.split(":")[0] for line in differences(expected, wrong)] == [
        "$.raw_id",
        "$.created_on",
    ]


@needs_examples
def test_expectation_adds_the_locking_fields_to_repository_objects_only() -> None:
    example = load_example("get_repos")["response"]["result"][0]
    shaped = expectation(example)
    assert {k: shaped[k] for k in ALLOWED_LOCKING_FIELDS} == ALLOWED_LOCKING_FIELDS
    assert shaped["last_changeset"].keys() == example["last_changeset"].keys()


@needs_examples
@pytest_twisted.ensureDeferred
async def test_without_the_locking_allowance_a_real_answer_differs(
    server: Server, engine: sa.Engine, tmp_path: Path
) -> None:
    """The comparison bites on a real answer: Kallithea's get_repo answer as
    it is, without allowance 1, does not fit kallithead's."""
    world = World(server, engine, tmp_path)
    try:
        await world.repositories()
        example = load_example("get_repo")
        request = {**example["request"], "api_key": server.admin_key}
        _, _, answer = await exchange(server, request)
    finally:
        await world.stop()

    expected = expectation(example["response"])
    for name in ALLOWED_LOCKING_FIELDS:
        del expected["result"][name]
    assert differences(expected, answer) == [
        f"$.result: unexpected key {name!r}" for name in ALLOWED_LOCKING_FIELDS
    ]
