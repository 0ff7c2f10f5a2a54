"""Pull requests, their reviewers, comments and review votes.

kallithead does not open pull requests itself yet; the rows come from a
Kallithea database it took over. The API reads them (``get_pullrequest``,
``get_repo`` with ``with_pullrequests``) and comments on them
(``comment_pullrequest``, API-SPEC.md 3.48, 3.49).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kallithead.db import schema as t
from kallithead.db.pool import Database
from kallithead.db.repos import add_journal
from kallithead.errors import Refused

STATUS_CLOSED = "closed"

prs = t.pull_requests
_origins = t.repositories.alias("origins")
_targets = t.repositories.alias("targets")


class PullRequestClosed(Refused):
    """The pull request was closed (perhaps by a request racing this one)."""


@dataclass(frozen=True)
class Comment:
    comment_id: int
    username: str
    text: str


@dataclass(frozen=True)
class Vote:
    status: str
    reviewer: str
    modified_at: datetime.datetime


@dataclass(frozen=True)
class PullRequestRecord:
    pull_request_id: int
    title: str
    description: str
    status: str
    owner_id: int
    owner: str
    revisions: tuple[str, ...]
    org_repo_id: int
    org_repo_name: str
    org_ref: str
    other_repo_id: int
    other_repo_name: str
    other_ref: str
    # Reviewers' user ids and names, in the order they were added.
    reviewers: tuple[tuple[int, str], ...]
    comments: tuple[Comment, ...]
    # Every vote on the pull request, current or not, oldest first.
    votes: tuple[Vote, ...]

    @property
    def is_closed(self) -> bool:
        return self.status == STATUS_CLOSED


_PR_QUERY = (
    sa.select(
        prs.c.pull_request_id,
        prs.c.title,
        prs.c.description,
        prs.c.status,
        prs.c.user_id,
        t.users.c.username,
        prs.c.revisions,
        prs.c.org_repo_id,
        _origins.c.repo_name,
        prs.c.org_ref,
        prs.c.other_repo_id,
        _targets.c.repo_name,
        prs.c.other_ref,
    )
    .select_from(prs)
    .join(t.users, t.users.c.user_id == prs.c.user_id)
    .join(_origins, _origins.c.repo_id == prs.c.org_repo_id)
    .join(_targets, _targets.c.repo_id == prs.c.other_repo_id)
)


def _attached(
    conn: Connection, table: sa.Table, ids: list[int], order: str, *columns: str
) -> Any:
    """The rows of ``table`` attached to the pull requests ``ids`` as
    (pull request id, the row's user's name, *columns), in ``order``."""
    return conn.execute(
        sa.select(
            table.c.pull_request_id,
            t.users.c.username,
            *(table.c[name] for name in columns),
        )
        .join(t.users, t.users.c.user_id == table.c.user_id)
        .where(table.c.pull_request_id.in_(ids))
        .order_by(table.c[order])
    )


def _records(conn: Connection, rows: Iterable[Any]) -> list[PullRequestRecord]:
    """Records for rows of _PR_QUERY: three more statements, however many."""
    rows = list(rows)
    ids = [row[0] for row in rows]
    if not ids:
        return []
    reviewers: dict[int, list[tuple[int, str]]] = defaultdict(list)
    comments: dict[int, list[Comment]] = defaultdict(list)
    votes: dict[int, list[Vote]] = defaultdict(list)

    for pr_id, username, user_id in _attached(
        conn, t.pull_request_reviewers, ids, "pull_requests_reviewers_id", "user_id"
    ):
        reviewers[pr_id].append((user_id, username))
    for pr_id, username, comment_id, text in _attached(
        conn, t.changeset_comments, ids, "comment_id", "comment_id", "text"
    ):
        comments[pr_id].append(Comment(comment_id, username, text))
    for pr_id, username, status, modified_at in _attached(
        conn, t.changeset_statuses, ids, "changeset_status_id", "status", "modified_at"
    ):
        votes[pr_id].append(Vote(status, username, modified_at))

    return [
        PullRequestRecord(
            pull_request_id=pr_id,
            title=title,
            description=description,
            status=status,
            owner_id=owner_id,
            owner=owner,
            revisions=tuple(r for r in (revisions or "").split(":") if r),
            org_repo_id=org_repo_id,
            org_repo_name=org_repo_name,
            org_ref=org_ref,
            other_repo_id=other_repo_id,
            other_repo_name=other_repo_name,
            other_ref=other_ref,
            reviewers=tuple(reviewers[pr_id]),
            comments=tuple(comments[pr_id]),
            votes=tuple(votes[pr_id]),
        )
        for (
            pr_id,
            title,
            description,
            status,
            owner_id,
            owner,
            revisions,
            org_repo_id,
            org_repo_name,
            org_ref,
            other_repo_id,
            other_repo_name,
            other_ref,
        ) in rows
    ]


def find_pull_request(conn: Connection, pr_id: int) -> PullRequestRecord | None:
    found = _records(
        conn, conn.execute(_PR_QUERY.where(prs.c.pull_request_id == pr_id))
    )
    return found[0] if found else None


def pull_requests_into(conn: Connection, repo_id: int) -> list[PullRequestRecord]:
    """The pull requests targeting a repository, oldest first."""
    return _records(
        conn,
        conn.execute(
            _PR_QUERY.where(prs.c.other_repo_id == repo_id).order_by(
                prs.c.pull_request_id
            )
        ),
    )


def add_comment(
    conn: Connection,
    pr: PullRequestRecord,
    user_id: int,
    username: str,
    address: str | None,
    text: str,
    status: str | None,
    close: bool,
) -> None:
    """One comment by ``user_id`` on the pull request, in its origin
    repository; with ``status``, a new current vote by the same user on
    each of its revisions; with ``close``, the pull request closed. The
    journal records the comment and the closing."""
    now = datetime.datetime.now()
    # Checked again here, holding the row: of two requests racing to close
    # (or to comment on a pull request being closed), the second one fails.
    still_open = conn.execute(
        prs.update()
        .where(
            prs.c.pull_request_id == pr.pull_request_id, prs.c.status != STATUS_CLOSED
        )
        .values(updated_on=now, status=STATUS_CLOSED if close else prs.c.status)
    ).rowcount
    if not still_open:
        raise PullRequestClosed()
    comment_id = conn.execute(
        t.changeset_comments.insert().values(
            repo_id=pr.org_repo_id,
            revision=None,
            pull_request_id=pr.pull_request_id,
            line_no=None,
            f_path=None,
            user_id=user_id,
            text=text,
            created_on=now,
            modified_at=now,
        )
    ).inserted_primary_key[0]
    if status is not None:
        statuses = t.changeset_statuses
        for revision in pr.revisions:
            # The user's earlier votes on this revision step back one version.
            conn.execute(
                statuses.update()
                .where(
                    statuses.c.repo_id == pr.org_repo_id,
                    statuses.c.revision == revision,
                    statuses.c.user_id == user_id,
                )
                .values(version=statuses.c.version + 1)
            )
            conn.execute(
                statuses.insert().values(
                    repo_id=pr.org_repo_id,
                    user_id=user_id,
                    revision=revision,
                    status=status,
                    changeset_comment_id=comment_id,
                    modified_at=now,
                    version=0,
                    pull_request_id=pr.pull_request_id,
                )
            )
    add_journal(
        conn,
        user_id,
        username,
        pr.org_repo_id,
        pr.org_repo_name,
        address,
        f"user_commented_pull_request:{pr.pull_request_id}",
    )
    if close:
        add_journal(
            conn,
            user_id,
            username,
            pr.org_repo_id,
            pr.org_repo_name,
            address,
            f"user_closed_pull_request:{pr.pull_request_id}",
        )


class PullRequestStore:
    """Asynchronous access to pull request rows."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(self, pr_id: int) -> PullRequestRecord | None:
        return await self._db.run("find_pull_request", find_pull_request, pr_id)

    async def into(self, repo_id: int) -> list[PullRequestRecord]:
        return await self._db.run("pull_requests_into", pull_requests_into, repo_id)

    async def comment(
        self,
        pr: PullRequestRecord,
        user_id: int,
        username: str,
        address: str | None,
        text: str,
        status: str | None,
        close: bool,
    ) -> None:
        await self._db.run_in_transaction(
            "comment_pull_request",
            add_comment,
            pr,
            user_id,
            username,
            address,
            text,
            status,
            close,
        )
