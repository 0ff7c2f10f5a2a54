"""Pull requests over HTTP: get_pullrequest, comment_pullrequest and get_repo's
with_pullrequests (API-SPEC.md 3.22, 3.48, 3.49; acceptance T270-T276).

kallithead cannot open a pull request yet, so each test writes the rows the
way Kallithea left them for a pull request it opened (the pull request, its
reviewers, the owner's empty opening comment and one `under_review` vote by
the owner per revision) straight into the database, against a real
repository holding the standard history.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import defer

from kallithead.db import schema as t
from tests.test_repos import (
    KINDS,
    MAIN_BRANCH,
    RAW_IDS,
    create,
    journal,
    regular,
    rescanned,
)


@pytest.fixture(params=KINDS)
def kind(request: Any) -> str:
    return request.param


OPENED = datetime.datetime(2024, 1, 2, 9, 30, 15, 123456)
NOT_ALLOWED = "not allowed"
NO_COMMENT = (
    "No permission to add comment. User needs at least reading permissions"
    " to the source repository."
)
NO_CLOSE = "No permission to close pull request. User needs to be admin or owner."
NO_STATUS = (
    "No permission to change pull request status. User needs to be admin,"
    " owner or reviewer."
)
CLOSED = "pull request is already closed"


def user_id(engine: sa.Engine, username: str) -> int:
    with engine.connect() as c:
        return c.execute(
            sa.select(t.users.c.user_id).where(t.users.c.username == username)
        ).scalar_one()


def repo_id(engine: sa.Engine, name: str) -> int:
    with engine.connect() as c:
        return c.execute(
            sa.select(t.repositories.c.repo_id).where(
                t.repositories.c.repo_name == name
            )
        ).scalar_one()


def open_pull_request(
    engine: sa.Engine,
    *,
    origin: str,
    target: str,
    org_ref: str,
    other_ref: str,
    revisions: list[str],
    title: str = "get test",
    owner: str = "admin",
    reviewers: tuple[str, ...] = (),
    description: str = "No description",
) -> int:
    """Write a pull request as Kallithea records one it opens."""
    owner_id = user_id(engine, owner)
    org_id = repo_id(engine, origin)
    with engine.begin() as c:
        pr_id = c.execute(
            t.pull_requests.insert().values(
                title=title,
                description=description,
                status="new",
                created_on=OPENED,
                updated_on=OPENED,
                user_id=owner_id,
                revisions=":".join(revisions),
                org_repo_id=org_id,
                org_ref=org_ref,
                other_repo_id=repo_id(engine, target),
                other_ref=other_ref,
            )
        ).inserted_primary_key[0]
        for name in reviewers:
            c.execute(
                t.pull_request_reviewers.insert().values(
                    pull_request_id=pr_id, user_id=user_id(engine, name)
                )
            )
        comment_id = c.execute(
            t.changeset_comments.insert().values(
                repo_id=org_id,
                pull_request_id=pr_id,
                user_id=owner_id,
                text="",
                created_on=OPENED,
                modified_at=OPENED,
            )
        ).inserted_primary_key[0]
        for revision in revisions:
            c.execute(
                t.changeset_statuses.insert().values(
                    repo_id=org_id,
                    user_id=owner_id,
                    revision=revision,
                    status="under_review",
                    changeset_comment_id=comment_id,
                    modified_at=OPENED,
                    version=0,
                    pull_request_id=pr_id,
                )
            )
    return pr_id


def comment_ids(engine: sa.Engine, pr_id: int) -> list[int]:
    comments = t.changeset_comments
    with engine.connect() as c:
        return list(
            c.execute(
                sa.select(comments.c.comment_id)
                .where(comments.c.pull_request_id == pr_id)
                .order_by(comments.c.comment_id)
            ).scalars()
        )


def votes(engine: sa.Engine, pr_id: int) -> list[tuple[str, str, str, int]]:
    """(username, revision, status, version) of every vote, oldest first."""
    statuses = t.changeset_statuses
    with engine.connect() as c:
        rows = c.execute(
            sa.select(
                t.users.c.username,
                statuses.c.revision,
                statuses.c.status,
                statuses.c.version,
            )
            .join(t.users, t.users.c.user_id == statuses.c.user_id)
            .where(statuses.c.pull_request_id == pr_id)
            .order_by(statuses.c.changeset_status_id)
        )
        return [tuple(row) for row in rows]


async def key_of(server: Any, username: str) -> str:
    reply = await server.call("get_user", userid=username)
    return reply.result["api_key"]


def port_of(server: Any) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


async def stable_into_main(server: Any, engine: sa.Engine, kind: str, tmp_path: Path):
    """REPO with the standard history, and a pull request of its branch
    `stable` into its main branch; returns (pr id, revisions)."""
    await rescanned(server, kind, "REPO", tmp_path)
    await server.create_user("test_regular")
    ids = RAW_IDS[kind]
    pr_id = open_pull_request(
        engine,
        origin="REPO",
        target="REPO",
        org_ref=f"branch:stable:{ids[2]}",
        other_ref=f"branch:{MAIN_BRANCH[kind]}:{ids[1]}",
        revisions=[ids[2]],
        reviewers=("test_regular",),
    )
    return pr_id, [ids[2]]


# --- get_pullrequest (T270, T276) ----------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_pullrequest_shows_the_whole_object(server, engine, kind, tmp_path):
    pr_id, revisions = await stable_into_main(server, engine, kind, tmp_path)
    [comment_id] = comment_ids(engine, pr_id)
    reply = await server.call("get_pullrequest", pullrequest_id=pr_id)
    assert reply.error is None
    main = MAIN_BRANCH[kind]
    assert reply.result == {
        "pull_request_id": pr_id,
        "url": f"/REPO/pull-request/{pr_id}/_/stable",
        "reviewers": [{"username": "test_regular"}],
        "revisions": revisions,
        "owner": "admin",
        "title": "get test",
        "description": "No description",
        "org_repo_url": f"http://127.0.0.1:{port_of(server)}/REPO",
        "org_ref_parts": ["branch", "stable", RAW_IDS[kind][2]],
        "other_ref_parts": ["branch", main, RAW_IDS[kind][1]],
        "status": "new",
        "comments": [{"comment_id": comment_id, "username": "admin", "text": ""}],
        "statuses": [
            {
                "status": "under_review",
                "reviewer": "admin",
                "modified_at": "2024-01-02T09:30:15",
            }
        ],
    }


@pytest_twisted.ensureDeferred
async def test_get_pullrequest_accepts_the_id_as_a_string(
    server, engine, kind, tmp_path
):
    pr_id, _ = await stable_into_main(server, engine, kind, tmp_path)
    reply = await server.call("get_pullrequest", pullrequest_id=str(pr_id))
    assert reply.result["pull_request_id"] == pr_id


@pytest_twisted.ensureDeferred
async def test_the_slug_is_the_title_between_branches_of_one_name(
    server, engine, kind, tmp_path
):
    await rescanned(server, kind, "REPO", tmp_path)
    await create(server, "REPO-fork", kind)
    main = MAIN_BRANCH[kind]
    ids = RAW_IDS[kind]
    pr_id = open_pull_request(
        engine,
        origin="REPO",
        target="REPO-fork",
        org_ref=f"branch:{main}:{ids[1]}",
        other_ref=f"branch:{main}:{ids[0]}",
        revisions=[ids[1]],
        title="Fix: the über parser (part 2)!",
    )
    reply = await server.call("get_pullrequest", pullrequest_id=pr_id)
    assert reply.result["url"] == (
        f"/REPO-fork/pull-request/{pr_id}/_/Fix_the_ber_parser_part_2"
    )


@pytest_twisted.ensureDeferred
async def test_org_repo_url_follows_the_clone_uri_template(
    server, engine, kind, tmp_path
):
    pr_id, _ = await stable_into_main(server, engine, kind, tmp_path)
    settings = t.settings
    with engine.begin() as c:
        c.execute(
            settings.update()
            .where(settings.c.app_settings_name == "clone_uri_tmpl")
            .values(app_settings_value="{scheme}://{user}@{netloc}/_{repoid}")
        )
    reply = await server.call("get_pullrequest", pullrequest_id=pr_id)
    expected = f"http://127.0.0.1:{port_of(server)}/_{repo_id(engine, 'REPO')}"
    assert reply.result["org_repo_url"] == expected


@pytest_twisted.ensureDeferred
async def test_org_repo_url_uses_the_host_the_client_asked_for(
    server, engine, kind, tmp_path
):
    pr_id, _ = await stable_into_main(server, engine, kind, tmp_path)
    body = (
        b'{"id": 1, "api_key": "%s", "method": "get_pullrequest",'
        b' "args": {"pullrequest_id": %d}}' % (server.admin_key.encode(), pr_id)
    )
    reply = await server.post(body, headers={b"Host": [b"code.example.com"]})
    assert reply.document["result"]["org_repo_url"] == "http://code.example.com/REPO"


@pytest_twisted.ensureDeferred
async def test_get_pullrequest_of_an_unknown_id(server):
    for ident in (999999, "999999", "abc", -1):
        reply = await server.call("get_pullrequest", pullrequest_id=ident)
        assert reply.error == f"pull request `{ident}` does not exist"


@pytest_twisted.ensureDeferred
async def test_get_pullrequest_needs_read_on_the_origin(server, engine, kind, tmp_path):
    key = await regular(server, "reader")
    pr_id, _ = await stable_into_main(server, engine, kind, tmp_path)
    reply = await server.call("get_pullrequest", key=key, pullrequest_id=pr_id)
    assert reply.result["pull_request_id"] == pr_id
    await server.call(
        "grant_user_permission",
        repoid="REPO",
        userid="default",
        perm="repository.none",
    )
    reply = await server.call("get_pullrequest", key=key, pullrequest_id=pr_id)
    assert reply.error == NOT_ALLOWED


# --- get_repo with_pullrequests (T078) ------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_repo_lists_the_pull_requests_targeting_it(
    server, engine, kind, tmp_path
):
    into_repo, _ = await stable_into_main(server, engine, kind, tmp_path)
    await create(server, "other", kind)
    ids = RAW_IDS[kind]
    elsewhere = open_pull_request(
        engine,
        origin="REPO",
        target="other",
        org_ref=f"branch:stable:{ids[2]}",
        other_ref=f"branch:{MAIN_BRANCH[kind]}:{ids[0]}",
        revisions=[ids[2]],
        title="to other",
    )
    reply = await server.call("get_repo", repoid="REPO", with_pullrequests=True)
    expected = await server.call("get_pullrequest", pullrequest_id=into_repo)
    assert reply.result["pull_requests"] == [expected.result]
    reply = await server.call("get_repo", repoid="other", with_pullrequests=True)
    assert [pr["title"] for pr in reply.result["pull_requests"]] == ["to other"]
    assert reply.result["pull_requests"][0]["pull_request_id"] == elsewhere
    reply = await server.call("get_repo", repoid="REPO")
    assert "pull_requests" not in reply.result


# --- comment_pullrequest (T271-T275) -----------------------------------------------


@pytest_twisted.ensureDeferred
async def test_closing_a_pull_request(server, engine, kind, tmp_path):
    pr_id, _ = await stable_into_main(server, engine, kind, tmp_path)
    before = journal(engine)
    reply = await server.call(
        "comment_pullrequest", pull_request_id=pr_id, close_pr=True
    )
    assert (reply.error, reply.result) == (None, True)
    shown = (await server.call("get_pullrequest", pullrequest_id=pr_id)).result
    assert shown["status"] == "closed"
    assert [c["text"] for c in shown["comments"]] == ["", ""]
    assert journal(engine)[len(before) :] == [
        ("admin", "REPO", f"user_commented_pull_request:{pr_id}"),
        ("admin", "REPO", f"user_closed_pull_request:{pr_id}"),
    ]


@pytest_twisted.ensureDeferred
async def test_a_comment_is_added_last(server, engine, kind, tmp_path):
    pr_id, _ = await stable_into_main(server, engine, kind, tmp_path)
    reply = await server.call(
        "comment_pullrequest", pull_request_id=pr_id, comment_msg="Looks good to me"
    )
    assert reply.result is True
    shown = (await server.call("get_pullrequest", pullrequest_id=pr_id)).result
    assert shown["comments"][-1]["text"] == "Looks good to me"
    assert shown["comments"][-1]["username"] == "admin"
    assert shown["status"] == "new"
    assert journal(engine)[-1] == (
        "admin",
        "REPO",
        f"user_commented_pull_request:{pr_id}",
    )


@pytest_twisted.ensureDeferred
async def test_a_reviewers_vote_replaces_their_earlier_one(
    server, engine, kind, tmp_path
):
    pr_id, revisions = await stable_into_main(server, engine, kind, tmp_path)
    reviewer_key = await key_of(server, "test_regular")
    for status in ("rejected", "approved"):
        reply = await server.call(
            "comment_pullrequest",
            key=reviewer_key,
            pull_request_id=pr_id,
            status=status,
        )
        assert reply.result is True
    [revision] = revisions
    assert votes(engine, pr_id) == [
        ("admin", revision, "under_review", 0),
        ("test_regular", revision, "rejected", 1),
        ("test_regular", revision, "approved", 0),
    ]
    shown = (await server.call("get_pullrequest", pullrequest_id=pr_id)).result
    assert [(s["reviewer"], s["status"]) for s in shown["statuses"]] == [
        ("admin", "under_review"),
        ("test_regular", "rejected"),
        ("test_regular", "approved"),
    ]
    reviews = await server.call(
        "get_changeset", repoid="REPO", raw_id=revision, with_reviews=True
    )
    assert [(r["reviewer"], r["status"]) for r in reviews.result["reviews"]] == [
        ("admin", "under_review"),
        ("test_regular", "approved"),
    ]


@pytest_twisted.ensureDeferred
async def test_a_vote_covers_every_revision(server, engine, kind, tmp_path):
    await rescanned(server, kind, "REPO", tmp_path)
    ids = RAW_IDS[kind]
    pr_id = open_pull_request(
        engine,
        origin="REPO",
        target="REPO",
        org_ref=f"branch:stable:{ids[2]}",
        other_ref=f"branch:{MAIN_BRANCH[kind]}:{ids[0]}",
        revisions=[ids[2], ids[1]],
    )
    reply = await server.call(
        "comment_pullrequest", pull_request_id=pr_id, status="approved"
    )
    assert reply.result is True
    assert votes(engine, pr_id) == [
        ("admin", ids[2], "under_review", 1),
        ("admin", ids[1], "under_review", 1),
        ("admin", ids[2], "approved", 0),
        ("admin", ids[1], "approved", 0),
    ]


@pytest_twisted.ensureDeferred
async def test_only_admins_owners_and_reviewers_change_the_status(
    server, engine, kind, tmp_path
):
    pr_id, _ = await stable_into_main(server, engine, kind, tmp_path)
    bystander = await regular(server, "test_regular2")
    before = votes(engine, pr_id)
    reply = await server.call(
        "comment_pullrequest", key=bystander, pull_request_id=pr_id, status="approved"
    )
    assert reply.error == NO_STATUS
    assert votes(engine, pr_id) == before
    # A plain comment is fine for anyone who reads the origin.
    reply = await server.call(
        "comment_pullrequest", key=bystander, pull_request_id=pr_id, comment_msg="hi"
    )
    assert reply.result is True


@pytest_twisted.ensureDeferred
async def test_only_admins_and_the_owner_close(server, engine, kind, tmp_path):
    pr_id, _ = await stable_into_main(server, engine, kind, tmp_path)
    reviewer_key = await key_of(server, "test_regular")
    reply = await server.call(
        "comment_pullrequest", key=reviewer_key, pull_request_id=pr_id, close_pr=True
    )
    assert reply.error == NO_CLOSE
    owned = open_pull_request(
        engine,
        origin="REPO",
        target="REPO",
        org_ref="branch:stable:" + RAW_IDS[kind][2],
        other_ref=f"branch:{MAIN_BRANCH[kind]}:" + RAW_IDS[kind][1],
        revisions=[RAW_IDS[kind][2]],
        owner="test_regular",
    )
    reply = await server.call(
        "comment_pullrequest", key=reviewer_key, pull_request_id=owned, close_pr=True
    )
    assert reply.result is True
    shown = await server.call("get_pullrequest", pullrequest_id=owned)
    assert shown.result["status"] == "closed"


@pytest_twisted.ensureDeferred
async def test_a_closed_pull_request_takes_no_more_comments(
    server, engine, kind, tmp_path
):
    pr_id, _ = await stable_into_main(server, engine, kind, tmp_path)
    await server.call("comment_pullrequest", pull_request_id=pr_id, close_pr=True)
    count = len(comment_ids(engine, pr_id))
    reply = await server.call("comment_pullrequest", pull_request_id=pr_id)
    assert reply.error == CLOSED
    assert len(comment_ids(engine, pr_id)) == count


@pytest_twisted.ensureDeferred
async def test_comment_errors_come_in_the_documented_order(
    server, engine, kind, tmp_path
):
    pr_id, _ = await stable_into_main(server, engine, kind, tmp_path)
    await server.call("comment_pullrequest", pull_request_id=pr_id, close_pr=True)
    outsider = await regular(server, "outsider")
    reply = await server.call(
        "comment_pullrequest",
        key=outsider,
        pull_request_id=pr_id,
        close_pr=True,
        status="approved",
    )
    # Closed, not the owner, not a reviewer: the close check comes first.
    assert reply.error == NO_CLOSE
    reply = await server.call(
        "comment_pullrequest", key=outsider, pull_request_id=pr_id, status="approved"
    )
    assert reply.error == NO_STATUS
    reply = await server.call(
        "comment_pullrequest", key=outsider, pull_request_id=pr_id
    )
    assert reply.error == CLOSED
    await server.call(
        "grant_user_permission",
        repoid="REPO",
        userid="default",
        perm="repository.none",
    )
    reply = await server.call(
        "comment_pullrequest", key=outsider, pull_request_id=pr_id, close_pr=True
    )
    assert reply.error == NO_COMMENT
    reply = await server.call("comment_pullrequest", key=outsider, pull_request_id=0)
    assert reply.error == "pull request `0` does not exist"


@pytest_twisted.ensureDeferred
async def test_two_requests_racing_to_close_one_wins(server, engine, kind, tmp_path):
    pr_id, _ = await stable_into_main(server, engine, kind, tmp_path)
    count = len(comment_ids(engine, pr_id))
    replies = await defer.gatherResults(
        [
            defer.Deferred.fromCoroutine(
                server.call("comment_pullrequest", pull_request_id=pr_id, close_pr=True)
            )
            for _ in range(2)
        ]
    )
    outcomes = sorted((r.error or "", r.document["result"]) for r in replies)
    assert outcomes == [("", True), (CLOSED, None)]
    assert len(comment_ids(engine, pr_id)) == count + 1
    closings = [a for _, _, a in journal(engine) if a.startswith("user_closed")]
    assert closings == [f"user_closed_pull_request:{pr_id}"]


@pytest_twisted.ensureDeferred
async def test_comment_arguments_are_checked(server, engine, kind, tmp_path):
    pr_id, _ = await stable_into_main(server, engine, kind, tmp_path)
    reply = await server.call(
        "comment_pullrequest", pull_request_id=pr_id, comment_msg=5
    )
    assert reply.error.startswith("Invalid `comment_msg` arg in JSON DATA")
    reply = await server.call("comment_pullrequest")
    assert reply.error == "Missing non optional `pull_request_id` arg in JSON DATA"
