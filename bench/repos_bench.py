"""Repository workloads of kallithead, measured against ../shared/PERFORMANCE.md.

Usage, from the repository root::

    python bench/repos_bench.py [--quick] [--duration SECONDS] [--runs N]
        [--generator auto|wrk|python]

Each part starts its own daemon (``twistd -n kallithea``) in a subprocess on a
free port of 127.0.0.1, with a fresh data folder below one temporary folder,
and stops it with SIGTERM when the part is done:

1. ``get_repos`` with 100, 1,000 and 10,000 repository rows, written straight
   into the daemon's SQLite database by ``bench/populate.py``. The first call
   after a change (``update_repo`` of one description, which makes the daemon
   forget its remembered answers) is timed three times; the steady state is
   driven at concurrency 1 and 16. At the largest size the regular user
   ``bench``, who sees a filtered list, is measured too.
2. ``get_repo`` and ``get_repo_nodes`` (tip, root folder) on a Mercurial and
   on a git repository with the same shape (1,000 files in 50 folders, 1,000
   commits), written on disk in the repositories root and added by
   ``rescan_repos``.
3. ``create_repo``, 50 hg and 50 git repositories one after the other.
4. ``rescan_repos`` over 1,000 empty repositories on disk (half hg, half git,
   a quarter inside folders): once adding them all, once with nothing new;
   then, in a fresh daemon, 1,000 repositories holding one commit each
   (empty ones are recognised without opening them; these are not).

Throughput comes from ``bench/api_bench.py``'s load generators (wrk when it
is on PATH); each workload and concurrency runs ``--runs`` times and the
median run is kept. Single calls are timed with ``http.client`` over one
keep-alive connection. Goals are checked on the concurrency 1 figures, the
way Kallithea 0.7.0 was measured. ``--quick`` makes a smoke run: shorter and
fewer runs, smaller repositories, and no 10,000 repository database.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo
from mercurial import hg
from mercurial import ui as uimod

from bench.api_bench import (
    API_PATH,
    BenchError,
    LoadGenerator,
    Measurement,
    Target,
    check_answer,
    choose_generator,
    measure_all,
    positive_int,
)
from bench.populate import BENCH_KEY, populate
from kallithead.db.pool import create_engine
from tests.hgutil import HgWorkdir

ROOT = Path(__file__).resolve().parent.parent

# Kallithea 0.7.0's figures, from ../shared/PERFORMANCE.md.
KALLITHEA_GET_REPOS_RPS = {100: 29.0, 1_000: 3.5}
KALLITHEA_GET_REPOS_10K_MS = 2_800.0
KALLITHEA_GET_REPOS_MS_PER_1000 = 270.0
KALLITHEA_GET_REPO_RPS = 120.0
KALLITHEA_GET_REPO_NODES_RPS = 95.0
KALLITHEA_RESCAN_SECONDS = 1.9

GOAL_GET_REPOS_SPEEDUP = 20.0
GOAL_GET_REPOS_1000_P50_MS = 14.0
GOAL_GET_REPOS_10K_MS = 150.0
GOAL_GET_REPO_SPEEDUP = 10.0
GOAL_GET_REPO_NODES_SPEEDUP = 5.0
GOAL_RESCAN_SECONDS = 0.5

HOST = "127.0.0.1"
DAEMON_CONFIG = "[server]\naccess_log = false\n\n[vcs]\nrescan_interval = 0\n"
START_SECONDS = 60.0
STOP_SECONDS = 30.0
CALL_TIMEOUT_SECONDS = 300.0
# populate() announces its rows through a token the daemon polls each second.
TOKEN_POLL_WAIT_SECONDS = 1.5
SETTLE_SECONDS = 15.0
IDLE_RECONNECT_SECONDS = 2.0
UNCACHED_ROUNDS = 3
FILES_PER_FOLDER = 20
FIRST_TIMESTAMP = 1_700_000_000
AUTHOR = "Bench Author <bench@example.com>"
HG_NAME = "shape-hg"
GIT_NAME = "shape-git"


@dataclass(frozen=True)
class Sizes:
    """How big each part of the run is."""

    get_repos: tuple[int, ...]
    files: int
    commits: int
    creations: int
    rescanned: int
    duration: int
    runs: int


FULL = Sizes((100, 1_000, 10_000), 1_000, 1_000, 50, 1_000, 5, 3)
QUICK = Sizes((100, 1_000), 200, 200, 10, 200, 2, 1)


@dataclass(frozen=True)
class Timed:
    """Single calls timed one after the other, in seconds."""

    name: str
    size: int
    seconds: tuple[float, ...]

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.seconds) * 1000.0

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.seconds) * 1000.0

    @property
    def max_ms(self) -> float:
        return max(self.seconds) * 1000.0


@dataclass(frozen=True)
class Loaded:
    """A throughput workload: its label, size and the median run per load."""

    name: str
    size: int
    by_concurrency: dict[int, Measurement]


@dataclass
class Results:
    loaded: list[Loaded]
    timed: list[Timed]

    def load(self, name: str, size: int) -> Loaded | None:
        for loaded in self.loaded:
            if loaded.name == name and loaded.size == size:
                return loaded
        return None

    def time(self, name: str, size: int) -> Timed | None:
        for timed in self.timed:
            if timed.name == name and timed.size == size:
                return timed
        return None


# ---------------------------------------------------------------------------
# The daemon


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Daemon:
    """One kallithead daemon with its own data folder, for a ``with`` block."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.datadir = folder / "data"
        self.port = free_port()
        self.key = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.connection: http.client.HTTPConnection | None = None
        self.next_id = 0
        self.last_used = 0.0

    @property
    def repos_root(self) -> Path:
        return self.datadir / "repos"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.datadir / 'kallithea.db'}"

    def __enter__(self) -> Daemon:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "kallithea.ini"
        config.write_text(DAEMON_CONFIG)
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            part for part in (str(ROOT), environment.get("PYTHONPATH", "")) if part
        )
        command = [
            sys.executable,
            "-c",
            "from twisted.scripts.twistd import run; run()",
            "-n",
            "--pidfile=",
            "kallithea",
            "--datadir",
            str(self.datadir),
            "--config",
            str(config),
            "--listen",
            f"tcp:{self.port}:interface={HOST}",
        ]
        with open(self.folder / "daemon.log", "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.folder,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _log_tail(self) -> str:
        try:
            return (self.folder / "daemon.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        key_file = self.datadir / "admin-api-key"
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"the daemon exited early:\n{self._log_tail()}")
            if key_file.exists():
                try:
                    with socket.create_connection((HOST, self.port), timeout=0.5):
                        self.key = key_file.read_text().strip()
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        raise BenchError(f"the daemon did not start:\n{self._log_tail()}")

    def stop(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def target(
        self, label: str, method: str, key: str | None = None, **args: Any
    ) -> Target:
        """A load generator target: one JSON-RPC body, sent over and over."""
        envelope = {
            "id": 1,
            "api_key": self.key if key is None else key,
            "method": method,
            "args": args,
        }
        body = json.dumps(envelope).encode()
        target = Target(label, HOST, self.port, API_PATH, body)
        check_answer(target)
        return target

    def call(self, method: str, key: str | None = None, **args: Any) -> Any:
        """One call over the kept-alive connection; its result, error null."""
        return self.timed_call(method, key, **args)[1]

    def timed_call(
        self, method: str, key: str | None = None, **args: Any
    ) -> tuple[float, Any]:
        """Seconds from sending the request to the end of the answer, and
        the result; anything but a null error stops the benchmark."""
        self.next_id += 1
        body = json.dumps(
            {
                "id": self.next_id,
                "api_key": self.key if key is None else key,
                "method": method,
                "args": args,
            }
        ).encode()
        # A connection left idle (while a load generator ran) may have been
        # closed by the server: start a new one, outside the timed part.
        if (
            self.connection is not None
            and time.monotonic() - self.last_used > IDLE_RECONNECT_SECONDS
        ):
            self.connection.close()
            self.connection = None
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    HOST, self.port, timeout=CALL_TIMEOUT_SECONDS
                )
                self.connection.connect()
            began = time.perf_counter()
            self.connection.request(
                "POST", API_PATH, body, {"Content-Type": "application/json"}
            )
            response = self.connection.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - began
            self.last_used = time.monotonic()
        except (OSError, http.client.HTTPException) as e:
            if self.connection is not None:
                self.connection.close()
                self.connection = None
            raise BenchError(f"{method}: the call failed: {e}") from None
        if response.status != 200:
            raise BenchError(f"{method}: HTTP {response.status}")
        reply = json.loads(payload)
        if reply.get("error") is not None or reply.get("id") != self.next_id:
            raise BenchError(f"{method} {args}: answered {str(reply)[:300]}")
        return elapsed, reply["result"]


# ---------------------------------------------------------------------------
# Repositories on disk


def file_name(number: int) -> str:
    return f"dir{number // FILES_PER_FOLDER:02d}/file{number:04d}.txt"


def file_content(number: int, change: int) -> str:
    return f"file {number}\n" + "".join(f"change {c}\n" for c in range(change))


def touched_file(commit: int, files: int) -> int:
    """Which file commit number ``commit`` (from 1) changes."""
    return (commit * 37) % files


def build_hg(path: Path, files: int, commits: int) -> None:
    """The first commit adds every file; each later one changes one file."""
    workdir = HgWorkdir(path)
    changes = [0] * files
    workdir.commit(
        {file_name(n): file_content(n, 0) for n in range(files)},
        "add every file",
        FIRST_TIMESTAMP,
        user=AUTHOR,
    )
    for commit in range(1, commits):
        number = touched_file(commit, files)
        changes[number] += 1
        workdir.commit(
            {file_name(number): file_content(number, changes[number])},
            f"change {commit}",
            FIRST_TIMESTAMP + commit,
            user=AUTHOR,
        )
    workdir.repo.close()


def git_tree(entries: dict[bytes, tuple[int, bytes]]) -> Tree:
    tree = Tree()
    for name, (mode, sha) in sorted(entries.items()):
        tree.add(name, mode, sha)
    return tree


def build_git(path: Path, files: int, commits: int) -> None:
    """The same history as build_hg, as a bare repository of one pack."""
    path.mkdir(parents=True)
    repo = Repo.init_bare(str(path), default_branch=b"master")
    written: list[Blob | Tree | Commit] = []
    folders: dict[bytes, dict[bytes, tuple[int, bytes]]] = {}
    changes = [0] * files

    def put_file(number: int) -> bytes:
        blob = Blob.from_string(file_content(number, changes[number]).encode())
        written.append(blob)
        folder, _, name = file_name(number).encode().partition(b"/")
        folders.setdefault(folder, {})[name] = (0o100644, blob.id)
        return folder

    def folder_tree(folder: bytes) -> Tree:
        tree = git_tree(folders[folder])
        written.append(tree)
        return tree

    for number in range(files):
        put_file(number)
    top = {folder: (0o040000, folder_tree(folder).id) for folder in sorted(folders)}
    parent: bytes | None = None
    for commit in range(commits):
        if commit:
            number = touched_file(commit, files)
            changes[number] += 1
            folder = put_file(number)
            top[folder] = (0o040000, folder_tree(folder).id)
        root = git_tree(top)
        written.append(root)
        made = Commit()
        made.tree = root.id
        made.parents = [] if parent is None else [parent]
        made.author = made.committer = AUTHOR.encode()
        made.author_time = made.commit_time = FIRST_TIMESTAMP + commit
        made.author_timezone = made.commit_timezone = 0
        made.encoding = b"UTF-8"
        made.message = (f"change {commit}" if commit else "add every file").encode()
        written.append(made)
        parent = made.id
    repo.object_store.add_objects([(obj, None) for obj in written])
    assert parent is not None
    repo.refs[b"refs/heads/master"] = parent
    repo.close()


def empty_templates(folder: Path) -> tuple[Path, Path]:
    """One empty hg and one empty bare git repository to copy from."""
    hg_template = folder / "empty-hg"
    hg_template.mkdir(parents=True)
    ui = uimod.ui()
    ui.setconfig(b"ui", b"quiet", b"true")
    hg.repository(ui, os.fsencode(hg_template), create=True).close()
    git_template = folder / "empty-git"
    git_template.mkdir()
    Repo.init_bare(str(git_template), default_branch=b"master").close()
    return hg_template, git_template


def one_commit_templates(folder: Path) -> tuple[Path, Path]:
    """One hg and one bare git repository holding a single commit of one
    file, to copy from."""
    hg_template = folder / "one-hg"
    git_template = folder / "one-git"
    build_hg(hg_template, 1, 1)
    build_git(git_template, 1, 1)
    return hg_template, git_template


def lay_out_empty(root: Path, templates: tuple[Path, Path], count: int) -> None:
    """``count`` copies of the templates (empty repositories unless the
    templates hold history), alternately hg and git; every fourth one inside
    one of ten folders."""
    for number in range(count):
        kind = "hg" if number % 2 == 0 else "git"
        name = f"scan-{kind}{number:04d}"
        if number % 4 == 3:
            name = f"scanned{number % 10}/{name}"
        shutil.copytree(templates[number % 2], root / name)


# ---------------------------------------------------------------------------
# The parts


class Bench:
    def __init__(
        self,
        sizes: Sizes,
        generator: LoadGenerator,
        scratch: Path,
        results: Results,
    ) -> None:
        self.sizes = sizes
        self.generator = generator
        self.scratch = scratch
        self.results = results

    def daemon(self, label: str) -> Daemon:
        return Daemon(self.scratch / label)

    def drive(self, targets: Sequence[Target], size: int, names: Sequence[str]) -> None:
        """Throughput of each target; ``names`` label them in the results."""
        medians = measure_all(
            self.generator, targets, self.sizes.duration, self.sizes.runs
        )
        for target, name in zip(targets, names, strict=True):
            self.results.loaded.append(
                Loaded(
                    name,
                    size,
                    {
                        concurrency: measurement
                        for (label, concurrency), measurement in medians.items()
                        if label == target.name
                    },
                )
            )

    def uncached(
        self,
        daemon: Daemon,
        name: str,
        size: int,
        change: Callable[[int], None],
        measured: Callable[[], float],
    ) -> None:
        seconds = []
        for round_number in range(UNCACHED_ROUNDS):
            change(round_number)
            seconds.append(measured())
        self.results.timed.append(Timed(name, size, tuple(seconds)))

    def get_repos(self, count: int) -> None:
        print(f"\n== get_repos with {count:,} repositories", flush=True)
        with self.daemon(f"get-repos-{count}") as daemon:
            engine = create_engine(daemon.db_url)
            try:
                started = time.perf_counter()
                populate(engine, repos=count, user_groups=100, member_of=10)
                print(
                    f"  populated in {time.perf_counter() - started:.1f} s",
                    flush=True,
                )
            finally:
                engine.dispose()
            time.sleep(TOKEN_POLL_WAIT_SECONDS)
            deadline = time.monotonic() + SETTLE_SECONDS
            while True:
                # The first complete listing is a cold one: nothing of it
                # has been encoded before.
                elapsed, listed = daemon.timed_call("get_repos")
                if len(listed) == count:
                    self.results.timed.append(
                        Timed("get_repos admin, cold", count, (elapsed,))
                    )
                    break
                if time.monotonic() > deadline:
                    raise BenchError("the daemon does not list the new rows")
                time.sleep(0.5)

            def change(round_number: int) -> None:
                daemon.call(
                    "update_repo",
                    repoid="bench/repo00001",
                    description=f"changed in round {round_number}",
                )

            def first_call(key: str | None) -> Callable[[], float]:
                def measured() -> float:
                    elapsed, listed = daemon.timed_call("get_repos", key)
                    if key is None and len(listed) != count:
                        raise BenchError(f"get_repos listed {len(listed)} of {count}")
                    return elapsed

                return measured

            self.uncached(daemon, "get_repos admin", count, change, first_call(None))
            targets = [daemon.target(f"get_repos_{count}", "get_repos")]
            names = ["get_repos admin"]
            if count == max(self.sizes.get_repos):
                self.uncached(
                    daemon, "get_repos bench", count, change, first_call(BENCH_KEY)
                )
                seen = len(daemon.call("get_repos", BENCH_KEY))
                print(f"  the user bench sees {seen:,} of {count:,}", flush=True)
                targets.append(
                    daemon.target(f"get_repos_bench_{count}", "get_repos", BENCH_KEY)
                )
                names.append("get_repos bench")
            self.drive(targets, count, names)

    def content_and_creation(self) -> None:
        files, commits = self.sizes.files, self.sizes.commits
        print(
            f"\n== get_repo, get_repo_nodes ({files:,} files, {commits:,} commits)"
            " and create_repo",
            flush=True,
        )
        with self.daemon("content") as daemon:
            for name, build in ((HG_NAME, build_hg), (GIT_NAME, build_git)):
                started = time.perf_counter()
                build(daemon.repos_root / name, files, commits)
                print(
                    f"  wrote {name} in {time.perf_counter() - started:.1f} s",
                    flush=True,
                )
            added = daemon.call("rescan_repos")["added"]
            if sorted(added) != sorted([HG_NAME, GIT_NAME]):
                raise BenchError(f"rescan_repos added {added}")
            folders = -(-files // FILES_PER_FOLDER)
            targets = []
            names = []
            for kind, name in (("hg", HG_NAME), ("git", GIT_NAME)):
                nodes = daemon.call(
                    "get_repo_nodes", repoid=name, revision="tip", root_path="/"
                )
                # Every folder and file below the root, as Kallithea lists them.
                if len(nodes) != folders + files:
                    raise BenchError(f"{name}: {len(nodes)} nodes below the root")
                targets.append(
                    daemon.target(f"get_repo_{kind}", "get_repo", repoid=name)
                )
                names.append(f"get_repo {kind}")
                targets.append(
                    daemon.target(
                        f"get_repo_nodes_{kind}",
                        "get_repo_nodes",
                        repoid=name,
                        revision="tip",
                        root_path="/",
                    )
                )
                names.append(f"get_repo_nodes {kind}")
            self.drive(targets, commits, names)

            for kind in ("hg", "git"):
                seconds = []
                for number in range(self.sizes.creations):
                    elapsed, _ = daemon.timed_call(
                        "create_repo",
                        repo_name=f"new-{kind}{number:03d}",
                        repo_type=kind,
                    )
                    seconds.append(elapsed)
                self.results.timed.append(
                    Timed(f"create_repo {kind}", self.sizes.creations, tuple(seconds))
                )

    def rescan(self) -> None:
        count = self.sizes.rescanned
        print(f"\n== rescan_repos over {count:,} repositories on disk", flush=True)
        templates = empty_templates(self.scratch / "templates")
        with self.daemon("rescan") as daemon:
            started = time.perf_counter()
            lay_out_empty(daemon.repos_root, templates, count)
            print(f"  laid out in {time.perf_counter() - started:.1f} s", flush=True)
            elapsed, outcome = daemon.timed_call("rescan_repos")
            if len(outcome["added"]) != count:
                raise BenchError(f"rescan_repos added {len(outcome['added'])}")
            self.results.timed.append(Timed("rescan_repos, all new", count, (elapsed,)))
            elapsed, outcome = daemon.timed_call("rescan_repos")
            if outcome["added"]:
                raise BenchError(f"the second rescan added {outcome['added'][:5]}")
            self.results.timed.append(
                Timed("rescan_repos, none new", count, (elapsed,))
            )
            if len(daemon.call("get_repos")) != count:
                raise BenchError("get_repos does not list every rescanned repository")
        # Repositories with history are opened one by one to read their tip.
        templates = one_commit_templates(self.scratch / "one-commit")
        with self.daemon("rescan-history") as daemon:
            lay_out_empty(daemon.repos_root, templates, count)
            elapsed, outcome = daemon.timed_call("rescan_repos")
            if len(outcome["added"]) != count:
                raise BenchError(f"rescan_repos added {len(outcome['added'])}")
            self.results.timed.append(
                Timed("rescan_repos, all new, 1 commit each", count, (elapsed,))
            )


# ---------------------------------------------------------------------------
# Reporting


def print_tables(results: Results) -> None:
    print()
    print("Throughput (median run; load generator on 127.0.0.1)")
    print(
        f"{'workload':<22} {'size':>7} {'conc':>4} {'req/s':>9} {'p50 ms':>8}"
        f" {'p99 ms':>8} {'requests':>9} {'errors':>6}"
    )
    for loaded in results.loaded:
        for concurrency, m in sorted(loaded.by_concurrency.items()):
            print(
                f"{loaded.name:<22} {loaded.size:>7} {concurrency:>4}"
                f" {m.requests_per_second:>9.1f} {m.p50_ms:>8.2f} {m.p99_ms:>8.2f}"
                f" {m.requests:>9} {m.errors:>6}"
            )
    print()
    print("Single calls, one after the other (http.client, keep-alive)")
    print(
        f"{'call':<36} {'size':>7} {'calls':>5} {'mean ms':>9} {'p50 ms':>9}"
        f" {'max ms':>9}"
    )
    for timed in results.timed:
        print(
            f"{timed.name:<36} {timed.size:>7} {len(timed.seconds):>5}"
            f" {timed.mean_ms:>9.1f} {timed.p50_ms:>9.1f} {timed.max_ms:>9.1f}"
        )
    print(
        "  get_repos rows: the first call after an update_repo, which makes the"
        " daemon forget its answers (rows that did not change keep their"
        " encoding); cold: the first call that lists them at all"
    )
    print(
        "  sizes: repositories for get_repos and rescan_repos, commits (and files)"
        " for get_repo(_nodes), creations for create_repo"
    )


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def goal_line(
    label: str, figure: str, kallithea: str, ratio: float, goal: str, met: bool
) -> None:
    print(
        f"{label:<38} {figure:>16} {kallithea:>13} {ratio:>7.1f}x"
        f" {goal:<24} {verdict(met)}"
    )


def size_note(measured: int, wanted: int) -> str:
    return "" if measured == wanted else f" [at {measured:,}]"


def print_goals(results: Results, sizes: Sizes) -> None:
    print()
    print("Goals (../shared/PERFORMANCE.md; throughput at concurrency 1)")
    print(
        f"{'workload':<38} {'kallithead':>16} {'Kallithea 0.7':>13} {'ratio':>8}"
        f" {'goal':<24} verdict"
    )
    for count, baseline in KALLITHEA_GET_REPOS_RPS.items():
        loaded = results.load("get_repos admin", count)
        if loaded is None:
            continue
        single = loaded.by_concurrency[1]
        ratio = single.requests_per_second / baseline
        goal_line(
            f"get_repos admin, {count:,} repos (cached)",
            f"{single.requests_per_second:.0f} req/s",
            f"{baseline:g} req/s",
            ratio,
            f">= {GOAL_GET_REPOS_SPEEDUP:.0f}x",
            ratio >= GOAL_GET_REPOS_SPEEDUP,
        )
        if count == 1_000:
            goal_line(
                "get_repos admin, 1,000 repos p50",
                f"{single.p50_ms:.2f} ms",
                "275 ms",
                275.0 / single.p50_ms,
                f"< {GOAL_GET_REPOS_1000_P50_MS:.0f} ms",
                single.p50_ms < GOAL_GET_REPOS_1000_P50_MS,
            )
    largest = max(sizes.get_repos)
    first = results.time("get_repos admin", largest)
    cached = results.load("get_repos admin", largest)
    if first is not None and cached is not None and largest == 10_000:
        goal_line(
            "get_repos admin, 10,000 repos, uncached",
            f"{first.p50_ms:.1f} ms",
            f"{KALLITHEA_GET_REPOS_10K_MS:.0f} ms",
            KALLITHEA_GET_REPOS_10K_MS / first.p50_ms,
            f"< {GOAL_GET_REPOS_10K_MS:.0f} ms",
            first.p50_ms < GOAL_GET_REPOS_10K_MS,
        )
        cold = results.time("get_repos admin, cold", largest)
        if cold is not None:
            goal_line(
                "get_repos admin, 10,000 repos, cold",
                f"{cold.p50_ms:.1f} ms",
                f"{KALLITHEA_GET_REPOS_10K_MS:.0f} ms",
                KALLITHEA_GET_REPOS_10K_MS / cold.p50_ms,
                f"< {GOAL_GET_REPOS_10K_MS:.0f} ms",
                cold.p50_ms < GOAL_GET_REPOS_10K_MS,
            )
        cached_ms = cached.by_concurrency[1].p50_ms
        goal_line(
            "get_repos admin, 10,000 repos, cached",
            f"{cached_ms:.1f} ms",
            f"{KALLITHEA_GET_REPOS_10K_MS:.0f} ms",
            KALLITHEA_GET_REPOS_10K_MS / cached_ms,
            f"< {GOAL_GET_REPOS_10K_MS:.0f} ms",
            cached_ms < GOAL_GET_REPOS_10K_MS,
        )
    for method, baseline, speedup in (
        ("get_repo", KALLITHEA_GET_REPO_RPS, GOAL_GET_REPO_SPEEDUP),
        ("get_repo_nodes", KALLITHEA_GET_REPO_NODES_RPS, GOAL_GET_REPO_NODES_SPEEDUP),
    ):
        for kind in ("hg", "git"):
            loaded = results.load(f"{method} {kind}", sizes.commits)
            if loaded is None:
                continue
            single = loaded.by_concurrency[1]
            ratio = single.requests_per_second / baseline
            goal_line(
                f"{method} {kind}" + size_note(sizes.commits, 1_000),
                f"{single.requests_per_second:.0f} req/s",
                f"{baseline:g} req/s",
                ratio,
                f">= {speedup:.0f}x",
                ratio >= speedup,
            )
    for label in (
        "rescan_repos, all new",
        "rescan_repos, none new",
        "rescan_repos, all new, 1 commit each",
    ):
        timed = results.time(label, sizes.rescanned)
        if timed is None:
            continue
        seconds = timed.seconds[0]
        goal_line(
            label + size_note(sizes.rescanned, 1_000),
            f"{seconds:.2f} s",
            f"{KALLITHEA_RESCAN_SECONDS:g} s",
            KALLITHEA_RESCAN_SECONDS / seconds,
            f"< {GOAL_RESCAN_SECONDS:g} s",
            seconds < GOAL_RESCAN_SECONDS,
        )
    if 10_000 not in sizes.get_repos:
        print("get_repos admin, 10,000 repos: not measured in this run (--quick)")
    print(
        "  ratio: how many times Kallithea 0.7.0's figure (throughput) or how"
        " many times faster (time); [at N]: measured at a size other than the goal's"
    )
    if any(m.errors for lo in results.loaded for m in lo.by_concurrency.values()):
        print("WARNING: some requests failed (see the errors column)")


def slope_per_1000(points: Sequence[tuple[int, float]]) -> float:
    """Least-squares growth of milliseconds per 1,000 repositories."""
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    rise = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return rise / spread * 1000.0


def print_growth(results: Results, sizes: Sizes) -> None:
    uncached = []
    cached = []
    for count in sizes.get_repos:
        first = results.time("get_repos admin", count)
        loaded = results.load("get_repos admin", count)
        if first is None or loaded is None:
            continue
        uncached.append((count, first.p50_ms))
        cached.append((count, loaded.by_concurrency[1].p50_ms))
    if len(uncached) < 2:
        return
    print()
    print(
        "How it grows, get_repos as admin: "
        f"{slope_per_1000(uncached):.1f} ms per 1,000 repositories uncached"
        f" (first call after a change), {slope_per_1000(cached):.1f} ms cached"
        f" (p50 at c=1); Kallithea 0.7.0 {KALLITHEA_GET_REPOS_MS_PER_1000:.0f} ms"
    )
    print(
        "  uncached p50: "
        + ", ".join(f"{ms:.1f} ms at {n:,}" for n, ms in uncached)
        + "; cached p50: "
        + ", ".join(f"{ms:.2f} ms at {n:,}" for n, ms in cached)
    )


# ---------------------------------------------------------------------------

# The parts of a run, in the order they run.
PARTS = ("get_repos", "content", "rescan")


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run with smaller sizes"
    )
    parser.add_argument(
        "--duration", type=positive_int, help="seconds per load run (5; quick 2)"
    )
    parser.add_argument(
        "--runs", type=positive_int, help="load runs per workload; median (3; quick 1)"
    )
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk if on PATH, else python (auto)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="run only this part (repeatable; default: every part)",
    )
    return parser.parse_args(argv)


