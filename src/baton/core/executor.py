"""The executor loop: runs a validated plan's steps as their dependencies allow.

One loop owns all state. Step workers run in the loop's task group and report back through a
memory stream; the loop folds every report that has arrived into the pure `RunState`, decides
what starts next, commits the resulting events to the store in one transaction (group commit),
and only then tells anyone (callbacks, dependents) about them. A step therefore never starts
on an output that is not yet durable.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup

from baton.agents.protocol import Agent
from baton.agents.registry import AgentRegistry
from baton.comms.context import SharedContext
from baton.comms.messenger import MessageHub
from baton.core.budgets import ExecutionSpending
from baton.core.gates import Cleared, Refused, StepGates
from baton.core.interceptors import around_execution, event_listeners
from baton.core.ladder import classify
from baton.core.lease import Lease
from baton.core.plan import Plan
from baton.core.recovery import (
    AskHuman,
    Failure,
    RecoveryPolicy,
    Retry,
    RetryThenFail,
    UseAlternative,
)
from baton.core.replanning import Revision, revise
from baton.core.run_state import ConcurrencyLimits, RunState
from baton.core.run_types import EventCallback as EventCallback
from baton.core.run_types import ExecutionResult as ExecutionResult
from baton.core.run_types import ExecutorOptions as ExecutorOptions
from baton.core.step_workers import StepWorkers
from baton.core.worker_messages import Done, Failed, Message, RetryDue, receive
from baton.errors import (
    BatonError,
    BudgetExceededError,
    RunError,
    StoreError,
)
from baton.events import (
    AgentMessageSent,
    ApprovalRequested,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    ExecutionWaiting,
    PlanRevised,
    RunEvent,
    StepCancelled,
    StepFailed,
    StepInDoubt,
    StepRecovery,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepStatus,
    StepSucceeded,
)
from baton.llm.protocol import CallScope
from baton.llm.usage import check_budget
from baton.store.messages import Message as StoredMessage
from baton.store.protocol import ExecutionStore
from baton.store.records import StepRecord

_T = TypeVar("_T")


class Executor:
    """Runs plans. One instance serves many executions; each `execute` call is independent."""

    def __init__(
        self,
        registry: AgentRegistry,
        store: ExecutionStore,
        *,
        options: ExecutorOptions | None = None,
        recovery: RecoveryPolicy | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.registry = registry
        self.store = store
        self.options = options or ExecutorOptions()
        self.recovery = recovery or RetryThenFail()
        self.clock = clock

    async def execute(
        self,
        execution_id: str,
        plan: Plan,
        *,
        on_event: EventCallback | None = None,
        previous: Mapping[str, StepRecord] | None = None,
        take_over_from: str | None = None,
        workspace_id: str | None = None,
    ) -> ExecutionResult:
        """Run `plan` (already validated and stored) until every step has finished.

        Args:
            execution_id: The stored execution to run.
            plan: Its plan.
            on_event: Called with every event, after it is committed.
            previous: Step records of an earlier run of this execution (resume): steps that
                succeeded keep their outputs and are not run again.
            take_over_from: Take the execution's lease from this owner even if it has not
                expired (the caller checked that the owner is dead).
            workspace_id: The execution's workspace (scopes its approvals and shared
                context); the executor's own by default.

        Raises:
            LeaseHeldError: another live process is running the execution.

        Cancelling the calling scope cancels running steps and records them (and the
        execution) as cancelled before the cancellation propagates.
        """
        workspace = workspace_id or self.options.workspace_id
        run = _Run(self, execution_id, plan, on_event, previous or {}, workspace_id=workspace)
        interceptors = self.options.interceptors
        if not interceptors:
            return await run.go(take_over_from)
        async with around_execution(interceptors, execution_id, workspace):
            return await run.go(take_over_from)


class _Run:
    """State and loop of one `Executor.execute` call."""

    def __init__(
        self,
        executor: Executor,
        execution_id: str,
        plan: Plan,
        on_event: EventCallback | None,
        previous: Mapping[str, StepRecord],
        *,
        workspace_id: str,
    ) -> None:
        self.ex = executor
        self.workspace_id = workspace_id
        self.id = execution_id
        self.plan = plan
        self.on_event = on_event
        self.steps = {s.id: s for s in plan.steps}
        self.agents: dict[str, Agent] = {s.id: executor.registry.get(s.agent) for s in plan.steps}
        self.outputs: dict[str, dict[str, Any]] = {
            sid: rec.output or {}
            for sid, rec in previous.items()
            if rec.status is StepStatus.SUCCEEDED
        }
        self.errors: dict[str, str] = {
            sid: rec.error or ""
            for sid, rec in previous.items()
            if rec.status in (StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.IN_DOUBT)
        }
        self.resumed = any(rec.status is not StepStatus.PENDING for rec in previous.values())
        self.newly_in_doubt: list[str] = []
        self.state = RunState(
            plan,
            limits=self._limits(),
            estimate=self._estimate,
            known=self._known_statuses(previous),
        )
        for sid, rec in previous.items():
            if sid in self.state.attempt:
                self.state.attempt[sid] = rec.attempts
        self.send, self.recv = anyio.create_memory_object_stream[Message](math.inf)
        self.started_at: dict[str, datetime] = {}
        # Recovery ladder bookkeeping: agents tried per step, and attempts with the current one.
        self.tried: dict[str, list[str]] = {s.id: [s.agent] for s in plan.steps}
        self.agent_attempts: dict[str, int] = dict.fromkeys(self.steps, 0)
        self.cancel_requested = False
        self.spending = ExecutionSpending(execution_id, executor.options.usage_of)
        self.budget_failed: list[str] = []
        """Steps that failed because the execution's model budget is spent."""
        self.refused: list[str] = []
        """Steps a person rejected (or nobody approved in time)."""
        self.replan_failure: str | None = None
        """Why the plan could not be revised, when that was tried and failed."""
        opts = executor.options
        self.listeners = event_listeners(opts.interceptors)
        """Each interceptor's ``events``, handed every committed batch (see `_commit`)."""
        self.gates = self._make_gates()
        self.approved_inputs: dict[str, dict[str, Any]] = {}
        self.context = (
            SharedContext(
                opts.context_store,
                workspace_id=workspace_id,
                execution_id=execution_id,
                locks=self._context_lock if opts.locks is not None else None,
            )
            if opts.context_store is not None
            else None
        )
        self.hub = (
            MessageHub(opts.message_store, execution_id, on_message=self._message_sent)
            if opts.message_store is not None
            else None
        )
        self.workers = StepWorkers(
            execution_id=execution_id,
            steps=self.steps,
            agents=self.agents,
            outputs=self.outputs,
            approved_inputs=self.approved_inputs,
            inbox=self.send,
            options=opts,
            registry=executor.registry,
            clock=executor.clock,
            context=self.context,
            hub=self.hub,
            model_scope=self._model_scope,
            plan_version=plan.version,
            workspace_id=workspace_id,
        )

    def _make_gates(self) -> StepGates | None:
        approvals = self.ex.options.approvals
        if approvals is None:
            return None
        return StepGates(
            approvals,
            self.plan,
            self.agents,
            self.state.dag.topological(),
            execution_id=self.id,
            workspace_id=self.workspace_id,
        )

    async def _model_scope(self, step_id: str) -> CallScope:
        """The scope of a step attempt's model calls (the plan may change: read it now)."""
        return await self.spending.scope(self.plan, step_id)

    def _context_lock(self, resource: str, ttl_s: float) -> AbstractAsyncContextManager[Any]:
        """A lock on a context key, in the same lock space as step resources."""
        locks = self.ex.options.locks
        assert locks is not None
        return locks.hold([resource], owner=f"{self.id}:{uuid.uuid4().hex}", ttl_s=ttl_s)

    def _message_sent(self, message: StoredMessage) -> None:
        """Messages between agents become events of the execution."""
        self.send.send_nowait(
            AgentMessageSent(
                execution_id=self.id,
                step_id=message.sender,
                channel=message.channel,
                seq=message.seq,
                body=message.body,
            )
        )

    def _known_statuses(self, previous: Mapping[str, StepRecord]) -> dict[str, StepStatus]:
        """Statuses to resume from.

        A step that was running when its process died is run again (with the same
        idempotency key) if its agent is idempotent; otherwise nobody can know whether its
        effect happened, so it is put in doubt for a person to decide.
        """
        known: dict[str, StepStatus] = {}
        for sid, rec in previous.items():
            status = rec.status
            if status is StepStatus.RUNNING and sid in self.agents:
                if self.agents[sid].spec.idempotent:
                    status = StepStatus.PENDING
                else:
                    status = StepStatus.IN_DOUBT
                    self.newly_in_doubt.append(sid)
            known[sid] = status
        return known

    def _limits(self) -> ConcurrencyLimits:
        limits = self.ex.options.limits
        if self.plan.max_concurrency is not None:
            cap = min(limits.max_concurrency, self.plan.max_concurrency)
            return ConcurrencyLimits(max_concurrency=cap, per_agent=limits.per_agent)
        return limits

    def _estimate(self, step_id: str) -> float:
        mean = self.ex.registry.stats(self.steps[step_id].agent).mean_duration_s
        return mean if mean else 1.0

    async def go(self, take_over_from: str | None) -> ExecutionResult:
        lease = Lease(self.ex.store, self.id, self.ex.options.owner, self.ex.options.lease_ttl_s)
        try:
            await lease.acquire(take_over_from)
        except BaseException:
            for stream in (self.send, self.recv):
                stream.close()
            self.workers.close()
            raise
        try:
            return await self._run_holding(lease)
        finally:
            if not lease.lost:
                with anyio.CancelScope(shield=True):
                    await lease.release()

    async def _run_holding(self, lease: Lease) -> ExecutionResult:
        started = self.ex.clock()
        try:
            with self.send, self.recv:
                try:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(self._watch, tg, lease)
                        await self._loop(tg)
                        tg.cancel_scope.cancel()
                finally:
                    self.workers.close()
        except BaseException as exc:
            # A store that failed (disk full, database gone) cannot take the cancellation
            # either: leave the execution as last committed, to be resumed once it is back.
            if not lease.lost and not _is_store_failure(exc):
                with anyio.CancelScope(shield=True):
                    await self._record_cancelled()
            raise
        if lease.lost:
            # Another process holds the execution now; whatever we would write could fork it.
            raise RunError(
                f"execution {self.id} was taken over by another process (this one stopped "
                "renewing its lease in time); it goes on there",
            )
        took = self.ex.clock() - started
        if self.cancel_requested:
            await self._record_cancelled()
            return self._result(ExecutionStatus.CANCELLED, took)
        doubtful, gated = self.state.in_doubt(), self.state.awaiting_approval()
        if doubtful or gated:
            waits: list[str] = []
            if doubtful:
                waits.append("a decision on step(s) in doubt: " + ", ".join(doubtful))
            if gated:
                waits.append("approval of step(s): " + ", ".join(gated))
            reason = "waiting for " + "; and ".join(waits)
            await self._commit([ExecutionWaiting(execution_id=self.id, reason=reason)])
            return self._result(ExecutionStatus.WAITING, took)
        status = self._final_status()
        error = None if status is ExecutionStatus.SUCCEEDED else self._summary_error()
        await self._commit([ExecutionFinished(execution_id=self.id, status=status, error=error)])
        return self._result(status, took)

    async def _loop(self, tg: TaskGroup) -> None:
        events: list[RunEvent] = [
            ExecutionStarted(
                execution_id=self.id, step_count=len(self.plan.steps), resumed=self.resumed
            )
        ]
        events += [
            StepInDoubt(
                execution_id=self.id,
                step_id=sid,
                reason="it was running when its process stopped, and its agent "
                f"{self.steps[sid].agent!r} is not idempotent: decide with "
                f"`baton resolve {self.id} {sid} --retry|--skip|--mark-done`",
            )
            for sid in self.newly_in_doubt
        ]
        for sid in self.state.skipped_on_start:
            cause = self.state.first_failed_dependency(sid) or "?"
            self.errors[sid] = f"dependency {cause!r} did not succeed"
            events.append(StepSkipped(execution_id=self.id, step_id=sid, reason=self.errors[sid]))
        while True:
            launch = self.state.take_ready()
            if self.gates is not None and launch:
                launch = await self._through_gates(launch, events)
            for sid in launch:
                self.agent_attempts[sid] += 1
                started = StepStarted(
                    execution_id=self.id,
                    step_id=sid,
                    agent=self.agents[sid].spec.name,
                    attempt=self.state.attempt[sid],
                )
                self.started_at[sid] = started.at
                events.append(started)
            await self._commit(events)
            for sid in launch:
                self.workers.dispatch(tg, sid, self.state.attempt[sid])
            events = []
            if not self.state.is_active():
                if await self._replanned():
                    continue
                return
            self._handle(await receive(self.recv), events, tg)
            # Group commit: fold in everything else that already arrived.
            while True:
                try:
                    msg = self.recv.receive_nowait()
                except anyio.WouldBlock:
                    break
                self._handle(msg, events, tg)

    def _handle(self, msg: Message, events: list[RunEvent], tg: TaskGroup) -> None:
        if isinstance(msg, Done):
            self.outputs[msg.step_id] = msg.output
            self.state.succeed(msg.step_id)
            events.append(
                StepSucceeded(
                    execution_id=self.id,
                    step_id=msg.step_id,
                    output=msg.output,
                    duration_s=msg.duration_s,
                    attempt=self.state.attempt[msg.step_id],
                    started_at=self.started_at.get(msg.step_id),
                    cached=msg.cached,
                )
            )
        elif isinstance(msg, Failed):
            self._handle_failure(msg, events, tg)
        elif isinstance(msg, RetryDue):
            self.state.retry_due(msg.step_id)
        else:
            events.append(msg)

    def _handle_failure(self, msg: Failed, events: list[RunEvent], tg: TaskGroup) -> None:
        sid, error = msg.step_id, msg.error
        if isinstance(error, BudgetExceededError):
            # More attempts, another agent or a person cannot make spent money unspent, and
            # each would spend more: the step fails now (and no replan follows).
            self.budget_failed.append(sid)
            self._fail_step(sid, error, events)
            return
        attempt = self.state.attempt[sid]
        agent = self.agents[sid].spec.name
        decision = self.ex.recovery.decide(
            Failure(
                step=self.steps[sid],
                agent=agent,
                error=error,
                attempt=self.agent_attempts[sid],
                tried_agents=tuple(self.tried[sid]),
                plan_recovery=self.plan.recovery,
            )
        )
        text, error_class = _describe(error), classify(error).value
        recovery = partial(
            StepRecovery,
            execution_id=self.id,
            step_id=sid,
            error_class=error_class,
            agent=agent,
        )
        if isinstance(decision, UseAlternative):
            # The next attempt runs on another agent of the same capability, right away.
            self.agents[sid] = self.ex.registry.get(decision.agent)
            self.tried[sid].append(decision.agent)
            self.agent_attempts[sid] = 0
            self.state.back_off(sid)
            self.state.retry_due(sid)
            events.append(
                recovery(rung="alternative", detail=f"{text}; trying {decision.agent!r} instead")
            )
            return
        if isinstance(decision, AskHuman):
            self.state.put_in_doubt(sid)
            self.errors[sid] = decision.reason
            events.append(recovery(rung="ask", detail=text))
            events.append(
                StepInDoubt(
                    execution_id=self.id,
                    step_id=sid,
                    reason=f"{decision.reason}; decide with `baton resolve {self.id} {sid} "
                    "--retry | --skip | --mark-done --output JSON | --abort`",
                )
            )
            return
        if isinstance(decision, Retry):
            self.state.back_off(sid)
            events.append(
                StepRetrying(
                    execution_id=self.id,
                    step_id=sid,
                    attempt=attempt,
                    error=text,
                    error_class=error_class,
                    delay_s=decision.delay_s,
                )
            )
            tg.start_soon(self._retry_after, sid, decision.delay_s)
            return
        if len(self.tried[sid]) > 1:  # the ladder went past the plan's agent: say how it ended
            events.append(recovery(rung="fail", detail=text))
        self._fail_step(sid, error, events)

    async def _through_gates(self, launch: list[str], events: list[RunEvent]) -> list[str]:
        """Hold back the steps that need a person's approval and do not have it yet."""
        assert self.gates is not None
        cleared: list[str] = []
        for sid in launch:
            outcome = await self.gates.check(self.steps[sid], self.outputs)
            if isinstance(outcome, Cleared):
                if outcome.inputs is not None:
                    self.approved_inputs[sid] = outcome.inputs
                cleared.append(sid)
            elif isinstance(outcome, Refused):
                self.refused.append(sid)
                self._fail_step(sid, outcome.error, events)
            else:
                self.state.await_approval(sid)
                events.append(
                    ApprovalRequested(
                        execution_id=self.id,
                        step_id=sid,
                        approval_id=outcome.approval_id,
                        reason=outcome.reason,
                        impact=outcome.impact,
                    )
                )
        return cleared

    def _fail_step(self, sid: str, error: BaseException, events: list[RunEvent]) -> None:
        """Fail a step for good and skip what depends on it."""
        text = _describe(error)
        self.errors[sid] = text
        events.append(
            StepFailed(
                execution_id=self.id,
                step_id=sid,
                error=text,
                error_type=type(error).__name__,
                error_class=classify(error).value,
                attempts=self.state.attempt[sid],
                started_at=self.started_at.get(sid),
            )
        )
        for skipped in self.state.fail(sid):
            cause = self.state.first_failed_dependency(skipped) or sid
            reason = f"dependency {cause!r} did not succeed"
            self.errors[skipped] = reason
            events.append(StepSkipped(execution_id=self.id, step_id=skipped, reason=reason))

    async def _retry_after(self, sid: str, delay_s: float) -> None:
        await anyio.sleep(delay_s)
        self.send.send_nowait(RetryDue(sid))

    async def _watch(self, tg: TaskGroup, lease: Lease) -> None:
        """Renew the lease, and stop when it is lost or someone asks to cancel."""
        while True:
            await anyio.sleep(self.ex.options.cancel_poll_s)
            if not await lease.keep():
                tg.cancel_scope.cancel()
                return
            record = await self.ex.store.get_execution(self.id)
            if record.cancel_requested:
                self.cancel_requested = True
                tg.cancel_scope.cancel()
                return

    async def _commit(self, events: list[RunEvent]) -> None:
        if not events:
            return
        # The state machine has already moved on these events, so they must reach the store
        # even when a cancellation arrives now (it is delivered right after). A store whose
        # append never suspends cannot be interrupted, and skips the shield's cost (a fifth
        # of a no-op step in memory).
        if self.ex.store.append_never_suspends:
            await self.ex.store.append(events)
        else:
            with anyio.CancelScope(shield=True):
                await self.ex.store.append(events)
        for listener in self.listeners:
            listener(events)
        if self.on_event is not None:
            for e in events:
                self.on_event(e)

    async def _record_cancelled(self) -> None:
        events: list[RunEvent] = []
        for sid in self.state.unfinished():
            self.state.status[sid] = StepStatus.CANCELLED
            events.append(StepCancelled(execution_id=self.id, step_id=sid))
        events.append(
            ExecutionFinished(
                execution_id=self.id,
                status=ExecutionStatus.CANCELLED,
                error="the execution was cancelled",
            )
        )
        await self._commit(events)

    def _final_status(self) -> ExecutionStatus:
        if any(st is StepStatus.CANCELLED for st in self.state.status.values()):
            return ExecutionStatus.CANCELLED
        if all(st is StepStatus.SUCCEEDED for st in self.state.status.values()):
            return ExecutionStatus.SUCCEEDED
        return ExecutionStatus.FAILED

    def _summary_error(self) -> str:
        failed = [s for s, st in self.state.status.items() if st is StepStatus.FAILED]
        if not failed:
            return "the execution did not finish"
        if self.budget_failed:
            first = self.budget_failed[0]
            return (
                "the execution's model budget was reached: step "
                f"{first!r} failed: {self.errors.get(first, '')}"
            )
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        summary = f"step {first!r} failed{more}: {self.errors.get(first, '')}"
        revisions, opts = self.plan.version - 1, self.ex.options
        if self.replan_failure is not None:
            summary += f"; replanning failed: {self.replan_failure}"
        elif opts.replanner is not None and 0 < opts.max_replans <= revisions:
            summary += f"; the plan was already revised {revisions} time(s), the most allowed"
        return summary

    async def _replanned(self) -> bool:
        """Nothing runs, and steps failed: go on with a revised plan if one may and does come.

        Not when the execution waits for a person (it has not failed), when the budget
        stopped it, when a person rejected a step (a new plan must not work around a "no"),
        or when the plan has been revised `max_replans` times already.
        """
        opts = self.ex.options
        replanner = opts.replanner
        status = self.state.status
        failed = {s: self.errors.get(s, "") for s, st in status.items() if st is StepStatus.FAILED}
        if (
            replanner is None
            or not failed
            or self.budget_failed
            or self.refused
            or self.state.in_doubt()
            or self.state.awaiting_approval()
            or self.plan.version - 1 >= opts.max_replans
        ):
            return False
        reason = self._summary_error()
        succeeded = [s for s, st in status.items() if st is StepStatus.SUCCEEDED]
        try:
            # Replanning calls a model too: not once the budget is spent.
            spent = await self.spending.spent(self.plan)
            check_budget(self.plan.budget, spent)
            proposed = await replanner(
                self.plan,
                finished={s: self.outputs[s] for s in succeeded},
                failed=failed,
                reason=reason,
                spent=spent,
            )
            revision = revise(
                self.plan, proposed, succeeded=succeeded, reason=reason, registry=self.ex.registry
            )
        except Exception as exc:
            self.replan_failure = _describe(exc)
            return False
        await self._commit(
            [
                PlanRevised(
                    execution_id=self.id,
                    plan=revision.plan.model_dump(mode="json"),
                    version=revision.plan.version,
                    reason=reason,
                    added=revision.added,
                    removed=revision.removed,
                )
            ]
        )
        self._adopt(revision)
        return True

    def _adopt(self, revision: Revision) -> None:
        """Run `revision`'s plan from now on: kept steps stay succeeded, the rest start afresh."""
        plan = revision.plan
        for sid in (*revision.removed, *revision.added):
            self.errors.pop(sid, None)
        for sid in revision.removed:
            for table in (self.agents, self.tried, self.agent_attempts):
                table.pop(sid, None)
        # The workers share `steps` and `agents`: change them in place.
        self.steps.clear()
        self.steps.update({s.id: s for s in plan.steps})
        for sid in revision.added:
            agent = self.steps[sid].agent
            self.agents[sid] = self.ex.registry.get(agent)
            self.tried[sid] = [agent]
            self.agent_attempts[sid] = 0
        self.plan = plan
        kept = {s: StepStatus.SUCCEEDED for s in self.steps if s not in revision.added}
        self.state = RunState(plan, limits=self._limits(), estimate=self._estimate, known=kept)
        self.workers.add_steps({s: self.steps[s] for s in revision.added}, plan.version)
        self.gates = self._make_gates()

    def _result(self, status: ExecutionStatus, duration_s: float) -> ExecutionResult:
        return ExecutionResult(
            execution_id=self.id,
            status=status,
            outputs=dict(self.outputs),
            steps=dict(self.state.status),
            errors=dict(self.errors),
            duration_s=duration_s,
        )


def _is_store_failure(exc: BaseException) -> bool:
    if isinstance(exc, StoreError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_is_store_failure(e) for e in exc.exceptions)  # pyright: ignore[reportUnknownVariableType, reportUnknownMemberType, reportUnknownArgumentType]
    return False


def _describe(error: BaseException) -> str:
    if isinstance(error, BatonError):
        return error.message
    return f"{type(error).__name__}: {error}"


__all__ = ["EventCallback", "ExecutionResult", "Executor", "ExecutorOptions"]
