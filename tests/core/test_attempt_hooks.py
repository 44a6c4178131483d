"""The step workers call interceptors' `AttemptHooks` directly around each agent attempt."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager

import pytest

from baton.agents import AgentRegistry, agent
from baton.core.executor import Executor, ExecutorOptions
from baton.core.interceptors import attempt_hooks, enter_hooks, joined_hooks, leave_hooks
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, RetryPolicy, Step, StepPolicy
from baton.core.recovery import RetryThenFail
from baton.errors import AgentError
from baton.events import RunEvent
from baton.store import MemoryExecutionStore

pytestmark = pytest.mark.anyio


class Hooked:
    """An interceptor with plain-call hooks; its context manager must never be used."""

    def __init__(self, name: str, log: list[str], *, fail_enter: bool = False) -> None:
        self.name = name
        self.log = log
        self.fail_enter = fail_enter

    @contextlib.asynccontextmanager
    async def execution(self, execution_id: str, workspace_id: str) -> AsyncIterator[None]:
        yield

    def step_attempt(
        self, execution_id: str, step_id: str, agent: str, attempt: int
    ) -> AbstractAsyncContextManager[object]:
        raise AssertionError("the hooks are called instead")

    def events(self, events: Sequence[RunEvent]) -> None:
        """Nothing."""

    def enter_attempt(self, execution_id: str, step_id: str, agent: str, attempt: int) -> object:
        if self.fail_enter:
            raise RuntimeError(f"{self.name} cannot enter")
        self.log.append(f"enter {self.name} {step_id}#{attempt} {agent}")
        return f"{self.name}:{step_id}#{attempt}"

    def exit_attempt(self, state: object, exc: BaseException | None) -> None:
        error = f" {type(exc).__name__}" if exc is not None else ""
        self.log.append(f"exit {self.name} {state}{error}")


class Plain:
    """An interceptor without hooks (only its context manager)."""

    @contextlib.asynccontextmanager
    async def execution(self, execution_id: str, workspace_id: str) -> AsyncIterator[None]:
        yield

    @contextlib.asynccontextmanager
    async def step_attempt(
        self, execution_id: str, step_id: str, agent: str, attempt: int
    ) -> AsyncIterator[None]:
        yield

    def events(self, events: Sequence[RunEvent]) -> None:
        """Nothing."""


def test_hooks_are_taken_only_when_every_interceptor_has_them() -> None:
    log: list[str] = []
    a, b = Hooked("a", log), Hooked("b", log)
    hooks = attempt_hooks((a, b))
    assert hooks is not None
    assert [h[0].__self__ for h in hooks] == [a, b]  # pyright: ignore[reportFunctionMemberAccess]
    assert attempt_hooks((a, Plain())) is None


def test_a_hook_that_cannot_enter_leaves_the_ones_entered_and_raises() -> None:
    log: list[str] = []
    hooks = attempt_hooks((Hooked("a", log), Hooked("b", log, fail_enter=True), Hooked("c", log)))
    assert hooks is not None
    with pytest.raises(RuntimeError, match="b cannot enter"):
        enter_hooks(hooks, "ex", "s1", "agent", 1)
    assert log == ["enter a s1#1 agent", "exit a a:s1#1 RuntimeError"]


def test_hooks_are_left_in_reverse_with_the_exception() -> None:
    log: list[str] = []
    hooks = attempt_hooks((Hooked("a", log), Hooked("b", log)))
    assert hooks is not None
    states = enter_hooks(hooks, "ex", "s1", "agent", 2)
    leave_hooks(hooks, states, ValueError("boom"))
    assert log == [
        "enter a s1#2 agent",
        "enter b s1#2 agent",
        "exit b b:s1#2 ValueError",
        "exit a a:s1#2 ValueError",
    ]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_joined_hooks_enter_in_order_and_leave_in_reverse(count: int) -> None:
    log: list[str] = []
    names = "abc"[:count]
    hooks = attempt_hooks(tuple(Hooked(n, log) for n in names))
    assert hooks is not None
    enter, leave = joined_hooks(hooks)
    leave(enter("ex", "s1", "agent", 1), KeyError("k"))
    entered = [f"enter {n} s1#1 agent" for n in names]
    left = [f"exit {n} {n}:s1#1 KeyError" for n in reversed(names)]
    assert log == entered + left


@pytest.mark.parametrize("count", [2, 3])
def test_joined_hooks_leave_the_entered_ones_when_the_last_cannot_enter(count: int) -> None:
    log: list[str] = []
    interceptors = [Hooked(n, log) for n in "ab"[: count - 1]]
    hooks = attempt_hooks((*interceptors, Hooked("z", log, fail_enter=True)))
    assert hooks is not None
    enter, _ = joined_hooks(hooks)
    with pytest.raises(RuntimeError, match="z cannot enter"):
        enter("ex", "s1", "agent", 1)
    names = "ab"[: count - 1]
    entered = [f"enter {n} s1#1 agent" for n in names]
    left = [f"exit {n} {n}:s1#1 RuntimeError" for n in reversed(names)]
    assert log == entered + left


async def test_the_executor_calls_the_hooks_around_each_attempt(registry: AgentRegistry) -> None:
    calls = {"n": 0}

    @agent(description="Fails once, then works.")
    async def flaky_hooked() -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise AgentError("first try fails", retryable=True)
        return "ok"

    registry.register(flaky_hooked)
    log: list[str] = []
    store = MemoryExecutionStore()
    options = ExecutorOptions(interceptors=(Hooked("outer", log), Hooked("inner", log)))
    executor = Executor(registry, store, options=options, recovery=RetryThenFail(random.Random(1)))
    retry = StepPolicy(retry=RetryPolicy(max_attempts=2, initial_delay_s=0.0))
    plan = Plan(steps=[Step(id="a", agent="flaky_hooked", policy=retry)])
    result = await Orchestrator(registry, store, executor).run(plan)
    assert result.ok
    assert log == [
        "enter outer a#1 flaky_hooked",
        "enter inner a#1 flaky_hooked",
        "exit inner inner:a#1 AgentError",
        "exit outer outer:a#1 AgentError",
        "enter outer a#2 flaky_hooked",
        "enter inner a#2 flaky_hooked",
        "exit inner inner:a#2",
        "exit outer outer:a#2",
    ]
