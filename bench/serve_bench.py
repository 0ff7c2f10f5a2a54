"""Clone and push over HTTP: how long the real clients take against kallithead.

Usage, from the repository root::

    python bench/serve_bench.py [--commits N] [--files N] [--runs N]

A daemon (``twistd -n kallithea``, SQLite) is started in a subprocess with a
Mercurial and a git repository of ``--commits`` commits over ``--files``
files (bench/repos_bench.py builds them), registered by ``rescan_repos``.
Then, ``--runs`` times each, the median kept:

- ``hg clone`` with the mercurial library (no working copy) and ``git clone
  --bare`` with the git command, anonymously (both repositories are public);
- one commit pushed by the admin (password over HTTP Basic) from a clone,
  with the library (hg) and the git command, until the push returns: by
  then kallithead has stored the new tip (see kallithead/web/vcs.py).

No goal is set for these in ../shared/PERFORMANCE.md; the figures show what
a user of the server waits for. Kallithea 0.7.0 was not measured here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mercurial import commands, exchange, hg
from mercurial import ui as uimod

import kallithead.vcs.hg  # noqa: F401  (sets up Mercurial 7's exchange handlers)
from bench.repos_bench import HOST, Daemon, build_git, build_hg

PASSWORD = "bench-password"


def quiet_ui() -> object:
    ui = uimod.ui()
    for resource in uimod.rcutil.default_rc_resources():
        ui.read_resource_config(resource, trust=True)
    ui.setconfig(b"ui", b"quiet", b"true")
    ui.setconfig(b"ui", b"interactive", b"false")
    return ui


def git(*args: str, cwd: Path) -> None:
    environment = {
        **os.environ,
        "HOME": str(cwd),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=environment, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr}")


def timed(
    runs: int, prepare: Callable[[int], object], act: Callable[[object], None]
) -> float:
    """Median seconds of ``act`` over ``runs`` runs, each given what
    ``prepare(run)`` made (not timed)."""
    seconds = []
    for run in range(runs):
        made = prepare(run)
        start = time.perf_counter()
        act(made)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def measure(options: argparse.Namespace) -> list[tuple[str, float]]:
    work = Path(tempfile.mkdtemp(prefix="kallithead-serve-bench-"))
    results = []
    try:
        with Daemon(work / "daemon") as daemon:
            build_hg(daemon.repos_root / "hgrepo", options.files, options.commits)
            build_git(daemon.repos_root / "gitrepo", options.files, options.commits)
            daemon.call("rescan_repos")
            daemon.call("update_user", userid="admin", password=PASSWORD)
            base = f"http://{HOST}:{daemon.port}"
            admin = f"http://admin:{PASSWORD}@{HOST}:{daemon.port}"
            clones = work / "clones"
            clones.mkdir()

            def hg_clone(target: object) -> None:
                hg.clone(
                    quiet_ui(),
                    {},
                    f"{base}/hgrepo".encode(),
                    os.fsencode(target),
                    update=False,
                )

            def git_clone(target: object) -> None:
                git("clone", "--bare", "-q", f"{base}/gitrepo", str(target), cwd=clones)

            results.append(
                (
                    "hg clone (library, no working copy)",
                    timed(options.runs, lambda r: clones / f"hg{r}", hg_clone),
                )
            )
            results.append(
                (
                    "git clone --bare (git command)",
                    timed(options.runs, lambda r: clones / f"git{r}", git_clone),
                )
            )

            hg_work = clones / "hg-work"
            hg.clone(
                quiet_ui(),
                {},
                f"{base}/hgrepo".encode(),
                os.fsencode(hg_work),
                update=True,
            )
            git_work = clones / "git-work"
            git("clone", "-q", f"{admin}/gitrepo", str(git_work), cwd=clones)

            def hg_commit(run: int) -> object:
                repo = hg.repository(quiet_ui(), os.fsencode(hg_work))
                (hg_work / "pushed.txt").write_text(f"push {run}\n")
                if run == 0:
                    commands.add(repo.ui, repo, os.fsencode(hg_work / "pushed.txt"))
                commands.commit(
                    repo.ui,
                    repo,
                    message=f"push {run}".encode(),
                    user=b"Bench <b@example.com>",
                )
                return repo

            def hg_push(repo: object) -> None:
                peer = hg.peer(quiet_ui(), {}, f"{admin}/hgrepo".encode())
                exchange.push(repo, peer)

            def git_commit(run: int) -> object:
                (git_work / "pushed.txt").write_text(f"push {run}\n")
                git("add", "pushed.txt", cwd=git_work)
                git("commit", "-q", "-m", f"push {run}", cwd=git_work)
                return None

            def git_push(_: object) -> None:
                git("push", "-q", "origin", "HEAD", cwd=git_work)

            results.append(
                (
                    "hg push of one commit (library)",
                    timed(options.runs, hg_commit, hg_push),
                )
            )
            results.append(
                (
                    "git push of one commit (git command)",
                    timed(options.runs, git_commit, git_push),
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_arguments(argv)
    if shutil.which("git") is None:
        print("the git command is needed", file=sys.stderr)
        return 2
    results = measure(options)
    print(
        f"Clone and push over HTTP; repositories of {options.commits} commits over "
        f"{options.files} files; median of {options.runs} runs"
    )
    for label, seconds in results:
        print(f"  {label:<40} {seconds * 1000:9.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
