"""Values the executor takes and returns: options, the result, and the event callback."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton.core.budgets import UsageOf
from baton.core.caching import ResultCache
from baton.core.interceptors import RunInterceptor
from baton.core.lease import new_owner_id
from baton.core.replanning import Replanner
from baton.core.run_state import ConcurrencyLimits
from baton.events import ExecutionStatus, RunEvent, StepStatus
from baton.safety.approvals import Approvals
from baton.safety.locks import ResourceLocks
from baton.safety.rate_limit import RateLimiter
from baton.store.context import ContextStore
from baton.store.messages import MessageStore

EventCallback = Callable[[RunEvent], None]
"""Called with every event of a run, after it is committed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionResult:
    """How an execution ended."""

    execution_id: str
    """The execution."""
    status: ExecutionStatus
    """Final status."""
    outputs: dict[str, dict[str, Any]]
    """Outputs of the steps that succeeded, by step id."""
    steps: dict[str, StepStatus]
    """Final status of every step."""
    errors: dict[str, str] = field(default_factory=dict[str, str])
    """Why each failed or skipped step did not succeed."""
    duration_s: float = 0.0
    """Wall time of this run."""

    @property
    def ok(self) -> bool:
        """True if the execution succeeded."""
        return self.status is ExecutionStatus.SUCCEEDED


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorOptions:
    """Knobs of the executor that do not change per execution."""

    limits: ConcurrencyLimits = field(default_factory=ConcurrencyLimits)
    """Concurrency limits."""
    workspace: Path = field(default_factory=Path.cwd)
    """Handed to agents in their context."""
    secrets: Mapping[str, str] = field(default_factory=dict[str, str])
    """Handed to agents in their context."""
    cancel_poll_s: float = 1.0
    """How often to renew the lease and check for a cancel request from another process."""
    owner: str = field(default_factory=new_owner_id)
    """Who holds the leases this executor takes (host, process and a random part)."""
    lease_ttl_s: float = 30.0
    """How long a lease lasts without renewal; another process may take over after that."""
    rate_limiter: RateLimiter | None = None
    """Per-integration quotas, keyed by the agents' ``rate_limit_key``."""
    locks: ResourceLocks | None = None
    """Resource locks for steps that declare ``resources``."""
    context_store: ContextStore | None = None
    """Backs each step's ``ctx.context``."""
    message_store: MessageStore | None = None
    """Backs each step's ``ctx.messenger``."""
    workspace_id: str = "default"
    """Tenant of the executions (scopes the shared context)."""
    approvals: Approvals | None = None
    """Approval gates: steps the policy selects wait for a person (None: no gates)."""
    interceptors: tuple[RunInterceptor, ...] = ()
    """Tracing, metrics and logging around runs, agent calls and events (see
    `baton.core.interceptors`)."""
    replanner: Replanner | None = None
    """Revises the plan when steps fail for good (None: the execution fails as it is)."""
    max_replans: int = 2
    """Revisions of one execution's plan at most (counted by the plan's version)."""
    usage_of: UsageOf | None = None
    """What an execution's steps have spent on models (for the plan's budget); None when
    model calls are not recorded, so only planning counts."""
    cache: ResultCache | None = None
    """The smart cache: cacheable agents' outputs reused for the same inputs (None: off)."""
    on_cache_lookup: Callable[[bool], None] | None = None
    """Called after each cache lookup with whether it hit (e.g. `Metrics.record_cache`)."""
