"""URLs that answers show: clone URLs and pull request pages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

DEFAULT_CLONE_URI_TEMPLATE = "{scheme}://{user}@{netloc}/{repo}"

_UNSAFE_IN_SLUG = re.compile(r"[^-a-zA-Z0-9./]+")


def clone_url(template: str, site_url: str, repo_name: str, repo_id: int) -> str:
    """A repository's clone URL from the ``clone_uri_tmpl`` setting.

    The placeholders are filled in as an anonymous clone URL has them: the
    user is empty, and the ``@`` it leaves before the host is dropped.
    """
    site = urlsplit(site_url)
    prefix = site.path.rstrip("/")
    values = {
        "scheme": site.scheme,
        "user": "",
        "netloc": site.netloc + prefix,
        "prefix": prefix,
        "repo": repo_name,
        "repoid": str(repo_id),
        "system_user": "",
        "hostname": site.hostname or "",
    }
    url = template or DEFAULT_CLONE_URI_TEMPLATE
    for name, value in values.items():
        url = url.replace("{" + name + "}", value)
    scheme, separator, rest = url.partition("://")
    if separator and rest.startswith("@"):
        url = f"{scheme}://{rest[1:]}"
    return url


def pull_request_path(
    target_repo: str, pr_id: int, title: str, org_branch: str, other_branch: str
) -> str:
    """The site-relative page of a pull request: the slug after ``/_/`` is
    the origin branch if it differs from the target's, else the title."""
    slug_source = org_branch if org_branch != other_branch else title
    slug = _UNSAFE_IN_SLUG.sub("_", slug_source).rstrip("_")
    return f"/{target_repo}/pull-request/{pr_id}/_/{slug}"
