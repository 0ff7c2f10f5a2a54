"""What ``get_server_info`` reports: software versions and the platform.

Nothing here changes while the daemon runs, so it is collected once, on a
thread (reading package metadata and running ``git --version`` would block
the reactor), and reused.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import subprocess
from typing import Any

from twisted.internet import threads

from kallithead import KALLITHEA_API_VERSION
from kallithead.api.encoding import PreEncoded, dumps


def installed_modules() -> list[list[str]]:
    """``[name, version]`` of every installed distribution, by name."""
    seen: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and name not in seen:
            seen[name] = dist.version
    return [[name, seen[name]] for name in sorted(seen, key=str.lower)]


def git_version(git_path: str) -> str:
    """The installed git's version in "strict" form: 2.39.5, 2.1 (for 2.1.0).

    ``0.0`` when git cannot be run or its answer cannot be read.
    """
    try:
        output = subprocess.run(
            [git_path, "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "0.0"
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", output)
    if match is None:
        return "0.0"
    major, minor, patch = match.groups()
    if patch and int(patch):
        return f"{int(major)}.{int(minor)}.{int(patch)}"
    return f"{int(major)}.{int(minor)}"


def collect(git_path: str) -> dict[str, Any]:
    return {
        "modules": installed_modules(),
        "py_version": platform.python_version(),
        "platform": platform.platform(),
        "kallithea_version": KALLITHEA_API_VERSION,
        "git_version": git_version(git_path),
        "git_path": git_path,
    }


class ServerInfo:
    """Collects the server information once, off the reactor thread, and
    keeps it encoded."""

    def __init__(self, git_path: str) -> None:
        self.git_path = git_path
        self._encoded: PreEncoded | None = None

    async def get(self) -> PreEncoded:
        # Two first callers may both collect; the answers are the same.
        if self._encoded is None:
            info = await threads.deferToThread(collect, self.git_path)
            self._encoded = PreEncoded(dumps(info))
        return self._encoded
