"""Execution leases: one process runs an execution at a time.

The holder renews its lease well before it expires; another process may take the execution
over only once the lease has expired (or, on the same host, once the holder's process is
gone). A holder that fails to renew in time stops at once without writing anything more.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from baton.errors import UsageError
from baton.store.protocol import ExecutionStore


class LeaseHeldError(UsageError):
    """Another live process is running the execution."""


def new_owner_id() -> str:
    """``host:pid:random``: unique per process, and tells which host and process hold it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead_here(owner: str) -> bool:
    """True if `owner` names a process on this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    return False


class Lease:
    """The lease on one execution held by this process."""

    def __init__(self, store: ExecutionStore, execution_id: str, owner: str, ttl_s: float) -> None:
        self._store = store
        self._execution_id = execution_id
        self._owner = owner
        self._ttl_s = ttl_s
        self._renewed = 0.0
        self.lost = False
        """Set when renewal failed: another process may hold the execution now."""

    async def acquire(self, take_over_from: str | None = None) -> None:
        """Take the lease, or raise `LeaseHeldError`."""
        if await self._store.acquire_lease(
            self._execution_id, self._owner, self._ttl_s, take_from=take_over_from
        ):
            self._renewed = time.monotonic()
            return
        record = await self._store.get_execution(self._execution_id)
        raise LeaseHeldError(
            f"execution {self._execution_id} is being run by another process "
            f"({record.lease_owner}, lease valid until {record.lease_expires_at})",
            hint="wait for it to finish, or `baton cancel` it; if that process died, "
            "the execution can be resumed once its lease expires",
        )

    async def keep(self) -> bool:
        """Renew when a third of the lease has passed; False once the lease is lost."""
        if time.monotonic() - self._renewed < self._ttl_s / 3:
            return True
        if await self._store.renew_lease(self._execution_id, self._owner, self._ttl_s):
            self._renewed = time.monotonic()
            return True
        self.lost = True
        return False

    async def release(self) -> None:
        """Give the lease up."""
        await self._store.release_lease(self._execution_id, self._owner)
