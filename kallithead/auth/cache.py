"""Callers by API key, remembered between requests.

Authenticating reads the database (the key's user, its IP whitelist, its
global permissions); remembering the answer saves that on every later call
with the same key. Every change that can alter an answer writes a new random
*auth token* into the database in the same transaction, and clears this
process's cache at once; other processes sharing the database notice the new
token when they next poll it (every ``[server] auth_cache_refresh`` seconds)
and clear theirs. A change made elsewhere is therefore seen here within one
polling interval; ``auth_cache_refresh = 0`` turns the cache off.

An answer read while a change was being committed must not be remembered:
each read notes the cache's epoch before it starts and its answer is kept
only if no clear happened meanwhile.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class _Entry(Generic[T]):
    value: T
    # Unix time after which the key stops working; -1 for never.
    expires: float


class CallerCache(Generic[T]):
    def __init__(self, enabled: bool = True, max_entries: int = 10_000) -> None:
        self.enabled = enabled
        self._max_entries = max_entries
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()
        self.epoch = 0
        self.token: str | None = None

    def get(self, key: str, now: float) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires != -1 and entry.expires < now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: str, value: T, expires: float, epoch: int) -> None:
        """Remember ``value`` unless the cache was cleared since ``epoch``."""
        if not self.enabled or epoch != self.epoch:
            return
        self._entries[key] = _Entry(value, expires)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self.epoch += 1

    def saw_token(self, token: str | None) -> None:
        """Clear the cache if the database's auth token has changed."""
        if token != self.token:
            self.token = token
            self.clear()

    def __len__(self) -> int:
        return len(self._entries)
