"""The Kallithea JSON-RPC API: envelope, method registry and the methods.

Importing this package registers every method in ``registry``.
"""

from kallithead.api import server, usergroups, users
from kallithead.api.registry import registry

__all__ = ["registry", "server", "usergroups", "users"]
