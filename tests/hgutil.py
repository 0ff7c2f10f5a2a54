"""Making real Mercurial repositories with commits, for tests and benchmarks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from mercurial import commands, hg
from mercurial import ui as uimod


def _ui():
    ui = uimod.ui()
    ui.setconfig(b"ui", b"quiet", b"true")
    ui.setconfig(b"ui", b"interactive", b"false")
    return ui


class HgWorkdir:
    """A Mercurial repository with a working directory to commit from."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.repo = hg.repository(_ui(), os.fsencode(path), create=True)

    @classmethod
    def existing(cls, path: Path) -> HgWorkdir:
        """A working repository already at ``path`` (a clone, say)."""
        workdir = cls.__new__(cls)
        workdir.path = path
        workdir.repo = hg.repository(_ui(), os.fsencode(path))
        return workdir

    def commit(
        self,
        files: Mapping[str, str | None],
        message: str,
        timestamp: int,
        user: str = "Test Author <author@example.com>",
        branch: str | None = None,
        close_branch: bool = False,
    ) -> str:
        """Write (or, for None, delete) files and commit; returns the raw id.
        ``close_branch`` makes the commit close its branch."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                commands.remove(self.repo.ui, self.repo, os.fsencode(target))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            existed = target.exists()
            target.write_text(content, encoding="utf-8")
            if not existed:
                commands.add(self.repo.ui, self.repo, os.fsencode(target))
        if branch is not None:
            commands.branch(self.repo.ui, self.repo, branch.encode())
        commands.commit(
            self.repo.ui,
            self.repo,
            message=message.encode("utf-8"),
            user=user.encode("utf-8"),
            date=f"{timestamp} 0".encode(),
            close_branch=close_branch,
        )
        return self.repo[b"tip"].hex().decode()

    def update(self, revision: str) -> None:
        commands.update(self.repo.ui, self.repo, rev=revision.encode())

    def tag(self, name: str, timestamp: int) -> None:
        commands.tag(
            self.repo.ui,
            self.repo,
            name.encode(),
            user=b"Test Author <author@example.com>",
            date=f"{timestamp} 0".encode(),
        )

    def bookmark(self, name: str) -> None:
        commands.bookmark(self.repo.ui, self.repo, name.encode())
