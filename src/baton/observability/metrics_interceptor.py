"""`MetricsInterceptor`: executions and steps, counted from the events the executor commits.

It sits on the executor's hot path (every committed batch of every execution), so it counts
in plain numbers (`baton.observability.metrics_counts`), about a microsecond per step, and
is the collector that turns them into metric families when its registry is scraped.

Memory: per agent, its counts (a bounded set: agents are registered code); per execution
while it runs, step -> agent and step -> class of the failure a recovery rung ended,
forgotten when its run ends (`execution` exits, or it finishes or starts waiting).

Where each figure comes from:

- ``execution_started`` / ``execution_finished``: started and finished counters, the
  lifetime success ratio, and the duration histogram (finished ``at`` minus started ``at``).
- ``step_started`` maps the step to its agent (the one running it: after an ``alternative``
  rung, the stand-in) and counts the attempt.
- ``step_succeeded`` (its ``duration_s``) and ``step_failed`` (``at`` minus the last
  attempt's ``started_at``) feed the step duration histogram; every final step status
  counts in ``baton_steps_finished_total``.
- Failed attempts count in ``baton_step_errors_total`` once each, from the event that says
  what happens next: ``step_retrying``, ``step_recovery`` (``alternative`` or ``ask``) or
  ``step_failed``, each of which carries the error's class (events recorded before the
  class was noted fall back on ``step_failed.error_type``). Nothing is done around the
  attempts themselves.
"""

from __future__ import annotations

