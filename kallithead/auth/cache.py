"""Answers about who may do what (and listings), remembered between requests.

Authenticating a key reads the database (the key's user, its IP whitelist,
its global permissions), and so does computing a user's permissions on every
object; remembering the answers saves that on later calls. Every change that
can alter an answer (users, keys, whitelists, permissions, group membership,
objects appearing, disappearing or being renamed) writes a new random *access
token* into the database in the same transaction and clears this process's
memory at once; other processes sharing the database notice the new token
when they next poll it (every ``[server] auth_cache_refresh`` seconds) and
clear theirs. A change made elsewhere is therefore seen here within one
polling interval; ``auth_cache_refresh = 0`` turns remembering off.

An answer read while a change was being committed must not be remembered:
each read notes the epoch before it starts, and its answer is kept only if
no clear happened meanwhile.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

NEVER = -1.0


@dataclass(frozen=True)
class _Entry(Generic[T]):
    value: T
    # Unix time after which the entry no longer holds; -1 for never.
    expires: float


class Memory(Generic[T]):
    """A bounded map, least recently used entries leaving first."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()

    def get(self, key: Hashable, now: float = 0.0) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires != NEVER and entry.expires < now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.value

    def _put(self, key: Hashable, value: T, expires: float) -> None:
        self._entries[key] = _Entry(value, expires)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class AccessMemory:
    """All remembered access answers, forgotten together."""

    def __init__(self, enabled: bool = True, max_entries: int = 10_000) -> None:
        self.enabled = enabled
        # Caller by API key.
        self.callers: Memory[Any] = Memory(max_entries)
        # (user record, permission set) by user id.
        self.users: Memory[Any] = Memory(max_entries)
        # Encoded listings (such as every repository object) by name.
        self.listings: Memory[Any] = Memory(16)
        # Objects looked up or shaped for answers, by a key of their kind.
        self.objects: Memory[Any] = Memory(max_entries)
        self.epoch = 0
        self.token: str | None = None

    def remember(
        self,
        memory: Memory[T],
        key: Hashable,
        value: T,
        epoch: int,
        expires: float = NEVER,
    ) -> None:
        """Keep ``value`` unless everything was forgotten since ``epoch``."""
        if self.enabled and epoch == self.epoch:
            memory._put(key, value, expires)

    def clear(self) -> None:
        self.callers.clear()
        self.users.clear()
        self.listings.clear()
        self.objects.clear()
        self.epoch += 1

    def saw_token(self, token: str | None) -> None:
        """Forget everything if the database's access token has changed."""
        if token != self.token:
            self.token = token
            self.clear()
