"""`SharedContext`: the context store as one agent sees it (what ``ctx.context`` will be).

It binds a `ContextStore` to one execution of one workspace, so an agent says
``await ctx.context.set("draft", {...})`` and cannot reach another execution's keys.
``ctx.context.workspace`` is the same API on the workspace-wide scope, shared by every
execution of the workspace.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from baton.errors import UsageError
from baton.store.context import ContextScope, ContextStore, Entry

__all__ = ["LockFactory", "SharedContext"]

LockFactory = Callable[[str, float], AbstractAsyncContextManager[Any]]
"""Holds the lease lock of a resource name for a block (the executor passes the resource
locks of `baton.safety.locks`, so context keys and step resources share one lock space)."""


class SharedContext:
    """Key-value entries of one scope: JSON values, TTL, compare-and-set, secrets."""

    def __init__(
        self,
        store: ContextStore,
        *,
        workspace_id: str,
        execution_id: str | None,
        locks: LockFactory | None = None,
    ) -> None:
        """Bind `store` to an execution of a workspace (``execution_id=None``: the workspace)."""
        self._store = store
        self._scope = ContextScope(workspace_id=workspace_id, execution_id=execution_id)
        self._locks = locks

    def lock(self, key: str, ttl_s: float = 30.0) -> AbstractAsyncContextManager[Any]:
        """Hold the lease lock of `key` while a block runs.

        For read-modify-write sequences longer than one compare-and-set.

        Raises:
            UsageError: no lock service is configured.
        """
        if self._locks is None:
            raise UsageError("context locks need a lock service; none is configured")
        scope = self._scope.execution_id or "workspace"
        return self._locks(f"context:{self._scope.workspace_id}/{scope}/{key}", ttl_s)

    @property
    def scope(self) -> ContextScope:
        """Where this context's entries live."""
        return self._scope

    @property
    def workspace(self) -> SharedContext:
        """The workspace-wide context (shared by every execution of the workspace)."""
        return SharedContext(
            self._store, workspace_id=self._scope.workspace_id, execution_id=None, locks=self._locks
        )

    async def get(self, key: str) -> Entry | None:
        """The live entry at `key` (value and version), or None."""
        return await self._store.get(self._scope, key)

    async def value(self, key: str, default: Any = None) -> Any:
        """The value at `key`, or `default` when there is none (or it expired)."""
        entry = await self._store.get(self._scope, key)
        return default if entry is None else entry.value

    async def set(
        self, key: str, value: Any, *, ttl_s: float | None = None, secret: bool = False
    ) -> Entry:
        """Write a JSON `value` (sealed in the vault, never stored in clear, if `secret`).

        Raises:
            UsageError: the value is not JSON, or the key or ttl is invalid.
        """
        return await self._store.set(self._scope, key, value, ttl_s=ttl_s, secret=secret)

    async def compare_and_set(
        self,
        key: str,
        value: Any,
        *,
        expected_version: int | None,
        ttl_s: float | None = None,
        secret: bool = False,
    ) -> Entry | None:
        """Write only if the entry is at `expected_version` (None: absent); None if not."""
        return await self._store.compare_and_set(
            self._scope, key, value, expected_version=expected_version, ttl_s=ttl_s, secret=secret
        )

    async def delete(self, key: str) -> bool:
        """Remove `key`; return whether it was there."""
        return await self._store.delete(self._scope, key)

    async def keys(self, prefix: str = "") -> list[str]:
        """Keys starting with `prefix`, sorted."""
        return await self._store.keys(self._scope, prefix)
