"""The Kallithea JSON-RPC API: envelope, method registry and the methods.

Importing this package registers every method in ``registry``.
"""

from kallithead.api import (
    gists,
    pullrequests,
    repo_admin,
    repo_content,
    repo_groups,
    repo_perms,
    repos,
    server,
    usergroups,
    users,
)
from kallithead.api.registry import registry

__all__ = [
    "gists",
    "pullrequests",
    "registry",
    "repo_admin",
    "repo_content",
    "repo_groups",
    "repo_perms",
    "repos",
    "server",
    "usergroups",
    "users",
]
