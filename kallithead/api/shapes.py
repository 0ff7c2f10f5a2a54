"""The JSON shapes of API results (API-SPEC.md section 2)."""

from __future__ import annotations

import functools
import json
from typing import Any

from kallithead.api.encoding import dumps
from kallithead.api.urls import clone_url, pull_request_path
from kallithead.db.gists import GistRecord
from kallithead.db.pullrequests import PullRequestRecord
from kallithead.db.repogroups import RepoGroupRecord
from kallithead.db.repos import RepoRecord
from kallithead.db.usergroups import UserGroupRecord
from kallithead.db.users import UserRecord
from kallithead.formats import format_datetime, lock_time
from kallithead.vcs.summary import empty_summary


def user_object(user: UserRecord) -> dict[str, Any]:
    """The eight keys every user appears with (API-SPEC.md 2.2)."""
    return {
        "user_id": user.user_id,
        "username": user.username,
        "firstname": user.firstname,
        "lastname": user.lastname,
        "email": user.email,
        "emails": list(user.emails),
        "active": user.active,
        "admin": user.admin,
    }


def detailed_user_object(user: UserRecord) -> dict[str, Any]:
    """The user object with its keys and login data (DESIGN.md section 1).

    Only for an admin, or for the user itself.
    """
    shape = user_object(user)
    shape.update(
        api_key=user.api_key,
        api_keys=list(user.api_keys),
        ip_addresses=list(user.ip_addresses),
        last_login=user.last_login,
        extern_type=user.extern_type,
        extern_name=user.extern_name,
        ldap_dn=user.extern_name if user.extern_type == "ldap" else None,
    )
    return shape


def user_group_object(group: UserGroupRecord) -> dict[str, Any]:
    """A user group with its members (API-SPEC.md 2.4)."""
    return {
        "users_group_id": group.users_group_id,
        "group_name": group.group_name,
        "group_description": group.description,
        "active": group.active,
        "owner": group.owner,
        "members": [user_object(member) for member in group.members],
    }


def landing_rev(value: str | None) -> list[str | None]:
    """``"<type>:<rev>"`` as ``[type, rev]``; ``rev`` when no type is given.
    Anything after a second ``:`` is not shown, as in Kallithea."""
    if not value:
        return [None, None]
    parts = value.split(":")
    return [parts[0], parts[1]] if len(parts) > 1 else ["rev", value]


def repo_object(repo: RepoRecord) -> dict[str, Any]:
    """A repository (API-SPEC.md 2.5) with the 0.2 locking fields, then its
    custom fields if the setting shows them."""
    shape = _repo_fields(repo)
    shape["last_changeset"] = repo.changeset_cache or empty_summary()
    shape.update(_custom_keys(repo))
    return shape


def repo_fragment(repo: RepoRecord) -> bytes:
    """The repository object already encoded, its stored ``last_changeset``
    spliced in as it is (no decoding and encoding again); the same keys in
    the same order as ``repo_object``."""
    encoded = json.dumps(_repo_fields(repo)).encode()
    last = repo.changeset_json.encode() if repo.changeset_json else _empty_summary()
    tail = b"}"
    if repo.custom_fields:
        # The custom keys' object without its opening brace, after a comma.
        tail = b", " + json.dumps(_custom_keys(repo)).encode()[1:]
    return encoded[:-1] + b', "last_changeset": ' + last + tail


def _custom_keys(repo: RepoRecord) -> dict[str, str]:
    """The custom fields as Kallithea names them in a repository object:
    after every standard key, each one ``ex_`` and its key."""
    return {"ex_" + key: value for key, value in repo.custom_fields}


@functools.cache
def _empty_summary() -> bytes:
    return dumps(empty_summary())


def _repo_fields(repo: RepoRecord) -> dict[str, Any]:
    return {
        "repo_id": repo.repo_id,
        "repo_name": repo.repo_name,
        "repo_type": repo.repo_type,
        "clone_uri": repo.clone_uri,
        "private": repo.private,
        "created_on": format_datetime(repo.created_on),
        "description": repo.description,
        "landing_rev": landing_rev(repo.landing_rev),
        "owner": repo.owner,
        "fork_of": repo.fork_of,
        "enable_statistics": repo.enable_statistics,
        "enable_downloads": repo.enable_downloads,
        "enable_locking": repo.enable_locking,
        "locked_by": user_object(repo.locked_by) if repo.locked_by else None,
        "locked_date": (
            format_datetime(lock_time(repo.locked_since))
            if repo.locked_since is not None
            else None
        ),
    }


def _ref_name(ref: str) -> str:
    parts = ref.split(":")
    return parts[1] if len(parts) > 1 else ""


def pull_request_object(
    pr: PullRequestRecord, clone_uri_template: str, site_url: str
) -> dict[str, Any]:
    """A pull request as get_pullrequest and get_repo show it (API-SPEC.md
    3.48); ``site_url`` is scheme://host of the request."""
    return {
        "pull_request_id": pr.pull_request_id,
        "url": pull_request_path(
            pr.other_repo_name,
            pr.pull_request_id,
            pr.title,
            _ref_name(pr.org_ref),
            _ref_name(pr.other_ref),
        ),
        "reviewers": [{"username": name} for _, name in pr.reviewers],
        "revisions": list(pr.revisions),
        "owner": pr.owner,
        "title": pr.title,
        "description": pr.description,
        "org_repo_url": clone_url(
            clone_uri_template, site_url, pr.org_repo_name, pr.org_repo_id
        ),
        "org_ref_parts": pr.org_ref.split(":"),
        "other_ref_parts": pr.other_ref.split(":"),
        "status": pr.status,
        "comments": [
            {"comment_id": c.comment_id, "username": c.username, "text": c.text}
            for c in pr.comments
        ],
        "statuses": [
            {
                "status": vote.status,
                "reviewer": vote.reviewer,
                "modified_at": format_datetime(vote.modified_at.replace(microsecond=0)),
            }
            for vote in pr.votes
        ],
    }


def repo_group_object(group: RepoGroupRecord) -> dict[str, Any]:
    """A repository group (API-SPEC.md 2.6)."""
    return {
        "group_id": group.group_id,
        "group_name": group.group_name,
        "group_description": group.description,
        "parent_group": group.parent_name,
        "repositories": list(group.repositories),
        "owner": group.owner,
    }


def gist_object(gist: GistRecord, url: str) -> dict[str, Any]:
    """A gist (API-SPEC.md 2.8); ``url`` is where it is shown."""
    return {
        "gist_id": gist.gist_id,
        "type": gist.gist_type,
        "access_id": gist.access_id,
        "description": gist.description,
        "url": url,
        "expires": gist.expires,
        "created_on": format_datetime(gist.created_on),
    }
