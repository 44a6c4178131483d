"""Chaos: agents fail with every error class at random; each step must end exactly where the
recovery policy says it should."""

from __future__ import annotations

import random
from dataclasses import dataclass

import anyio
import pytest

from baton.agents import AgentContext, AgentRegistry, agent
from baton.core.executor import Executor
from baton.core.ladder import LadderPolicy
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, RetryPolicy, Step, StepPolicy
from baton.errors import (
    AgentError,
    AgentInputError,
    ErrorClass,
    PermissionDeniedError,
    RateLimitedError,
    Rung,
    StepTimeoutError,
)
from baton.events import ExecutionStatus, StepStatus
from baton.store import MemoryExecutionStore

pytestmark = pytest.mark.anyio

MAX_ATTEMPTS = 3


def error_of(kind: ErrorClass) -> Exception:
    return {
        ErrorClass.RATE_LIMITED: RateLimitedError("quota", retry_after=0.001),
        ErrorClass.TIMEOUT: StepTimeoutError("too slow"),
        ErrorClass.TRANSIENT: AgentError("503", retryable=True),
        ErrorClass.INVALID_INPUT: AgentInputError("bad input"),
        ErrorClass.PERMISSION: PermissionDeniedError("no rights"),
        ErrorClass.PERMANENT: AgentError("broken for good"),
    }[kind]


@dataclass(frozen=True)
class Script:
    """How a step's primary agent misbehaves, and whether its backup works."""

    kind: ErrorClass
    failures: int  # the primary fails this many times, then works
    backup_works: bool
    ask: bool  # the plan puts "ask" on this class's ladder, before "fail"


# Which step runs which script; the agents look their step up here.
SCRIPTS: dict[str, Script] = {}
CALLS: dict[str, int] = {}


@agent(name="chaos.primary", description="Fails as scripted.", capability="chaos")
async def primary(ctx: AgentContext) -> str:
    script = SCRIPTS[ctx.step_id]
    CALLS[ctx.step_id] = CALLS.get(ctx.step_id, 0) + 1
    if CALLS[ctx.step_id] <= script.failures:
        raise error_of(script.kind)
    return "primary"


@agent(name="chaos.backup", description="The stand-in.", capability="chaos")
async def backup(ctx: AgentContext) -> str:
    script = SCRIPTS[ctx.step_id]
    if not script.backup_works:
        raise error_of(script.kind)  # the same kind of trouble, so one ladder applies
    return "backup"


RETRYABLE = {ErrorClass.RATE_LIMITED, ErrorClass.TIMEOUT, ErrorClass.TRANSIENT}


def expected(script: Script) -> tuple[StepStatus, str | None]:
    """The oracle: where the default ladders (plus an opt-in "ask") leave the step."""
    if script.failures == 0:
        return StepStatus.SUCCEEDED, "primary"
    if script.kind in RETRYABLE and script.failures < MAX_ATTEMPTS:
        return StepStatus.SUCCEEDED, "primary"
    if script.kind in (*RETRYABLE, ErrorClass.PERMANENT) and script.backup_works:
        return StepStatus.SUCCEEDED, "backup"
    if script.ask:
        return StepStatus.IN_DOUBT, None
    return StepStatus.FAILED, None


@pytest.mark.parametrize("seed", range(30))
async def test_every_step_ends_where_the_policy_says(seed: int) -> None:
    rng = random.Random(seed)
    SCRIPTS.clear()
    CALLS.clear()
    steps = []
    for i in range(8):
        sid = f"s{i}"
        SCRIPTS[sid] = Script(
            kind=rng.choice(list(ErrorClass)),
            failures=rng.choice([0, 1, 2, 5]),
            backup_works=rng.random() < 0.6,
            ask=rng.random() < 0.3,
        )
        steps.append(
            Step(
                id=sid,
                agent="chaos.primary",
                policy=StepPolicy(
                    retry=RetryPolicy(max_attempts=MAX_ATTEMPTS, initial_delay_s=0.001),
                    recovery=_ladder_with_ask(SCRIPTS[sid]),
                ),
            )
        )
    registry = AgentRegistry()
    registry.register_all([primary, backup], source="test")
    store = MemoryExecutionStore()
    executor = Executor(registry, store, recovery=LadderPolicy(registry, random.Random(seed)))
    with anyio.fail_after(20):
        result = await Orchestrator(registry, store, executor).run(Plan(steps=steps))

    for sid, script in SCRIPTS.items():
        status, output = expected(script)
        assert result.steps[sid] is status, (sid, script, result.errors.get(sid))
        if output is not None:
            assert result.outputs[sid] == {"result": output}, (sid, script)
    doubtful = any(s is StepStatus.IN_DOUBT for s in result.steps.values())
    failed = any(s is StepStatus.FAILED for s in result.steps.values())
    if doubtful:
        assert result.status is ExecutionStatus.WAITING
    elif failed:
        assert result.status is ExecutionStatus.FAILED
    else:
        assert result.status is ExecutionStatus.SUCCEEDED


def _ladder_with_ask(script: Script) -> dict[ErrorClass, list[Rung]] | None:
    """The default ladder for the script's class, with "ask" before "fail" when opted in."""
    if not script.ask:
        return None
    default = {
        ErrorClass.RATE_LIMITED: [Rung.RETRY, Rung.ALTERNATIVE],
        ErrorClass.TIMEOUT: [Rung.RETRY, Rung.ALTERNATIVE],
        ErrorClass.TRANSIENT: [Rung.RETRY, Rung.ALTERNATIVE],
        ErrorClass.PERMANENT: [Rung.ALTERNATIVE],
        ErrorClass.INVALID_INPUT: [],
        ErrorClass.PERMISSION: [],
    }[script.kind]
    return {script.kind: [*default, Rung.ASK, Rung.FAIL]}
