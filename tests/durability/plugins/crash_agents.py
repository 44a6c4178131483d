"""Agents for the crash tests, loaded from a plugins folder by the child process.

Every side effect is recorded in a ledger (a SQLite file named by $BATON_TEST_LEDGER) with
its idempotency key, and so is every invocation, with the wall-clock time it began.
`ledger.put` is idempotent the way real APIs are: it checks the key and does nothing the
second time. `ledger.send` is not: each call is another effect.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time

import anyio

from baton.agents import AgentContext, agent


def _record(table: str, key: str, step: str, *, dedupe: bool) -> None:
    con = sqlite3.connect(os.environ["BATON_TEST_LEDGER"], timeout=30, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        if dedupe and con.execute(f"SELECT 1 FROM {table} WHERE key = ?", (key,)).fetchone():
            con.execute("COMMIT")
            return
        con.execute(
            f"INSERT INTO {table} (key, step, pid, at) VALUES (?, ?, ?, ?)",
            (key, step, os.getpid(), time.time()),
        )
        con.execute("COMMIT")
    finally:
        con.close()


async def _work(ctx: AgentContext, *, dedupe: bool) -> str:
    await anyio.to_thread.run_sync(
        lambda: _record("invocations", ctx.idempotency_key, ctx.step_id, dedupe=False)
    )
    await anyio.sleep(random.uniform(0.01, 0.06))
    await anyio.to_thread.run_sync(
        lambda: _record("effects", ctx.idempotency_key, ctx.step_id, dedupe=dedupe)
    )
    await anyio.sleep(random.uniform(0.0, 0.02))
    return ctx.step_id


@agent(name="ledger.put", description="Record an effect once per idempotency key.", idempotent=True)
async def put(ctx: AgentContext, value: str = "") -> str:
    return await _work(ctx, dedupe=True)


@agent(name="ledger.send", description="Record an effect every time.", idempotent=False)
async def send(ctx: AgentContext, value: str = "") -> str:
    return await _work(ctx, dedupe=False)
