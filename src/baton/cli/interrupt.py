"""Run a command's async work so that Ctrl-C cancels it the way the engine expects.

`anyio.run` on asyncio answers SIGINT with ``task.cancel()`` on the main task: a native
cancellation, which passes through anyio's shielded scopes. The executor shields the writes
that must land whatever happens (the events its state machine has already applied, then the
record of the cancellation itself); a native cancellation could cut one of those short and
leave the execution shown as ``running`` after "cancelled; state saved". Here SIGINT cancels
an anyio `CancelScope` around the work instead, so shields hold, and `KeyboardInterrupt` is
raised once the work has wound down.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

T = TypeVar("T")

__all__ = ["run_interruptible"]


def run_interruptible(work: Callable[[], Awaitable[T]]) -> T:
    """``anyio.run(work)``, with SIGINT turned into a cancellation of `work`'s scope.

    Raises:
        KeyboardInterrupt: SIGINT arrived; `work` has finished its cleanup by then. A
            failure during that cleanup is raised instead, so it is not hidden.
    """
    interrupted = False

    async def main() -> T:
        nonlocal interrupted
        loop = asyncio.get_running_loop()
        outcome: list[T] = []
        with anyio.CancelScope() as scope:

            def interrupt() -> None:
                nonlocal interrupted
                interrupted = True
                scope.cancel()

            try:
                loop.add_signal_handler(signal.SIGINT, interrupt)
            except (NotImplementedError, RuntimeError, ValueError):
                # Not the main thread, or a loop without signal support: asyncio's own
                # handling (a native cancellation) is the best there is.
                return await work()
            try:
                outcome.append(await work())
            finally:
                loop.remove_signal_handler(signal.SIGINT)
        if interrupted or not outcome:  # only SIGINT cancels this scope
            raise KeyboardInterrupt
        return outcome[0]

    return anyio.run(main)
