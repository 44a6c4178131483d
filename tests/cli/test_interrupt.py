"""Ctrl-C in the CLI cancels the work through anyio, so the engine's shielded writes land."""

from __future__ import annotations

import os
import signal
import time

import anyio
import anyio.lowlevel
import pytest

from baton.cli.interrupt import run_interruptible
from baton.errors import StoreError


def test_sigint_cancels_the_work_after_its_shielded_part_finishes() -> None:
    done: list[str] = []

    async def work() -> None:
        with anyio.CancelScope(shield=True):
            os.kill(os.getpid(), signal.SIGINT)
            await anyio.to_thread.run_sync(time.sleep, 0.3)
            done.append("shielded write")
        await anyio.sleep(10)
        done.append("went on after Ctrl-C")

    with pytest.raises(KeyboardInterrupt):
        run_interruptible(work)
    assert done == ["shielded write"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_work_that_finishes_returns_its_value() -> None:
    async def work() -> int:
        await anyio.lowlevel.checkpoint()
        return 7

    assert run_interruptible(work) == 7


def test_a_failure_while_winding_down_is_raised_not_hidden() -> None:
    async def work() -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            await anyio.sleep(10)
        finally:
            raise StoreError("the database went away")

    with pytest.raises(StoreError, match="went away"):
        run_interruptible(work)
