"""Read-through caches for rows that nearly every update reads and few updates write.

Residents, officers, closures and upcoming events are read on almost every update; a trip to
aiosqlite's worker thread costs about as much as python-telegram-bot's whole handling of an echo
update. The bot process is the database's only writer (one poller per token), and every write
goes through a repository, which reports it with `Database.changed` once it is committed. The
caches listen for those reports.

A read that started before a write must not put its (old) rows into the cache after the write's
report: every invalidation bumps a generation, and `get_or_load` stores a loaded value only if
no invalidation happened while it was loading.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from enum import Enum
from typing import Generic, Literal, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Miss(Enum):
    """Marks a key that is not cached (a cached value may itself be None)."""

    MISS = 0


MISS: Literal[_Miss.MISS] = _Miss.MISS


class ReadCache(Generic[K, V]):
    """A bounded least-recently-used map with invalidation by key or in full."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        # Keyed by object, not K: invalidations arrive as the untyped keys of write reports.
        self._entries: OrderedDict[object, V] = OrderedDict()
        self._generation = 0

    def __len__(self) -> int:
        """How many entries are cached."""
        return len(self._entries)

    def peek(self, key: K) -> V | Literal[_Miss.MISS]:
        """The cached value, or MISS; marks it as recently used."""
        value = self._entries.get(key, MISS)
        if value is not MISS:
            self._entries.move_to_end(key)
        return value

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, else `load()` (kept unless a write was reported meanwhile)."""
        value = self.peek(key)
        if value is not MISS:
            return value
        generation = self._generation
        loaded = await load()
        if generation == self._generation:
            self._store(key, loaded)
        return loaded

    async def write_through(self, key: K, write: Callable[[], Awaitable[V]]) -> V:
        """Run a write that returns the key's new value, and cache that value.

        Only if no other write was reported while this one ran: their order is unknown here,
        so the entry is dropped instead (the next read loads whichever committed last).
        """
        generation = self._generation
        try:
            value = await write()
        except BaseException:
            self.invalidate(key)
            raise
        if generation != self._generation:
            self.invalidate(key)
            return value
        # Loads that started before this write must not replace its value with an older one.
        self._generation += 1
        self._store(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        """Keep a value read inside a committed write, right after its report.

        Only without an await since the write's report: then no later write can have been
        reported, and loads that started earlier see the report's new generation and drop theirs.
        """
        self._store(key, value)

    def _store(self, key: K, value: V) -> None:
        """Keep the value as the most recent entry, dropping the least recent beyond capacity."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def invalidate(self, key: object | None = None) -> None:
        """Forget one key (None: everything); loads in flight will not be stored."""
        self._generation += 1
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)


Listener = Callable[[object | None], None]
