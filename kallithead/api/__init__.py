"""The Kallithea JSON-RPC API: envelope, method registry and the methods.

Importing this package registers every method in ``registry``.
"""

from kallithead.api import (
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