def run(options: argparse.Namespace) -> None:
    sizes = QUICK if options.quick else FULL
    if options.duration is not None or options.runs is not None:
        sizes = Sizes(
            sizes.get_repos,
            sizes.files,
            sizes.commits,
            sizes.creations,
            sizes.rescanned,
            options.duration or sizes.duration,
            options.runs or sizes.runs,
        )
    started = time.perf_counter()
    load_before = os.getloadavg()
    results = Results([], [])
    with contextlib.ExitStack() as resources:
        generator = choose_generator(options.generator, 1, resources)
        scratch = Path(resources.enter_context(tempfile.TemporaryDirectory("-rb")))
        print(f"load generator: {generator.label}")
        print(
            f"{sizes.runs} run(s) of {sizes.duration} s per workload and concurrency;"
            " the median run by req/s is kept"
        )
        bench = Bench(sizes, generator, scratch, results)
        parts = options.only or PARTS
        if "get_repos" in parts:
            for count in sizes.get_repos:
                bench.get_repos(count)
        if "content" in parts:
            bench.content_and_creation()
        if "rescan" in parts:
            bench.rescan()

    print_tables(results)
    print_goals(results, sizes)
    print_growth(results, sizes)
    load_after = os.getloadavg()
    print(
        f"\ntotal time {time.perf_counter() - started:.0f} s; 1-minute load average"
        f" {load_before[0]:.2f} before, {load_after[0]:.2f} after"
        f" ({os.cpu_count()} cores; other work on the machine skews the figures)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_arguments(argv)
    try:
        run(options)
    except BenchError as e:
        print(f"repos_bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("repos_bench: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
