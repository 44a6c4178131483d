"""Waiting for a condition that nothing signals (a counter in another component)."""

from __future__ import annotations

from collections.abc import Callable

import anyio


async def wait_until(condition: Callable[[], bool], *, interval: float = 0.01) -> None:
    """Return once `condition()` holds; check it every `interval` seconds (no deadline)."""
    while True:
        if condition():
            return
        await anyio.sleep(interval)
