"""Pure scheduling state of one execution: what is ready, what runs, what is left.

No I/O and no event loop: the executor feeds it completions and failures and asks it what to
start next. Scheduling is DAG-optimal (a step is ready the moment its own dependencies have
succeeded) and, under concurrency limits, critical-path first.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from baton.core.graph import Dag
from baton.core.plan import Plan
from baton.events import StepStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class ConcurrencyLimits:
    """How many steps may run at once."""

    max_concurrency: int = 32
    """Across the whole execution."""
    per_agent: Mapping[str, int] = field(default_factory=dict[str, int])
    """Per agent name; agents not listed are bounded only by `max_concurrency`."""


_KEPT_ON_RESUME = frozenset(
    {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.IN_DOUBT}
)


class RunState:
    """Statuses, readiness and priorities of an execution's steps."""

    def __init__(
        self,
        plan: Plan,
        *,
        limits: ConcurrencyLimits,
        estimate: Callable[[str], float] | None = None,
        known: Mapping[str, StepStatus] | None = None,
    ) -> None:
        """Set up the state.

        Args:
            plan: A validated plan.
            limits: Concurrency limits.
            estimate: Expected duration of a step (by id), for priorities; 1.0 if omitted.
            known: Statuses from an earlier run of the execution (resume). Succeeded, failed
                and skipped steps are final and never run again; steps in doubt wait for a
                person (and so do their dependents); anything else runs.
        """
        self._dag = Dag.of(plan)
        self._agent = {s.id: s.agent for s in plan.steps}
        self._limits = limits
        self._position = {s.id: i for i, s in enumerate(plan.steps)}
        self._rank = self._dag.remaining_path(estimate or (lambda _s: 1.0))
        self.status: dict[str, StepStatus] = dict.fromkeys(self._dag.order, StepStatus.PENDING)
        self.attempt: dict[str, int] = dict.fromkeys(self._dag.order, 0)
        self._running_per_agent: dict[str, int] = {}
        self._running = 0
        self._waiting: dict[str, int] = {}
        self._ready: list[tuple[float, int, str]] = []
        self._backing_off = 0
        for sid, st in (known or {}).items():
            if sid in self.status and st in _KEPT_ON_RESUME:
                self.status[sid] = st
        dead = [s for s, st in self.status.items() if st in (StepStatus.FAILED, StepStatus.SKIPPED)]
        self.skipped_on_start: list[str] = self._skip_dependents_of(dead)
        """Pending steps that can no longer run because a dependency failed earlier."""
        for sid in self._dag.order:
            if self.status[sid] is not StepStatus.PENDING:
                continue
            unmet = sum(
                1 for d in self._dag.deps[sid] if self.status[d] is not StepStatus.SUCCEEDED
            )
            self._waiting[sid] = unmet
            if unmet == 0:
                self._push(sid)

    @property
    def dag(self) -> Dag:
        """The plan's graph."""
        return self._dag

    def _push(self, sid: str) -> None:
        heapq.heappush(self._ready, (-self._rank[sid], self._position[sid], sid))

    def is_active(self) -> bool:
        """True while any step is ready, running, or waiting to be retried."""
        return bool(self._ready) or self._running > 0 or self._backing_off > 0

    def take_ready(self) -> list[str]:
        """Pop the steps to start now, longest remaining path first, within the limits.

        The returned steps are marked running (their attempt counter is advanced).
        """
        started: list[str] = []
        held: list[tuple[float, int, str]] = []
        per_agent = self._limits.per_agent
        while self._ready and self._running < self._limits.max_concurrency:
            entry = heapq.heappop(self._ready)
            sid = entry[2]
            agent = self._agent[sid]
            cap = per_agent.get(agent)
            if cap is not None and self._running_per_agent.get(agent, 0) >= cap:
                held.append(entry)
                continue
            self._running += 1
            self._running_per_agent[agent] = self._running_per_agent.get(agent, 0) + 1
            self.status[sid] = StepStatus.RUNNING
            self.attempt[sid] += 1
            started.append(sid)
        for entry in held:
            heapq.heappush(self._ready, entry)
        return started

    def _release(self, sid: str) -> None:
        self._running -= 1
        self._running_per_agent[self._agent[sid]] -= 1

    def succeed(self, sid: str) -> list[str]:
        """Mark `sid` succeeded; return dependents that became ready."""
        self._release(sid)
        self.status[sid] = StepStatus.SUCCEEDED
        ready: list[str] = []
        for d in self._dag.dependents[sid]:
            if self.status[d] is not StepStatus.PENDING:
                continue
            self._waiting[d] -= 1
            if self._waiting[d] == 0:
                self._push(d)
                ready.append(d)
        return ready

    def back_off(self, sid: str) -> None:
        """`sid` failed an attempt and will be retried: free its slot while it waits."""
        self._release(sid)
        self.status[sid] = StepStatus.PENDING
        self._backing_off += 1

    def retry_due(self, sid: str) -> None:
        """The back-off of `sid` is over: it is ready again."""
        self._backing_off -= 1
        self._push(sid)

    def await_approval(self, sid: str) -> None:
        """`sid` waits for a person's approval: free its slot; its dependents wait."""
        self._release(sid)
        self.status[sid] = StepStatus.AWAITING_APPROVAL

    def awaiting_approval(self) -> list[str]:
        """Steps waiting for an approval."""
        return [s for s, st in self.status.items() if st is StepStatus.AWAITING_APPROVAL]

    def put_in_doubt(self, sid: str) -> None:
        """`sid` stopped for a person's decision: free its slot; its dependents wait."""
        self._release(sid)
        self.status[sid] = StepStatus.IN_DOUBT

    def fail(self, sid: str) -> list[str]:
        """Mark `sid` failed; return the pending steps that now cannot run (transitively)."""
        self._release(sid)
        self.status[sid] = StepStatus.FAILED
        return self._skip_dependents_of([sid])

    def _skip_dependents_of(self, roots: Iterable[str]) -> list[str]:
        skipped: list[str] = []
        stack = list(roots)
        while stack:
            for d in self._dag.dependents[stack.pop()]:
                if self.status[d] is StepStatus.PENDING:
                    self.status[d] = StepStatus.SKIPPED
                    skipped.append(d)
                    stack.append(d)
        if skipped:
            gone = set(skipped)
            self._ready = [e for e in self._ready if e[2] not in gone]
            heapq.heapify(self._ready)
        return skipped

    def unfinished(self) -> list[str]:
        """Steps that are pending or running (to cancel when the execution stops)."""
        return [
            s for s, st in self.status.items() if not st.finished and st is not StepStatus.IN_DOUBT
        ]

    def in_doubt(self) -> list[str]:
        """Steps waiting for a person's decision."""
        return [s for s, st in self.status.items() if st is StepStatus.IN_DOUBT]

    def first_failed_dependency(self, sid: str) -> str | None:
        """A dependency of `sid` that failed or was skipped (to explain a skip)."""
        for d in self._dag.deps[sid]:
            if self.status[d] in (StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED):
                return d
        return None
