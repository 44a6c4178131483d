"""Approval requests (human-in-the-loop gates): the records and the store they live in.

A step that needs a person's approval before it runs gets one `Approval`: what will run
(`Approval.inputs`), what it changes (`Approval.impact`), why it is gated (`Approval.reason`).
It is *bound* to the plan version (`plan_hash`), the step and a hash of the inputs it will run
with (`inputs_hash`), and it is used once:

```
pending --decide--> approved --mark_used--> used
   |                   (binding must match, before expires_at)
   +-----decide-----> rejected | expired
```

Every change is conditional, so two processes racing (two people deciding, two executors
consuming) cannot both win: `ApprovalStore.decide` acts only on a pending request, and
`ApprovalStore.mark_used` only on an approved, unexpired one whose binding matches. The
policy (which steps are gated, the default action on expiry, hashing) lives above, in
`baton.safety.approvals`. The SQL implementation is
`baton.store.sql.approvals.SqlApprovalStore`; both pass ``tests/store/test_approval_store.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, TypedDict

from baton.errors import NotFoundError, UsageError
from baton.ids import new_execution_id

__all__ = [
    "Approval",
    "ApprovalStatus",
    "ApprovalStore",
    "Clock",
    "Impact",
    "MemoryApprovalStore",
    "new_approval_id",
    "utcnow",
]

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


def utcnow() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(UTC)


def new_approval_id() -> str:
    """A new, time-sortable approval id such as ``ap_01hx...``."""
    return "ap_" + new_execution_id().removeprefix("ex_")


class ApprovalStatus(StrEnum):
    """Where an approval request stands."""

    PENDING = "pending"
    """Waiting for a person (or for its timeout)."""
    APPROVED = "approved"
    """A person (or the default action on timeout) allowed it; not used yet."""
    REJECTED = "rejected"
    """A person refused it."""
    EXPIRED = "expired"
    """Nobody decided in time and the default action is to reject."""
    USED = "used"
    """Approved and consumed by the step it was for; it cannot be used again."""


DECISIONS = frozenset({ApprovalStatus.APPROVED, ApprovalStatus.REJECTED, ApprovalStatus.EXPIRED})
"""The statuses `ApprovalStore.decide` may set."""


class Impact(TypedDict):
    """What approving a step changes (stored as JSON)."""

    summary: str
    """One sentence: what will happen."""
    targets: list[str]
    """Whom or what it touches: paths, email addresses, URLs."""
    reversible: bool
    """Whether it can be undone."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """One approval request and its decision."""

    id: str
    """``ap_...``."""
    workspace_id: str
    """The workspace of the execution."""
    execution_id: str
    """The execution the step belongs to."""
    step_id: str
    """The gated step."""
    agent: str
    """The agent the step runs."""
    plan_hash: str
    """Hash of the plan version the approval is for (`baton.safety.approvals.hash_plan`)."""
    inputs_hash: str
    """Hash of the inputs the step may run with: of `edited_inputs` once a person edited them."""
    inputs: dict[str, Any]
    """The inputs as requested (what would run)."""
    impact: Impact
    """What running it changes, for whom, and whether it can be undone."""
    reason: str
    """Why the step needs approval."""
    status: ApprovalStatus
    """Where the request stands."""
    created_at: datetime
    """When it was requested."""
    expires_at: datetime
    """Pending: when the default action applies. Approved: the deadline to use it."""
    decided_at: datetime | None = None
    """When it was decided (or expired)."""
    decided_by: str | None = None
    """Who decided (``timeout`` for the default action)."""
    decision_reason: str | None = None
    """Why, when given (required for a rejection)."""
    edited_inputs: dict[str, Any] | None = None
    """The inputs a person approved instead of `inputs`; the step runs with these."""

    @property
    def run_inputs(self) -> dict[str, Any]:
        """The inputs the step is allowed to run with."""
        return self.edited_inputs if self.edited_inputs is not None else self.inputs

    def binds(self, *, plan_hash: str, step_id: str, inputs_hash: str) -> bool:
        """Whether this approval is for exactly that plan version, step and inputs."""
        return (self.plan_hash, self.step_id, self.inputs_hash) == (plan_hash, step_id, inputs_hash)


class ApprovalStore(Protocol):
    """Where approval requests live; every change is atomic against every other caller."""

    async def create(self, approval: Approval) -> Approval:
        """Store a new request (status pending).

        Raises:
            UsageError: the id exists already, or the record is not pending.
        """
        ...

    async def get(self, approval_id: str) -> Approval:
        """The request with that id.

        Raises:
            NotFoundError: there is none.
        """
        ...

    async def list(
        self,
        status: ApprovalStatus | None = None,
        execution_id: str | None = None,
        workspace_id: str | None = None,
    ) -> list[Approval]:
        """Requests, oldest first, optionally only in one status, execution and workspace."""
        ...

    async def decide(
        self,
        approval_id: str,
        status: ApprovalStatus,
        *,
        by: str,
        reason: str | None = None,
        edited_inputs: dict[str, Any] | None = None,
        inputs_hash: str | None = None,
        expires_at: datetime | None = None,
    ) -> Approval | None:
        """Record a decision if the request is still pending.

        Args:
            approval_id: The request.
            status: approved, rejected or expired.
            by: Who decided.
            reason: Why.
            edited_inputs: Inputs a person approved instead of the requested ones.
            inputs_hash: A new input binding, if the caller rebinds the request (the
                `Approvals` service does not: an approval stays bound to what was shown).
            expires_at: A new deadline (for an approval: until when it may be used).

        Returns:
            The decided request, or None when it was no longer pending.

        Raises:
            NotFoundError: no such request.
            UsageError: `status` is not a decision.
        """
        ...

    async def mark_used(
        self, approval_id: str, *, plan_hash: str, step_id: str, inputs_hash: str
    ) -> bool:
        """Consume an approval: only if approved, unexpired and bound to exactly these.

        Returns:
            Whether it was consumed now (False: not approved, used, expired or not matching).
        """
        ...


def check_decision(status: ApprovalStatus) -> None:
    """Refuse a status `ApprovalStore.decide` cannot set."""
    if status not in DECISIONS:
        raise UsageError(f"an approval cannot be decided as {status.value!r}")


def check_new(approval: Approval) -> None:
    """Refuse a record that `ApprovalStore.create` cannot store."""
    if approval.status is not ApprovalStatus.PENDING:
        raise UsageError(f"a new approval must be pending, not {approval.status.value!r}")


def not_found(approval_id: str) -> NotFoundError:
    """The error for an unknown approval id."""
    return NotFoundError(
        f"no approval {approval_id!r}", hint="`baton approvals list --all` shows every approval"
    )


class MemoryApprovalStore:
    """An `ApprovalStore` in a dict: one process only (tests, running without a database).

    No method awaits between reading and writing, so each is atomic on the event loop.
    """

    def __init__(self, *, clock: Clock = utcnow) -> None:
        """Read the time from `clock` (inject a fake one to test expiry)."""
        self._clock = clock
        self._rows: dict[str, Approval] = {}

    async def create(self, approval: Approval) -> Approval:
        """Store a new pending request."""
        check_new(approval)
        if approval.id in self._rows:
            raise UsageError(f"approval {approval.id!r} exists already")
        self._rows[approval.id] = approval
        return approval

    async def get(self, approval_id: str) -> Approval:
        """The request with that id (`NotFoundError` if none)."""
        try:
            return self._rows[approval_id]
        except KeyError:
            raise not_found(approval_id) from None

    async def list(
        self,
        status: ApprovalStatus | None = None,
        execution_id: str | None = None,
        workspace_id: str | None = None,
    ) -> list[Approval]:
        """Requests, oldest first, filtered by status, execution and workspace."""
        rows = [
            a
            for a in self._rows.values()
            if (status is None or a.status is status)
            and (execution_id is None or a.execution_id == execution_id)
            and (workspace_id is None or a.workspace_id == workspace_id)
        ]
        return sorted(rows, key=lambda a: (a.created_at, a.id))

    async def decide(
        self,
        approval_id: str,
        status: ApprovalStatus,
        *,
        by: str,
        reason: str | None = None,
        edited_inputs: dict[str, Any] | None = None,
        inputs_hash: str | None = None,
        expires_at: datetime | None = None,
    ) -> Approval | None:
        """Record a decision if still pending; None otherwise."""
        check_decision(status)
        current = await self.get(approval_id)
        if current.status is not ApprovalStatus.PENDING:
            return None
        decided = dataclasses.replace(
            current,
            status=status,
            decided_at=self._clock(),
            decided_by=by,
            decision_reason=reason,
            edited_inputs=edited_inputs,
            inputs_hash=inputs_hash or current.inputs_hash,
            expires_at=expires_at or current.expires_at,
        )
        self._rows[approval_id] = decided
        return decided

    async def mark_used(
        self, approval_id: str, *, plan_hash: str, step_id: str, inputs_hash: str
    ) -> bool:
        """Consume an approved, unexpired, matching approval."""
        current = self._rows.get(approval_id)
        if (
            current is None
            or current.status is not ApprovalStatus.APPROVED
            or not current.binds(plan_hash=plan_hash, step_id=step_id, inputs_hash=inputs_hash)
            or not self._clock() < current.expires_at
        ):
            return False
        self._rows[approval_id] = dataclasses.replace(current, status=ApprovalStatus.USED)
        return True
