"""The smart cache's store: step outputs kept by a key over what produced them.

An entry is one cacheable step's output, under a SHA-256 key over the workspace, the agent,
its schemas and the step's resolved inputs (see `baton.core.caching.cache_key`); it expires at
``expires_at``. Reading an entry counts a hit on it, so `stats` can say which agents the
cache saves work for.

The SQL implementation is `baton.store.sql.result_cache.SqlResultCacheStore`; every
implementation passes ``tests/store/test_result_cache_store.py``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

__all__ = [
    "AgentCacheStats",
    "CacheEntry",
    "CacheStats",
    "MemoryResultCacheStore",
    "ResultCacheStore",
    "stats_of",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheEntry:
    """One cached step output."""

    workspace_id: str
    """The tenant whose execution produced it (entries are never shared across tenants)."""
    agent: str
    """The agent that produced it."""
    output: dict[str, Any]
    """The agent's output, as JSON data."""
    created_at: datetime
    """When it was (last) put."""
    expires_at: datetime
    """From this moment on it is no longer used."""
    hits: int = 0
    """Times it was used instead of running the agent."""
    last_hit_at: datetime | None = None
    """When it was last used."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentCacheStats:
    """One agent's part of a workspace's cache."""

    entries: int
    hits: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheStats:
    """What a workspace's cache holds (expired entries not yet purged included)."""

    entries: int = 0
    hits: int = 0
    """Hits on the entries still kept."""
    by_agent: dict[str, AgentCacheStats] = field(default_factory=dict[str, AgentCacheStats])


class ResultCacheStore(Protocol):
    """Where cached step outputs are kept, by key."""

    async def get(self, key: str, now: datetime) -> dict[str, Any] | None:
        """The output under `key`, counting a hit; None when there is none or it expired."""
        ...

    async def put(self, key: str, entry: CacheEntry) -> None:
        """Keep `entry` under `key`, replacing any entry there (its hits start afresh)."""
        ...

    async def purge_expired(self, now: datetime) -> int:
        """Drop every entry expired by `now` (all workspaces); how many were dropped."""
        ...

    async def clear(self, workspace_id: str, agent: str | None = None) -> int:
        """Drop the workspace's entries (only `agent`'s when given); how many were dropped."""
        ...

    async def stats(self, workspace_id: str) -> CacheStats:
        """Entries and hits of the workspace, in all and per agent."""
        ...


class MemoryResultCacheStore:
    """`ResultCacheStore` in this process's memory."""

    def __init__(self) -> None:
        """Start empty."""
        self._entries: dict[str, CacheEntry] = {}

    async def get(self, key: str, now: datetime) -> dict[str, Any] | None:
        """See `ResultCacheStore.get`."""
        entry = self._entries.get(key)
        if entry is None or entry.expires_at <= now:
            return None
        self._entries[key] = replace(entry, hits=entry.hits + 1, last_hit_at=now)
        # A copy, as a database would give: a reader changing it must not change the entry.
        return copy.deepcopy(entry.output)

    async def put(self, key: str, entry: CacheEntry) -> None:
        """See `ResultCacheStore.put`."""
        self._entries[key] = replace(entry, output=copy.deepcopy(entry.output))

    async def purge_expired(self, now: datetime) -> int:
        """See `ResultCacheStore.purge_expired`."""
        expired = [k for k, e in self._entries.items() if e.expires_at <= now]
        for key in expired:
            del self._entries[key]
        return len(expired)

    async def clear(self, workspace_id: str, agent: str | None = None) -> int:
        """See `ResultCacheStore.clear`."""
        gone = [
            k
            for k, e in self._entries.items()
            if e.workspace_id == workspace_id and (agent is None or e.agent == agent)
        ]
        for key in gone:
            del self._entries[key]
        return len(gone)

    async def stats(self, workspace_id: str) -> CacheStats:
        """See `ResultCacheStore.stats`."""
        counts: dict[str, tuple[int, int]] = {}
        for e in self._entries.values():
            if e.workspace_id == workspace_id:
                entries, hits = counts.get(e.agent, (0, 0))
                counts[e.agent] = (entries + 1, hits + e.hits)
        return stats_of(counts)


def stats_of(counts: dict[str, tuple[int, int]]) -> CacheStats:
    """`CacheStats` from (entries, hits) per agent (each store counts its own way)."""
    by_agent = {a: AgentCacheStats(entries=n, hits=h) for a, (n, h) in sorted(counts.items())}
    return CacheStats(
        entries=sum(s.entries for s in by_agent.values()),
        hits=sum(s.hits for s in by_agent.values()),
        by_agent=by_agent,
    )