import contextlib
import logging
from bisect import bisect_left
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from baton.errors import ErrorClass
from baton.events import (
    ApprovalRequested,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionWaiting,
    RunEvent,
    StepCancelled,
    StepFailed,
    StepRecovery,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from baton.observability.metrics_counts import AgentCounts, Counts
from baton.observability.metrics_errors import class_of_name

__all__ = ["DurationObserver", "MetricsInterceptor"]

log = logging.getLogger("baton.observability.metrics")


class DurationObserver(Protocol):
    """Told each step's and execution's duration as it is counted (the OTLP export)."""

    def step_duration(self, agent: str, status: str, seconds: float) -> None:
        """A step finished (``succeeded`` or ``failed``) after `seconds`."""
        ...

    def execution_duration(self, status: str, seconds: float) -> None:
        """An execution's run reached a final status after `seconds`."""
        ...


class _RunMemory:
    """What the interceptor remembers about one execution while it runs."""

    __slots__ = ("agents", "errors", "started_at")

    def __init__(self) -> None:
        self.agents: dict[str, AgentCounts] = {}
        """Step id -> counts of the agent running it."""
        self.errors: dict[str, str] = {}
        """Step id -> error class of its last failed attempt, until an event counts it."""
        self.started_at: datetime | None = None
        """When this run of the execution started."""


class MetricsInterceptor(Collector):
    """A `baton.core.interceptors.RunInterceptor` counting runs, and the collector of them.

    Made (and registered) by `baton.observability.metrics.Metrics`; give
    ``metrics.interceptor`` to ``ExecutorOptions.interceptors``.
    """

    def __init__(self) -> None:
        """Start from zero."""
        self.counts = Counts()
        """What has been counted (read by scrapes)."""
        self.durations: DurationObserver | None = None
        """Told each duration too, when set (None: only the counts take them)."""
        self._runs: dict[str, _RunMemory] = {}
        self._unknown = self.counts.unknown
        self._handlers: dict[type[object], Callable[[_RunMemory, Any], None]] = {
            ExecutionStarted: self._execution_started,
            StepFailed: self._step_failed,
            StepRetrying: self._step_retrying,
            StepRecovery: self._step_recovery,
            StepSkipped: self._step_skipped,
            StepCancelled: self._step_cancelled,
            ApprovalRequested: self._approval_requested,
        }

    @property
    def watched_executions(self) -> int:
        """Executions the interceptor holds memory for (bounded by those running)."""
        return len(self._runs)

    def execution(self, execution_id: str, workspace_id: str) -> _ExecutionWatch:
        """Count the execution in progress while its run lasts; forget it afterwards."""
        return _ExecutionWatch(self, execution_id)

    watches_attempts = False
    """Nothing to do around attempts: the events carry each failure's error class
    (`baton.core.interceptors.attempt_watchers` leaves this interceptor out there)."""

    def step_attempt(
        self, execution_id: str, step_id: str, agent: str, attempt: int
    ) -> AbstractAsyncContextManager[None]:
        """Nothing (see `watches_attempts`); there for the protocol."""
        return contextlib.nullcontext()

    def events(self, events: Sequence[RunEvent]) -> None:
        """Count committed events; never raises."""
        handlers = self._handlers
        runs = self._runs
        agents = self.counts.agents
        observer = self.durations
        try:
            for event in events:
                # A step's start and success (nearly all the events of a healthy run) are
                # counted inline, narrowed by `type(...) is` rather than `cast` (a call): a
                # handler call less per event is a third of the cost here.
                if type(event) is StepStarted:
                    run = runs.get(event.execution_id)
                    if run is None:
                        run = runs[event.execution_id] = _RunMemory()
                    agent = agents.get(event.agent) or self.counts.agent(event.agent)
                    run.agents[event.step_id] = agent
                    agent.started += 1
                    continue
                if type(event) is StepSucceeded:
                    run = runs.get(event.execution_id)
                    if run is None:
                        run = runs[event.execution_id] = _RunMemory()
                    agent = run.agents.pop(event.step_id, self._unknown)
                    agent.succeeded += 1
                    # `PlainHistogram.observe` written out: a call less per step.
                    histogram, took = agent.succeeded_s, event.duration_s
                    histogram.counts[bisect_left(histogram.bounds, took)] += 1
                    histogram.total += took
                    if observer is not None:
                        observer.step_duration(agent.name, "succeeded", took)
                    continue
                if type(event) is ExecutionFinished:
                    self._execution_finished(runs.pop(event.execution_id, None), event)
                    continue
                if type(event) is ExecutionWaiting:
                    runs.pop(event.execution_id, None)
                    continue
                handler = handlers.get(type(event))
                if handler is None:
                    continue
                run = runs.get(event.execution_id)
                if run is None:
                    run = runs[event.execution_id] = _RunMemory()
                handler(run, event)
        except Exception:  # a bug here must not break the run that committed the events
            log.exception("metrics could not count a batch of events")

    def enter(self, execution_id: str) -> None:
        """An execution's run begins in this process (`execution` calls it)."""
        self.counts.in_progress += 1
        self._runs.setdefault(execution_id, _RunMemory())

    def leave(self, execution_id: str) -> None:
        """An execution's run has ended, however it ended: forget it."""
        self.counts.in_progress -= 1
        self._runs.pop(execution_id, None)

    def describe(self) -> list[Metric]:
        """The families (for the registry's duplicate check at registration)."""
        return self.counts.families()

    def collect(self) -> list[Metric]:
        """Every family of executions and steps, as of now."""
        return self.counts.families()

    def _execution_started(self, run: _RunMemory, event: ExecutionStarted) -> None:
        self.counts.started += 1
        run.started_at = event.at

    def _execution_finished(self, run: _RunMemory | None, event: ExecutionFinished) -> None:
        status, counts = event.status, self.counts
        if status not in counts.finished:  # not a final status: nothing to count
            return
        counts.finished[status] += 1
        if run is not None and run.started_at is not None:
            took = max((event.at - run.started_at).total_seconds(), 0.0)
            counts.durations[status].observe(took)
            if self.durations is not None:
                self.durations.execution_duration(status.value, took)

    def _step_failed(self, run: _RunMemory, event: StepFailed) -> None:
        agent = run.agents.pop(event.step_id, self._unknown)
        agent.failed += 1
        if event.started_at is not None:
            took = max((event.at - event.started_at).total_seconds(), 0.0)
            agent.failed_s.observe(took)
            if self.durations is not None:
                self.durations.step_duration(agent.name, "failed", took)
        noted = run.errors.pop(event.step_id, None)
        agent.error(event.error_class or noted or class_of_name(event.error_type).value)

    def _step_retrying(self, run: _RunMemory, event: StepRetrying) -> None:
        agent = run.agents.get(event.step_id, self._unknown)
        agent.retries += 1
        noted = run.errors.pop(event.step_id, None)
        # Only retryable errors are retried: an event from before classes were noted in
        # events (and with no rung's note) says transient.
        agent.error(event.error_class or noted or ErrorClass.TRANSIENT.value)

    def _step_recovery(self, run: _RunMemory, event: StepRecovery) -> None:
        key, recoveries = (event.rung, event.error_class), self.counts.recoveries
        recoveries[key] = recoveries.get(key, 0) + 1
        if event.rung == "fail":  # the step_failed that follows counts it, with this class
            run.errors[event.step_id] = event.error_class
            return
        run.errors.pop(event.step_id, None)
        self.counts.agent(event.agent).error(event.error_class)

    def _step_skipped(self, run: _RunMemory, event: StepSkipped) -> None:
        run.agents.pop(event.step_id, self._unknown).skipped += 1

    def _step_cancelled(self, run: _RunMemory, event: StepCancelled) -> None:
        run.errors.pop(event.step_id, None)
        run.agents.pop(event.step_id, self._unknown).cancelled += 1

    def _approval_requested(self, run: _RunMemory, event: ApprovalRequested) -> None:
        self.counts.approvals += 1


class _ExecutionWatch:
    """`MetricsInterceptor.execution`: in progress while entered; forgotten on exit."""

    __slots__ = ("_execution_id", "_owner")

    def __init__(self, owner: MetricsInterceptor, execution_id: str) -> None:
        self._owner = owner
        self._execution_id = execution_id

    async def __aenter__(self) -> None:
        self._owner.enter(self._execution_id)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._owner.leave(self._execution_id)
