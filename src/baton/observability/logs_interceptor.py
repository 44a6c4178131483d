"""`LoggingInterceptor`: log context around runs and attempts, and log records from events.

It implements `baton.core.interceptors.RunInterceptor` (structurally: observability sits
below core and does not import it):

- `execution` sets the execution and workspace in the log context of the task that runs
  the execution, which its step workers inherit;
- `step_attempt` adds the step, and remembers the attempt's agent and OpenTelemetry span, so
  an agent's log lines (which reach `events` later, once committed) carry them; with
  tracing on, the tracing interceptor does this as it makes the attempt's span current
  (`attempt_context`), and the step's context rides in the same OpenTelemetry context;
- `events` turns committed events into records: the agents' ``log`` events on
  ``baton.agent.<agent>`` at their level; on ``baton.run``: execution started (info) and
  finished (info, warning when cancelled, error when failed), waiting (warning), step
  retries, recovery rungs and doubts (warning), failures (error), skips and approval
  requests (info), and step starts and successes (debug only: checked before anything is
  built, so a no-op step costs a dict lookup here).

A step's context is set per attempt for a few microseconds (no record is made unless
something is logged), which keeps the per-step overhead of the executor's benchmarks small.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextvars import Token
from types import TracebackType
from typing import Any

from opentelemetry.trace import Span

from baton.events import (
    ApprovalRequested,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    ExecutionWaiting,
    RunEvent,
    StepCancelled,
    StepFailed,
    StepInDoubt,
    StepLog,
    StepRecovery,
    StepReset,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from baton.observability.logs_context import (
    LogContext,
    current_context,
    current_trace,
    reset_context,
    set_context,
    span_hex_ids,
)
from baton.observability.tracing_context import CONTEXT_VAR, SPAN_KEY, current_span

__all__ = ["AGENT_LOGGER", "RUN_LOGGER", "LoggingInterceptor"]

RUN_LOGGER = "baton.run"
"""The logger of the engine's records about executions and steps."""
AGENT_LOGGER = "baton.agent"
"""Agents' lines go to ``baton.agent.<agent name>``."""

_new_context: Callable[[type[LogContext], tuple[str | None, ...]], LogContext] = tuple.__new__  # pyright: ignore[reportAssignmentType, reportUnknownMemberType, reportUnknownVariableType]
_AGENT_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
_FINISHED_LEVELS = {
    ExecutionStatus.SUCCEEDED: logging.INFO,
    ExecutionStatus.CANCELLED: logging.WARNING,
    ExecutionStatus.FAILED: logging.ERROR,
}


class _Run:
    """What the interceptor knows of one running execution."""

    __slots__ = ("agents", "runs", "traced", "traces", "workspace_id")

    def __init__(self, workspace_id: str, *, traced: bool) -> None:
        self.workspace_id = workspace_id
        self.traced = traced
        """A span was current around the run: attempts' spans are worth looking up."""
        self.agents: dict[str, str] = {}
        self.traces: dict[str, object] = {}
        """Step id -> the span current in its last attempt (checked, and its ids read, only
        when a record needs them)."""
        self.runs = 1
        """Runs of the execution in this process now (a second one is refused by the lease,
        but only once inside: it must not take the first one's state away)."""


class _ExecutionScope:
    __slots__ = ("_execution_id", "_owner", "_token", "_workspace_id")

    def __init__(self, owner: LoggingInterceptor, execution_id: str, workspace_id: str) -> None:
        self._owner = owner
        self._execution_id = execution_id
        self._workspace_id = workspace_id
        self._token: Any = None

    async def __aenter__(self) -> LogContext:
        ctx = LogContext(execution_id=self._execution_id, workspace_id=self._workspace_id)
        self._token = set_context(ctx)
        runs = self._owner.runs
        if (run := runs.get(self._execution_id)) is not None:
            run.runs += 1
        else:
            traced = current_trace() is not None
            runs[self._execution_id] = _Run(self._workspace_id, traced=traced)
        return ctx

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is not None and isinstance(exc, Exception):
                self._owner.emit(
                    logging.ERROR,
                    RUN_LOGGER,
                    f"the run of the execution ended with {type(exc).__name__}: {exc}",
                    self._execution_id,
                    None,
                )
        finally:
            runs = self._owner.runs
            if (run := runs.get(self._execution_id)) is not None:
                run.runs -= 1
                if run.runs <= 0:
                    del runs[self._execution_id]
            reset_context(self._token)


