"""Making real git repositories with commits (dulwich), for tests.

Every commit carries the same fixed author and committer, an explicit time
and time zone 0, so the raw ids of a history written the same way are the
same on every machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dulwich import porcelain
from dulwich.objects import Commit
from dulwich.repo import Repo

AUTHOR = "Test Author <author@example.com>"
DEFAULT_BRANCH = b"master"


class GitWorkdir:
    """A non-bare git repository with a working tree to commit from."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.repo = Repo.init(str(path), default_branch=DEFAULT_BRANCH)

    @classmethod
    def existing(cls, path: Path) -> GitWorkdir:
        """A working repository already at ``path`` (a clone, say)."""
        workdir = cls.__new__(cls)
        workdir.path, workdir.repo = path, Repo(str(path))
        return workdir

    def close(self) -> None:
        self.repo.close()

    def commit(
        self,
        files: Mapping[str, str | None],
        message: str,
        timestamp: int,
        author: str = AUTHOR,
    ) -> str:
        """Write (or, for None, delete) files and commit them on the current
        branch; returns the new commit's raw id."""
        written: list[str] = []
        removed: list[str] = []
        for name, content in files.items():
            target = self.path / name
            if content is None:
                removed.append(str(target))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            written.append(str(target))
        if removed:
            porcelain.rm(self.repo, paths=removed)
        if written:
            porcelain.add(self.repo, paths=written)
        raw = porcelain.commit(
            self.repo,
            message=message.encode("utf-8"),
            author=author.encode("utf-8"),
            author_timestamp=timestamp,
            author_timezone=0,
            committer=author.encode("utf-8"),
            commit_timestamp=timestamp,
            commit_timezone=0,
            sign=False,
            no_verify=True,
        )
        return raw.decode("ascii")

    def commit_by_odd_author(
        self, files: Mapping[str, str], message: str, timestamp: int, author: str
    ) -> str:
        """Commit on the current branch with an author string that dulwich's
        porcelain refuses (no "name <address>" shape), as other tools write
        them; the committer is the usual one."""
        paths = []
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            paths.append(str(target))
        porcelain.add(self.repo, paths=paths)
        new = Commit()
        new.tree = self.repo.open_index().commit(self.repo.object_store)
        try:
            new.parents = [self.repo.head()]
        except KeyError:
            new.parents = []
        new.author = author.encode("utf-8")
        new.committer = AUTHOR.encode("utf-8")
        new.author_time = new.commit_time = timestamp
        new.author_timezone = new.commit_timezone = 0
        new.message = message.encode("utf-8")
        self.repo.object_store.add_object(new)
        self.repo.refs[self.repo.refs.follow(b"HEAD")[0][-1]] = new.id
        return new.id.decode("ascii")

    def head(self) -> str:
        return self.repo.head().decode("ascii")

    def branch(self, name: str, start: str | None = None) -> None:
        """Create branch ``name`` at ``start`` (default: HEAD) and switch to it."""
        porcelain.branch_create(self.repo, name, objectish=start)
        self.switch(name)

    def delete_branch(self, name: str) -> None:
        """Delete a branch that is not checked out."""
        porcelain.branch_delete(self.repo, name)

    def switch(self, name: str) -> None:
        """Check out an existing branch."""
        porcelain.checkout(self.repo, name)

    def tag(self, name: str, revision: str | None = None) -> None:
        """A lightweight tag at ``revision`` (default: HEAD)."""
        target = (revision or self.head()).encode("ascii")
        self.repo.refs[b"refs/tags/" + name.encode("utf-8")] = target

    def publish(self, target: Path) -> Path:
        """Copy this repository's objects, branches and tags into the bare
        repository at ``target``, making it first if it does not exist; its
        HEAD then names the branch checked out here."""
        if target.exists():
            bare = Repo(str(target))
        else:
            target.mkdir(parents=True)
            bare = Repo.init_bare(str(target), default_branch=DEFAULT_BRANCH)
        try:
            store = self.repo.object_store
            for sha in store:
                bare.object_store.add_object(store[sha])
            for name, value in self.repo.refs.as_dict().items():
                if name.startswith((b"refs/heads/", b"refs/tags/")):
                    bare.refs[name] = value
            head = self.repo.refs.get_symrefs().get(b"HEAD")
            if head is not None:
                bare.refs.set_symbolic_ref(b"HEAD", head)
        finally:
            bare.close()
        return target
