"""Conformance suite: every ModelCallStore (memory, SQLite, PostgreSQL) must pass these."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from baton.llm.recording import StoreObserver
from baton.store.model_calls import MemoryModelCallStore, ModelCall, ModelCallStore, UsageTotals
from baton.store.sql.database import Database
from baton.store.sql.model_calls import SqlModelCallStore
from support.clock import T0

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(store_database: Database | None) -> ModelCallStore:
    return MemoryModelCallStore() if store_database is None else SqlModelCallStore(store_database)


def call(**changes: Any) -> ModelCall:
    values: dict[str, Any] = {
        "provider": "gemini",
        "model": "gemini-3.8-flash",
        "purpose": "agent",
        "input_tokens": 100,
        "output_tokens": 20,
        "latency_s": 0.25,
        "cost_usd": 0.001,
        "execution_id": "ex_1",
        "step_id": "a",
        "at": T0,
    }
    return ModelCall(**(values | changes))


async def test_calls_round_trip_in_order_with_every_field(store: ModelCallStore) -> None:
    first = call(purpose="plan", step_id=None, at=T0 + timedelta(microseconds=123456))
    second = call(error="ModelError", cost_usd=None, input_tokens=0, output_tokens=0)
    await store.add(first)
    await store.add_many([second, call(execution_id="ex_2")])

    got = await store.for_execution("ex_1")

    assert got == [first, second]
    assert got[0].at.tzinfo is not None
    assert await store.for_execution("ex_none") == []


async def test_totals_of_an_execution_and_of_a_step(store: ModelCallStore) -> None:
    await store.add_many(
        [
            call(purpose="plan", step_id=None, input_tokens=500, output_tokens=100, cost_usd=0.01),
            call(step_id="a", cost_usd=0.002),
            call(step_id="a", cost_usd=None),
            call(step_id="b", input_tokens=7, output_tokens=3, cost_usd=0.0005),
            call(execution_id="ex_2", input_tokens=10_000),
        ]
    )

    whole = await store.totals("ex_1")
    step_a = await store.totals("ex_1", "a")

    assert (whole.calls, whole.input_tokens, whole.output_tokens) == (4, 707, 143)
    assert whole.cost_usd == pytest.approx(0.0125)
    assert whole.unpriced_calls == 1
    assert (step_a.calls, step_a.tokens, step_a.unpriced_calls) == (2, 240, 1)
    assert step_a.cost_usd == pytest.approx(0.002)
    assert await store.totals("ex_none") == UsageTotals()


async def test_totals_by_step_keep_planning_apart(store: ModelCallStore) -> None:
    await store.add_many(
        [
            call(purpose="plan", step_id=None, input_tokens=1, output_tokens=1),
            call(purpose="replan", step_id=None, input_tokens=2, output_tokens=2),
            call(step_id="a"),
        ]
    )

    by_step = await store.totals_by_step("ex_1")

    assert set(by_step) == {None, "a"}
    assert (by_step[None].calls, by_step[None].tokens) == (2, 6)
    assert (by_step["a"].calls, by_step["a"].tokens) == (1, 120)
    assert await store.totals_by_step("ex_none") == {}


async def test_a_call_without_an_execution_is_refused(store: ModelCallStore) -> None:
    with pytest.raises(ValueError, match="no execution_id"):
        await store.add(call(execution_id=None))
    assert await store.for_execution("ex_1") == []


async def test_observer_writes_only_calls_of_executions(store: ModelCallStore) -> None:
    observer = StoreObserver(store)
    observer.on_call(call())
    observer.on_call(call(execution_id=None, purpose="check"))
    assert observer.pending == 1

    assert await observer.flush() == 1

    assert [c.execution_id for c in await store.for_execution("ex_1")] == ["ex_1"]
    assert observer.pending == 0


async def test_observer_run_writes_in_the_background(store: ModelCallStore) -> None:
    import anyio

    observer = StoreObserver(store)
    async with anyio.create_task_group() as tg:
        tg.start_soon(observer.run)
        observer.on_call(call(step_id="x"))
        with anyio.fail_after(10):
            while not await store.for_execution("ex_1"):  # noqa: ASYNC110 (polls a store)
                await anyio.sleep(0.01)
        observer.on_call(call(step_id="y"))
        tg.cancel_scope.cancel()  # the shutdown flush writes the second

    assert [c.step_id for c in await store.for_execution("ex_1")] == ["x", "y"]


async def test_observer_keeps_calls_when_the_store_fails() -> None:
    class Failing(MemoryModelCallStore):
        async def add_many(self, calls: Any) -> None:
            raise OSError("disk full")

    observer = StoreObserver(Failing(), max_pending=2)
    for _ in range(3):
        observer.on_call(call())
    with pytest.raises(OSError, match="disk full"):
        await observer.flush()
    assert (observer.pending, observer.dropped) == (2, 1)