class _AttemptScope:
    """`LoggingInterceptor.step_attempt`: its `AttemptHooks` as a context manager."""

    __slots__ = ("_agent", "_attempt", "_execution_id", "_owner", "_step_id", "_token")

    def __init__(
        self, owner: LoggingInterceptor, execution_id: str, step_id: str, agent: str, attempt: int
    ) -> None:
        self._owner = owner
        self._execution_id = execution_id
        self._step_id = step_id
        self._agent = agent
        self._attempt = attempt
        self._token: Any = None

    async def __aenter__(self) -> LogContext:
        self._token = token = self._owner.enter_attempt(
            self._execution_id, self._step_id, self._agent, self._attempt
        )
        return token.var.get()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._owner.exit_attempt(self._token, exc)


class LoggingInterceptor:
    """Log context for runs and attempts, and log records from committed events."""

    def __init__(self, *, level: int = logging.INFO, owner: object | None = None) -> None:
        """Make records of `level` and above, tagged with `owner`.

        The owner is the aggregator whose handler takes them: another aggregator in the same
        process leaves them alone.
        """
        self.level = level
        """The least severe level made."""
        self.owner = owner
        """Set on each record as ``baton_owner``."""
        self.runs: dict[str, _Run] = {}
        """The executions running now, by id."""
        self._loggers: dict[str, logging.Logger] = {}
        handlers: dict[type[Any], Callable[[Any], None]] = {
            StepLog: self._step_log,
            ExecutionStarted: self._execution_started,
            ExecutionFinished: self._execution_finished,
            ExecutionWaiting: self._execution_waiting,
            StepRetrying: self._step_retrying,
            StepFailed: self._step_failed,
            StepRecovery: self._step_recovery,
            StepInDoubt: self._step_in_doubt,
            StepSkipped: self._step_skipped,
            StepReset: self._step_reset,
            ApprovalRequested: self._approval,
        }
        if level <= logging.DEBUG:
            handlers |= {
                StepStarted: self._step_started,
                StepSucceeded: self._step_succeeded,
                StepCancelled: self._step_cancelled,
            }
        self._handlers = handlers

    def execution(self, execution_id: str, workspace_id: str) -> _ExecutionScope:
        """Set the execution and workspace in the log context for the run."""
        return _ExecutionScope(self, execution_id, workspace_id)

    def step_attempt(
        self, execution_id: str, step_id: str, agent: str, attempt: int
    ) -> _AttemptScope:
        """Set the step in the log context for the attempt."""
        return _AttemptScope(self, execution_id, step_id, agent, attempt)

    def enter_attempt(
        self, execution_id: str, step_id: str, agent: str, attempt: int
    ) -> Token[LogContext]:
        """Set the step in the log context (`baton.core.interceptors.AttemptHooks`)."""
        # The current span itself (checked only when a record needs its ids, in `emit`),
        # read off the context variable rather than through `current_span`.
        var = CONTEXT_VAR
        span = var.get().get(SPAN_KEY) if var is not None else current_span()
        return set_context(self.attempt_context(execution_id, step_id, agent, span))

    watches_attempts = True
    """False once the tracing interceptor carries the attempts' log context
    (`attempt_context`): then `baton.core.interceptors.attempt_watchers` leaves this
    interceptor out around attempts."""

    def attempt_context(
        self, execution_id: str, step_id: str, agent: str, span: object
    ) -> LogContext:
        """What `enter_attempt` does, less setting the context: the caller carries it.

        The tracing interceptor calls it as it makes the attempt's `span` current
        (`TracingInterceptor.carry_log_context`) and puts the returned context under
        `ATTEMPT_KEY` in the same OpenTelemetry context, where `current_context` finds it.
        """
        run = self.runs.get(execution_id)
        if run is None:
            workspace_id = current_context().workspace_id
        else:
            workspace_id = run.workspace_id
            run.agents[step_id] = agent
            if run.traced:
                run.traces[step_id] = span
        # Made as `LogContext.__new__` makes it, without its Python-level call (per attempt).
        return _new_context(LogContext, (execution_id, workspace_id, step_id))

    def exit_attempt(self, state: object, exc: BaseException | None) -> None:
        """Put the log context back."""
        # `state` is the token `enter_attempt` returned (not `cast`: a call per attempt).
        reset_context(state)  # pyright: ignore[reportArgumentType]

    def events(self, events: Sequence[RunEvent]) -> None:
        """Make the records the events call for; never raises."""
        handlers = self._handlers
        for event in events:
            handle = handlers.get(type(event))
            if handle is not None:
                try:
                    handle(event)
                except Exception:  # must not raise after the commit
                    logging.getLogger(RUN_LOGGER).debug(
                        "could not log an event", exc_info=True, extra={"baton_local": True}
                    )

    def emit(
        self,
        level: int,
        logger_name: str,
        message: str,
        execution_id: str,
        step_id: str | None,
        **extra: Any,
    ) -> None:
        """Log `message` about an execution (and step), with its context and trace."""
        if level < self.level:
            return
        logger = self._loggers.get(logger_name)
        if logger is None:
            logger = self._loggers[logger_name] = logging.getLogger(logger_name)
        if not logger.isEnabledFor(level):
            return
        run = self.runs.get(execution_id)
        workspace_id = run.workspace_id if run is not None else current_context().workspace_id
        span = run.traces.get(step_id) if run is not None and step_id is not None else None
        trace = span_hex_ids(span) if isinstance(span, Span) else None
        logger.log(
            level,
            message,
            extra={
                **extra,
                "baton_context": LogContext(
                    execution_id=execution_id, workspace_id=workspace_id, step_id=step_id
                ),
                "baton_trace": trace if trace is not None else current_trace(),
                "baton_owner": self.owner,
            },
        )

    def _step_log(self, e: StepLog) -> None:
        run = self.runs.get(e.execution_id)
        agent = run.agents.get(e.step_id) if run is not None else None
        name = f"{AGENT_LOGGER}.{agent}" if agent else AGENT_LOGGER
        self.emit(
            _AGENT_LEVELS.get(e.level, logging.INFO), name, e.message, e.execution_id, e.step_id
        )

    def _run(self, level: int, e: RunEvent, message: str, step_id: str | None = None) -> None:
        self.emit(level, RUN_LOGGER, message, e.execution_id, step_id, event=e.kind)

    def _execution_started(self, e: ExecutionStarted) -> None:
        resumed = ", resumed" if e.resumed else ""
        self._run(logging.INFO, e, f"execution started ({e.step_count} steps{resumed})")

    def _execution_finished(self, e: ExecutionFinished) -> None:
        level = _FINISHED_LEVELS.get(e.status, logging.INFO)
        error = f": {e.error}" if e.error else ""
        self._run(level, e, f"execution {e.status.value}{error}")

    def _execution_waiting(self, e: ExecutionWaiting) -> None:
        self._run(logging.WARNING, e, f"execution waiting: {e.reason}")

    def _step_retrying(self, e: StepRetrying) -> None:
        message = (
            f"step {e.step_id} attempt {e.attempt} failed, retrying in {e.delay_s:.2f} s: {e.error}"
        )
        self._run(logging.WARNING, e, message, e.step_id)

    def _step_failed(self, e: StepFailed) -> None:
        kind = f"{e.error_type}: " if e.error_type else ""
        message = f"step {e.step_id} failed after {e.attempts} attempt(s): {kind}{e.error}"
        self._run(logging.ERROR, e, message, e.step_id)

    def _step_recovery(self, e: StepRecovery) -> None:
        message = (
            f"step {e.step_id}: recovery takes the {e.rung!r} rung after a {e.error_class} "
            f"error of {e.agent}: {e.detail}"
        )
        self._run(logging.WARNING, e, message, e.step_id)

    def _step_in_doubt(self, e: StepInDoubt) -> None:
        self._run(logging.WARNING, e, f"step {e.step_id} is in doubt: {e.reason}", e.step_id)

    def _step_skipped(self, e: StepSkipped) -> None:
        self._run(logging.INFO, e, f"step {e.step_id} skipped: {e.reason}", e.step_id)

    def _step_reset(self, e: StepReset) -> None:
        self._run(logging.INFO, e, f"step {e.step_id} reset: {e.reason}", e.step_id)

    def _approval(self, e: ApprovalRequested) -> None:
        message = f"step {e.step_id} waits for approval {e.approval_id}: {e.reason}"
        self._run(logging.INFO, e, message, e.step_id)

    def _step_started(self, e: StepStarted) -> None:
        message = f"step {e.step_id} attempt {e.attempt} started ({e.agent})"
        self._run(logging.DEBUG, e, message, e.step_id)

    def _step_succeeded(self, e: StepSucceeded) -> None:
        message = f"step {e.step_id} succeeded in {e.duration_s:.3f} s (attempt {e.attempt})"
        self._run(logging.DEBUG, e, message, e.step_id)

    def _step_cancelled(self, e: StepCancelled) -> None:
        self._run(logging.DEBUG, e, f"step {e.step_id} cancelled", e.step_id)
