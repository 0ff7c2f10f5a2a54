"""The permission catalogue and the rules that combine permissions.

Permission names, their families and weights are Kallithea's (API-SPEC.md
2.7). The ids are fixed: the first migration inserts them, they match
Kallithea 0.7.0's table where the names exist there, and clients may name a
permission by id (API-SPEC.md 1.6).

How a user's effective permissions are computed lives in
``kallithead.auth.calculation``; this module only holds the vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

ADMIN = "hg.admin"

# (id, name, weight); a higher weight is stronger within a family.
CATALOGUE: tuple[tuple[int, str, int], ...] = (
    (1, "hg.admin", 0),
    (2, "repository.none", 0),
    (3, "repository.read", 1),
    (4, "repository.write", 3),
    (5, "repository.admin", 4),
    (6, "group.none", 0),
    (7, "group.read", 1),
    (8, "group.write", 3),
    (9, "group.admin", 4),
    (10, "usergroup.none", 0),
    (11, "usergroup.read", 1),
    (12, "usergroup.write", 3),
    (13, "usergroup.admin", 4),
    (14, "hg.usergroup.create.false", 0),
    (15, "hg.usergroup.create.true", 1),
    (16, "hg.create.none", 0),
    (17, "hg.create.repository", 1),
    (18, "hg.fork.none", 0),
    (19, "hg.fork.repository", 1),
    (20, "hg.register.none", 0),
    (21, "hg.register.manual_activate", 1),
    (22, "hg.register.auto_activate", 2),
    (23, "hg.extern_activate.manual", 0),
    (24, "hg.extern_activate.auto", 1),
    (25, "hg.repogroup.create.false", 0),
    (26, "hg.repogroup.create.true", 1),
    (27, "hg.create.write_on_repogroup.false", 0),
    (28, "hg.create.write_on_repogroup.true", 1),
)

NAME_BY_ID: dict[int, str] = {pid: name for pid, name, _ in CATALOGUE}
ID_BY_NAME: dict[str, int] = {name: pid for pid, name, _ in CATALOGUE}
WEIGHT: dict[str, int] = {name: weight for _, name, weight in CATALOGUE}

# What the `default` user holds on a new installation: the global defaults
# every user inherits. Kallithea 0.7.0 grants these seven (see the errata of
# API-SPEC.md: no hg.create.write_on_repogroup.true).
DEFAULT_GLOBAL_PERMISSIONS: tuple[str, ...] = (
    "repository.read",
    "group.read",
    "usergroup.read",
    "hg.create.repository",
    "hg.fork.repository",
    "hg.register.manual_activate",
    "hg.extern_activate.auto",
)


def family(name: str) -> str:
    """The family of a permission: its name up to the last dot."""
    return name.rpartition(".")[0]


def strongest_per_family(names: Iterable[str]) -> set[str]:
    """Keep, within each family, only the permission with the highest weight."""
    best: dict[str, str] = {}
    for name in names:
        key = family(name)
        current = best.get(key)
        if current is None or WEIGHT.get(name, 0) > WEIGHT.get(current, 0):
            best[key] = name
    return set(best.values())


def stronger(a: str | None, b: str) -> str:
    """The stronger of two permissions of the same family."""
    if a is None or WEIGHT.get(b, 0) > WEIGHT.get(a, 0):
        return b
    return a


@dataclass(frozen=True)
class PermissionSet:
    """A user's effective permissions, as ``get_user`` shows them."""

    global_permissions: frozenset[str]
    repositories: dict[str, str] = field(default_factory=dict)
    repository_groups: dict[str, str] = field(default_factory=dict)
    user_groups: dict[str, str] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.global_permissions

    def has_global(self, *names: str) -> bool:
        """Whether the user is an admin or holds any of ``names``."""
        return self.is_admin or any(n in self.global_permissions for n in names)

    def as_api(self) -> dict[str, object]:
        return {
            "global": sorted(self.global_permissions),
            "repositories": dict(self.repositories),
            "repositories_groups": dict(self.repository_groups),
            "user_groups": dict(self.user_groups),
        }
