"""The Master Orchestrator: validate a plan, record it as an execution, run it.

Planning happens above this (the planner is chosen by the composition root); the
orchestrator starts from a plan so that hand-written plans, planned requests and resumed
executions all go the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from baton.agents.registry import AgentRegistry
from baton.core.executor import EventCallback, ExecutionResult, Executor
from baton.core.plan import Plan
from baton.core.validation import validate_plan
from baton.errors import UsageError
from baton.events import (
    ExecutionFinished,
    ExecutionStatus,
    RunEvent,
    StepCancelled,
    utcnow,
)
from baton.ids import new_execution_id
from baton.store.protocol import ExecutionStore
from baton.store.records import ExecutionRecord, StepRecord


class Orchestrator:
    """Lifecycle of executions: create, run, resume, cancel."""

    def __init__(self, registry: AgentRegistry, store: ExecutionStore, executor: Executor) -> None:
        self.registry = registry
        self.store = store
        self.executor = executor

    async def create(self, plan: Plan, *, request: str | None = None) -> ExecutionRecord:
        """Validate `plan` and store it as a new pending execution.

        Raises:
            PlanValidationError: the plan is wrong; nothing is stored.
        """
        validate_plan(plan, self.registry)
        record = ExecutionRecord(
            id=new_execution_id(),
            name=plan.name or (request or "")[:80],
            request=request if request is not None else plan.request,
            plan=plan.model_dump(mode="json"),
            status=ExecutionStatus.PENDING,
            created_at=utcnow(),
        )
        steps = [
            StepRecord(execution_id=record.id, step_id=s.id, agent=s.agent, position=i)
            for i, s in enumerate(plan.steps)
        ]
        await self.store.create_execution(record, steps)
        return record

    async def run(
        self,
        plan: Plan,
        *,
        request: str | None = None,
        on_event: EventCallback | None = None,
    ) -> ExecutionResult:
        """Create an execution of `plan` and run it to the end."""
        record = await self.create(plan, request=request)
        return await self.executor.execute(record.id, plan, on_event=on_event)

    async def execute(
        self, execution_id: str, *, on_event: EventCallback | None = None
    ) -> ExecutionResult:
        """Run a stored execution; steps that already succeeded are not run again.

        Raises:
            NotFoundError: no such execution.
            UsageError: it has already finished.
        """
        record = await self.store.get_execution(execution_id)
        if record.status.finished and record.status is not ExecutionStatus.CANCELLED:
            raise UsageError(
                f"execution {execution_id} has already {_finished_words(record.status)}",
                hint="start a new execution to run the plan again",
            )
        plan = Plan.model_validate(record.plan)
        validate_plan(plan, self.registry)
        previous: Mapping[str, StepRecord] = {
            s.step_id: s for s in await self.store.get_steps(execution_id)
        }
        return await self.executor.execute(execution_id, plan, on_event=on_event, previous=previous)

    async def cancel(self, execution_id: str) -> ExecutionRecord:
        """Ask the process running `execution_id` to cancel it (takes effect within a second).

        Raises:
            NotFoundError: no such execution.
            UsageError: it has already finished.
        """
        record = await self.store.get_execution(execution_id)
        if record.status.finished:
            raise UsageError(
                f"execution {execution_id} has already {_finished_words(record.status)}"
            )
        if record.status is ExecutionStatus.PENDING:
            # Nobody is running it: cancel it here, step by step, in one transaction.
            steps = await self.store.get_steps(execution_id)
            events: list[RunEvent] = [
                StepCancelled(execution_id=execution_id, step_id=s.step_id)
                for s in steps
                if not s.status.finished
            ]
            events.append(
                ExecutionFinished(
                    execution_id=execution_id,
                    status=ExecutionStatus.CANCELLED,
                    error="cancelled before it started",
                )
            )
            await self.store.append(events)
            return await self.store.get_execution(execution_id)
        return await self.store.request_cancel(execution_id)


def _finished_words(status: ExecutionStatus) -> str:
    """``succeeded`` / ``failed`` / ``been cancelled``, to follow "has already"."""
    return "been cancelled" if status is ExecutionStatus.CANCELLED else status.value
