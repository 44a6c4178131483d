"""A writer cancelled natively (asyncio's Ctrl-C handler cancels the main task through any
anyio shield) must not leave the SQLite event log inconsistent: its transaction may still
commit on the worker thread, and the next write must neither share the connection with it
nor reuse its sequence numbers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from baton.events import ExecutionStatus, StepLog, StepStarted, utcnow
from baton.store import ExecutionRecord, StepRecord
from baton.store.sql.database import Database, ThreadedSqliteDatabase, open_database, sqlite_url
from baton.store.sql.execution_store import SqlExecutionStore
from baton.store.sql.schema import create_schema

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = open_database(sqlite_url(tmp_path / "baton.db"))
    await create_schema(db)
    try:
        yield db
    finally:
        await db.dispose()


async def test_append_cancelled_natively_mid_transaction_keeps_the_log_whole(
    sqlite_db: Database,
) -> None:
    assert isinstance(sqlite_db, ThreadedSqliteDatabase)
    store = SqlExecutionStore(sqlite_db)
    await store.create_execution(
        ExecutionRecord(
            id="ex1",
            name="demo",
            request="",
            plan={},
            status=ExecutionStatus.RUNNING,
            created_at=utcnow(),
        ),
        [StepRecord(execution_id="ex1", step_id="a", agent="echo", position=0)],
    )
    await store.append([StepLog(execution_id="ex1", step_id="a", message="first")])

    slow = True

    def stall(*_: Any) -> None:
        if slow:
            time.sleep(0.3)  # the transaction is still running when its caller is cancelled

    event.listen(sqlite_db.engine, "before_cursor_execute", stall)
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().call_later(0.05, task.cancel)
    with pytest.raises(asyncio.CancelledError):
        await store.append([StepStarted(execution_id="ex1", step_id="a", attempt=1)])
    task.uncancel()
    slow = False

    # Written after the cancelled batch committed on its thread, numbered after it.
    await store.append([StepLog(execution_id="ex1", step_id="a", message="after")])
    logged = await store.events("ex1")
    seqs = [e.seq for e in logged]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert [e.event.kind for e in logged][-3:] == ["log", "step_started", "log"]
