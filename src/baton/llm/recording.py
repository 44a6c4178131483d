"""`StoreObserver`: model calls made for an execution go to the `ModelCallStore`.

`ModelCallObserver.on_call` is synchronous (it is told in the middle of a model run), so
calls are queued here and written in batches by `run` (a background task for the life of
the engine) or by `flush` (at the end of a planning session or a step, and on shutdown).
"""

from __future__ import annotations

import logging

import anyio

from baton.store.model_calls import ModelCall, ModelCallStore

__all__ = ["StoreObserver"]

logger = logging.getLogger("baton.llm")


class StoreObserver:
    """Queues the calls that have an ``execution_id`` and writes them to a store."""

    def __init__(self, store: ModelCallStore, *, max_pending: int = 10_000) -> None:
        """Write to `store`, holding at most `max_pending` calls (more are dropped, counted)."""
        self.store = store
        self.max_pending = max_pending
        self.dropped = 0
        """Calls dropped because the queue was full (the store could not keep up)."""
        self._pending: list[ModelCall] = []
        self._wake = anyio.Event()

    def on_call(self, call: ModelCall) -> None:
        """Queue `call` if it belongs to an execution (planning before one exists does not)."""
        if call.execution_id is None:
            return
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return
        self._pending.append(call)
        self._wake.set()

    @property
    def pending(self) -> int:
        """Calls queued and not yet written."""
        return len(self._pending)

    async def flush(self) -> int:
        """Write every queued call now; returns how many.

        Raises:
            StoreError: the store failed (the calls stay queued for the next flush).
        """
        batch, self._pending = self._pending, []
        if not batch:
            return 0
        try:
            await self.store.add_many(batch)
        except BaseException:
            self._pending[:0] = batch
            raise
        return len(batch)

    async def run(self, *, interval_s: float = 1.0) -> None:
        """Write queued calls as they come, at most every `interval_s`, until cancelled."""
        try:
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                try:
                    await self.flush()
                except Exception:
                    logger.exception("could not record model calls; retrying")
                await anyio.sleep(interval_s)
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await self.flush()
                except Exception:
                    logger.exception("could not record model calls on shutdown")
