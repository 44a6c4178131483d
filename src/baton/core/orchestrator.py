"""The Master Orchestrator: validate a plan, record it as an execution, run it.

Planning happens above this (the planner is chosen by the composition root); the
orchestrator starts from a plan so that hand-written plans, planned requests and resumed
executions all go the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import ValidationError

from baton.agents.registry import AgentRegistry
from baton.core.executor import EventCallback, ExecutionResult, Executor
from baton.core.lease import owner_is_dead_here
from baton.core.plan import Plan
from baton.core.validation import validate_plan
from baton.errors import ExecutionStateError, NotFoundError, UsageError
from baton.events import (
    ExecutionFinished,
    ExecutionStatus,
    RunEvent,
    StepCancelled,
    StepReset,
    StepSkipped,
    StepStatus,
    StepSucceeded,
    utcnow,
)
from baton.ids import new_execution_id
from baton.store.protocol import ExecutionStore
from baton.store.records import ExecutionRecord, StepRecord

Decision = Literal["retry", "skip", "mark-done", "abort"]
"""What a person can decide about a step in doubt."""


class Orchestrator:
    """Lifecycle of executions: create, run, resume, cancel."""

    def __init__(self, registry: AgentRegistry, store: ExecutionStore, executor: Executor) -> None:
        self.registry = registry
        self.store = store
        self.executor = executor

    async def create(
        self, plan: Plan, *, request: str | None = None, workspace_id: str | None = None
    ) -> ExecutionRecord:
        """Validate `plan` and store it as a new pending execution.

        It belongs to `workspace_id` (default: the executor's workspace).

        Raises:
            PlanValidationError: the plan is wrong; nothing is stored.
        """
        validate_plan(plan, self.registry)
        now = utcnow()
        options = self.executor.options
        record = ExecutionRecord(
            id=new_execution_id(),
            name=plan.name or (request or "")[:80],
            request=request if request is not None else plan.request,
            plan=plan.model_dump(mode="json"),
            status=ExecutionStatus.PENDING,
            created_at=now,
            workspace_id=workspace_id or options.workspace_id,
            # Held from birth: if this process dies before running it, the expired (or dead)
            # lease lets another process take it up instead of leaving it pending forever.
            lease_owner=options.owner,
            lease_expires_at=now + timedelta(seconds=options.lease_ttl_s),
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
        workspace_id: str | None = None,
    ) -> ExecutionResult:
        """Create an execution of `plan` and run it to the end."""
        record = await self.create(plan, request=request, workspace_id=workspace_id)
        return await self.executor.execute(
            record.id, plan, on_event=on_event, workspace_id=record.workspace_id
        )

    async def execute(
        self,
        execution_id: str,
        *,
        on_event: EventCallback | None = None,
        take_over_from: str | None = None,
    ) -> ExecutionResult:
        """Run a stored execution, new or to be resumed.

        To resume is to go on with one that was cancelled, waits on a decision, or was left
        running by a process that died. Steps whose completion was committed never run again.

        Raises:
            NotFoundError: no such execution.
            ExecutionStateError: it has already succeeded or failed.
            LeaseHeldError: another live process is running it.
        """
        record = await self.store.get_execution(execution_id)
        self.check_resumable(record)
        plan = Plan.model_validate(record.plan)
        validate_plan(plan, self.registry)
        previous: Mapping[str, StepRecord] = {
            s.step_id: s for s in await self.store.get_steps(execution_id)
        }
        return await self.executor.execute(
            execution_id,
            plan,
            on_event=on_event,
            previous=previous,
            take_over_from=take_over_from,
            workspace_id=record.workspace_id,
        )

    def check_resumable(self, record: ExecutionRecord) -> None:
        """Raise `ExecutionStateError` if `record` has finished for good (succeeded or failed)."""
        if record.status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED):
            raise ExecutionStateError(
                f"execution {record.id} has already {_finished_words(record.status)}",
                hint="start a new execution to run the plan again",
            )

    async def recoverable(self) -> list[tuple[ExecutionRecord, str | None]]:
        """Executions left running by a process that is gone, with the owner to take over from.

        Those whose lease expired are free to take. On this host we can also tell that a
        lease holder's process has died, and take over at once instead of waiting.
        """
        found: list[tuple[ExecutionRecord, str | None]] = [
            (r, None) for r in await self.store.orphaned_executions()
        ]
        seen = {r.id for r, _ in found}
        for status in (ExecutionStatus.RUNNING, ExecutionStatus.PENDING):
            for record in await self.store.list_executions(status=status, limit=1000):
                owner = record.lease_owner
                if record.id not in seen and owner is not None and owner_is_dead_here(owner):
                    found.append((record, owner))
        return found

    async def resolve(
        self,
        execution_id: str,
        step_id: str,
        decision: Decision,
        *,
        output: dict[str, Any] | None = None,
    ) -> None:
        """Record a person's decision about a step in doubt.

        Args:
            execution_id: The execution.
            step_id: The step in doubt.
            decision: ``retry`` runs it again, ``skip`` gives it up (its dependents are
                skipped), ``mark-done`` records that it did happen, with `output`;
                ``abort`` cancels the whole execution.
            output: The step's output for ``mark-done`` (checked against the agent's schema).

        Raises:
            NotFoundError: no such execution or step.
            UsageError: the step is not in doubt, or the output does not fit the agent.
        """
        record = await self.store.get_execution(execution_id)
        steps = {s.step_id: s for s in await self.store.get_steps(execution_id)}
        step = steps.get(step_id)
        if step is None:
            raise NotFoundError(
                f"execution {execution_id} has no step {step_id!r}",
                hint="steps: " + ", ".join(steps),
            )
        if step.status is not StepStatus.IN_DOUBT:
            raise UsageError(
                f"step {step_id!r} is {step.status.value}, not in doubt; only a step in doubt "
                "can be resolved",
                hint=f"`baton executions show {execution_id}` shows the steps",
            )
        if decision == "abort":
            await self._abort(record.id, steps.values())
            return
        event = self._decision_event(record.id, step, decision, output)
        await self.store.append([event])

    async def _abort(self, execution_id: str, steps: Iterable[StepRecord]) -> None:
        """A person gave the whole execution up: every unfinished step is cancelled."""
        events: list[RunEvent] = [
            StepCancelled(execution_id=execution_id, step_id=s.step_id)
            for s in steps
            if not s.status.finished
        ]
        events.append(
            ExecutionFinished(
                execution_id=execution_id,
                status=ExecutionStatus.CANCELLED,
                error="aborted by a person",
            )
        )
        await self.store.append(events)

    def _decision_event(
        self,
        execution_id: str,
        step: StepRecord,
        decision: Decision,
        output: dict[str, Any] | None,
    ) -> RunEvent:
        who = "a person decided"
        if decision == "retry":
            return StepReset(execution_id=execution_id, step_id=step.step_id, reason=who)
        if decision == "skip":
            return StepSkipped(
                execution_id=execution_id, step_id=step.step_id, reason=f"{who} to skip it"
            )
        model = self.registry.get(step.agent).spec.output_model
        try:
            checked = model.model_validate(output or {}).model_dump(mode="json")
        except ValidationError as exc:
            raise UsageError(
                f"the output given for step {step.step_id!r} does not fit agent "
                f"{step.agent!r}: "
                + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
                hint="pass --output with a JSON object matching the agent's output schema "
                f"(`baton agents show {step.agent}`)",
            ) from None
        return StepSucceeded(
            execution_id=execution_id,
            step_id=step.step_id,
            output=checked,
            attempt=max(step.attempts, 1),
            started_at=step.started_at,
        )

    async def cancel(self, execution_id: str) -> ExecutionRecord:
        """Cancel `execution_id`.

        One that is pending or waiting, and that no process holds, is cancelled here and now;
        otherwise the process running it is asked to (it stops within a second).

        Raises:
            NotFoundError: no such execution.
            ExecutionStateError: it has already finished.
        """
        record = await self.store.get_execution(execution_id)
        if record.status.finished:
            raise ExecutionStateError(
                f"execution {execution_id} has already {_finished_words(record.status)}"
            )
        if record.status in (ExecutionStatus.PENDING, ExecutionStatus.WAITING):
            # Nobody may be running it: if its lease is free, cancel it here, step by step,
            # in one transaction, holding the lease so that nobody starts it meanwhile.
            owner, ttl = self.executor.options.owner, self.executor.options.lease_ttl_s
            if await self.store.acquire_lease(execution_id, owner, ttl):
                try:
                    return await self._cancel_idle(execution_id, record.status)
                finally:
                    await self.store.release_lease(execution_id, owner)
        return await self.store.request_cancel(execution_id)

    async def _cancel_idle(self, execution_id: str, status: ExecutionStatus) -> ExecutionRecord:
        steps = await self.store.get_steps(execution_id)
        events: list[RunEvent] = [
            StepCancelled(execution_id=execution_id, step_id=s.step_id)
            for s in steps
            if not s.status.finished
        ]
        why = "before it started" if status is ExecutionStatus.PENDING else "while it waited"
        events.append(
            ExecutionFinished(
                execution_id=execution_id,
                status=ExecutionStatus.CANCELLED,
                error=f"cancelled {why}",
            )
        )
        await self.store.append(events)
        return await self.store.get_execution(execution_id)


def _finished_words(status: ExecutionStatus) -> str:
    """``succeeded`` / ``failed`` / ``been cancelled``, to follow "has already"."""
    return "been cancelled" if status is ExecutionStatus.CANCELLED else status.value
