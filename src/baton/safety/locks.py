"""The Conflict Resolver's resource locks: hold several resources for the length of a block.

``async with locks.hold(["calendar:dana@x.com", "file:q3.md"], owner, ttl_s) as held:``
takes every resource's lock, renews them in the background while the block runs, and
releases them however the block ends (success, failure, cancellation). The block writes
through protected stores with ``held.token(resource)``, which they check with
`LockStore.check_fence`, so a holder paused past its lease cannot write.

No deadlock: every holder takes its resources in one global order (sorted), so no two
holders ever wait on each other in a cycle. A lock held by a dead process frees itself when
its lease expires. Waiting is bounded: past the timeout `hold` raises `LockTimeoutError`.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import MappingProxyType

import anyio

from baton.errors import BatonError, RunError, StoreError, UsageError
from baton.store.locks import Lease, LockStore

__all__ = ["HeldLocks", "LockLostError", "LockTimeoutError", "ResourceLocks"]


class LockTimeoutError(RunError):
    """Another holder kept a resource longer than the caller would wait. Retryable."""

    retryable = True

    def __init__(self, resource: str, *, holder: str | None, waited_s: float) -> None:
        by = f" (held by {holder})" if holder else ""
        super().__init__(
            f"gave up after {waited_s:g}s waiting for the lock on {resource!r}{by}",
            hint="another step writes the same resource; try again once it has finished",
        )
        self.resource = resource
        """The resource that stayed locked."""
        self.holder = holder
        """Its holder when we gave up, if it was still held."""


class LockLostError(RunError):
    """A held lock could not be renewed (it expired or was taken); the block was stopped."""

    retryable = True

    def __init__(self, resource: str) -> None:
        super().__init__(
            f"lost the lock on {resource!r} before the work holding it finished",
            hint="the lease expired before it could be renewed (a long pause or a store outage)",
        )
        self.resource = resource
        """The resource whose lease was lost."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldLocks:
    """What a `ResourceLocks.hold` block holds."""

    owner: str
    """The owner the locks were taken for."""
    tokens: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Fencing token of each resource held, in acquisition (sorted) order."""

    def token(self, resource: str) -> int:
        """The fencing token to present when writing `resource`.

        Raises:
            UsageError: `resource` is not held by this block.
        """
        try:
            return self.tokens[resource]
        except KeyError:
            raise UsageError(
                f"{resource!r} is not locked by this block (it holds {sorted(self.tokens)})",
                hint="declare every resource a step writes",
            ) from None


@dataclass(slots=True)
class _Holding:
    """Leases taken so far by one `hold`, kept current by its renewer."""

    leases: dict[str, Lease] = field(default_factory=lambda: {})
    lost: str | None = None


class ResourceLocks:
    """Takes, renews and releases resource locks in a `LockStore`."""

    def __init__(
        self,
        store: LockStore,
        *,
        timeout_s: float = 60.0,
        poll_s: float = 0.02,
        max_poll_s: float = 1.0,
        release_timeout_s: float = 10.0,
    ) -> None:
        """Use `store`.

        Args:
            store: Where the locks live (memory, or a database shared by processes).
            timeout_s: How long `hold` waits for a busy resource by default.
            poll_s: First pause between attempts on a busy resource; it doubles from there.
            max_poll_s: Longest pause between attempts.
            release_timeout_s: How long releasing may take before giving up (the leases
                then expire on their own).
        """
        self._store = store
        self._timeout_s = timeout_s
        self._poll_s = poll_s
        self._max_poll_s = max_poll_s
        self._release_timeout_s = release_timeout_s

    async def still_held(self, resource: str, token: int) -> bool:
        """Whether `token` is still the current, unexpired token of `resource`."""
        return await self._store.check_fence(resource, token)

    @asynccontextmanager
    async def hold(
        self,
        resources: Iterable[str],
        owner: str,
        ttl_s: float = 30.0,
        *,
        timeout_s: float | None = None,
    ) -> AsyncIterator[HeldLocks]:
        """Hold every resource's lock while the block runs.

        Args:
            resources: What the block writes; duplicates are ignored.
            owner: Who holds them; unique per holder (e.g. execution, step and attempt):
                two blocks with one owner would take each other's locks.
            ttl_s: Lease length; leases are renewed every third of it.
            timeout_s: How long to wait for busy resources, in all (default: the service's).

        Raises:
            LockTimeoutError: a resource stayed busy past the timeout.
            LockLostError: a lease could not be renewed; the block was cancelled.
        """
        ordered = sorted(set(resources))
        wait_s = self._timeout_s if timeout_s is None else timeout_s
        holding = _Holding()
        body_done = False
        failure: Exception | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._renew, holding, ttl_s, tg.cancel_scope)
                try:
                    await self._acquire_all(ordered, owner, ttl_s, wait_s, holding)
                    tokens = {r: lease.token for r, lease in holding.leases.items()}
                    yield HeldLocks(owner=owner, tokens=MappingProxyType(tokens))
                    body_done = True
                except Exception as exc:
                    # Re-raised below, outside the group: the caller sees it unwrapped,
                    # not inside an ExceptionGroup.
                    failure = exc
                tg.cancel_scope.cancel()  # stop the renewer
            if failure is not None:
                raise failure
            if holding.lost is not None and not body_done:
                raise LockLostError(holding.lost)
        finally:
            await self._release_all(holding)

    async def _acquire_all(
        self, ordered: list[str], owner: str, ttl_s: float, wait_s: float, holding: _Holding
    ) -> None:
        deadline = anyio.current_time() + wait_s
        for resource in ordered:
            holding.leases[resource] = await self._acquire(
                resource, owner, ttl_s, deadline=deadline, wait_s=wait_s
            )

    async def _acquire(
        self, resource: str, owner: str, ttl_s: float, *, deadline: float, wait_s: float
    ) -> Lease:
        delay = self._poll_s
        while True:
            lease = await self._store.acquire(resource, owner, ttl_s)
            if lease is not None:
                return lease
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                holder = await self._store.holder(resource)
                raise LockTimeoutError(
                    resource, holder=holder.owner if holder else None, waited_s=wait_s
                )
            # Jitter spreads waiters out so they do not all retry at the same instant.
            await anyio.sleep(min(delay * random.uniform(0.5, 1.0), remaining))
            delay = min(delay * 2, self._max_poll_s)

    async def _renew(self, holding: _Holding, ttl_s: float, scope: anyio.CancelScope) -> None:
        interval = ttl_s / 3
        while True:
            await anyio.sleep(interval)
            for resource, lease in list(holding.leases.items()):
                try:
                    renewed = await self._store.renew(lease, ttl_s)
                except StoreError as exc:
                    if exc.retryable:
                        continue  # try again next round; the lease has two thirds left
                    renewed = None
                if renewed is None:
                    holding.lost = resource
                    scope.cancel()
                    return
                holding.leases[resource] = renewed

    async def _release_all(self, holding: _Holding) -> None:
        # Shielded: a cancelled block must still free its locks. Bounded: expiry is the
        # fallback when the store is unreachable.
        with anyio.CancelScope(shield=True) as scope:
            scope.deadline = anyio.current_time() + self._release_timeout_s
            for lease in reversed(holding.leases.values()):
                # A failing store: the lease then expires on its own.
                with contextlib.suppress(BatonError):
                    await self._store.release(lease)
