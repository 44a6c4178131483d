"""Human approval gates: which steps need a person's yes, and the service that records it.

- `GatePolicy` (pure) says whether a step needs approval and why. A step is gated when
  the plan marks it critical; when its agent's risk is ``irreversible``; when its risk is
  ``write`` and ``approve_writes`` is on (the *threshold*: off, only irreversible steps are
  gated by risk; on, every step that changes anything is); when a rule
  (``BATON_APPROVAL_REQUIRED``, agent-name globs such as ``notify.*``) names its agent; or
  when untrusted data (webhook payloads, tool outputs, fetched text) flows into the inputs of
  a ``write`` or ``irreversible`` step.
- `impact_of` estimates what a step changes; `hash_inputs` / `hash_plan` make the binding.
- `Approvals` requests, decides, expires and consumes approvals over an `ApprovalStore`.
  An approval is bound to the plan version, the step and the hash of the inputs it runs with
  (of the edited inputs, when a person edited them), is used once, and expires after
  ``approval_timeout_s`` with the default action ``approval_default`` (reject unless set).
  `Approvals.consume` refuses, each with its own `ApprovalError`, a missing, pending,
  rejected, expired, used (replayed), tampered (inputs changed) or wrong-plan approval.

This layer sits below ``baton.agents``, so it takes an agent's facts as plain values (any
object with ``name``, ``description`` and ``risk``, such as ``AgentSpec``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from baton.errors import UsageError
from baton.settings import Settings
from baton.store.approvals import (
    Approval,
    ApprovalStatus,
    ApprovalStore,
    Clock,
    Impact,
    new_approval_id,
    not_found,
    utcnow,
)
from baton.store.records import DEFAULT_WORKSPACE

__all__ = [
    "TIMEOUT_DECIDER",
    "AgentFacts",
    "ApprovalDecidedError",
    "ApprovalError",
    "ApprovalExpiredError",
    "ApprovalInputsChangedError",
    "ApprovalMissingError",
    "ApprovalPendingError",
    "ApprovalPlanChangedError",
    "ApprovalRejectedError",
    "ApprovalReplayError",
    "Approvals",
    "GatePolicy",
    "hash_inputs",
    "hash_plan",
    "impact_of",
]

TIMEOUT_DECIDER = "timeout"
"""`Approval.decided_by` when the default action decided."""

DefaultAction = Literal["reject", "approve"]


class AgentFacts(Protocol):
    """What the gate needs to know of an agent (``AgentSpec`` has all of it)."""

    @property
    def name(self) -> str:
        """The agent's name."""
        ...

    @property
    def description(self) -> str:
        """What it does, in a sentence."""
        ...

    @property
    def risk(self) -> str:
        """``read``, ``write`` or ``irreversible``."""
        ...


# --- errors -------------------------------------------------------------------------------


class ApprovalError(UsageError):
    """An approval cannot be used or decided as asked."""

    def __init__(self, message: str, *, approval_id: str | None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.approval_id = approval_id
        """The approval concerned, when there is one."""


class ApprovalMissingError(ApprovalError):
    """No approval was ever requested for the step."""


class ApprovalPendingError(ApprovalError):
    """Nobody has decided yet."""


class ApprovalRejectedError(ApprovalError):
    """A person refused the step."""


class ApprovalExpiredError(ApprovalError):
    """Nobody decided in time (default action reject), or the approval was not used in time."""


class ApprovalReplayError(ApprovalError):
    """The approval was used already: each is good for one run of the step."""


class ApprovalInputsChangedError(ApprovalError):
    """The step's inputs are not the ones approved (tampered with, or changed since)."""


class ApprovalPlanChangedError(ApprovalError):
    """The approval was given for another version of the plan."""


class ApprovalDecidedError(ApprovalError):
    """A decision on a request that is no longer pending."""


# --- pure policy --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GatePolicy:
    """Decides which steps need a person's approval before they run (pure)."""

    approve_writes: bool = False
    """Gate every ``write`` step too, not only ``irreversible`` ones."""
    rules: tuple[str, ...] = ()
    """Agent-name globs (``notify.*``) whose steps always need approval."""

    def reason_for(
        self, *, step_critical: bool, risk: str, agent: str, tainted: bool = False
    ) -> str | None:
        """Why the step needs approval, or None when it may run without.

        Args:
            step_critical: The plan marks the step critical.
            risk: The agent's risk: ``read``, ``write`` or ``irreversible``.
            agent: The agent's name (matched against `rules`).
            tainted: Untrusted data flows into the step's inputs.
        """
        changes = risk in ("write", "irreversible")
        if step_critical:
            return "the plan marks this step critical"
        if risk == "irreversible":
            return f"{agent} makes changes that cannot be undone"
        rule = next((r for r in self.rules if fnmatch.fnmatchcase(agent, r)), None)
        if rule is not None:
            return f"settings require approval for {rule!r}"
        if tainted and changes:
            return "untrusted data flows into the inputs of a step that changes things"
        if risk == "write" and self.approve_writes:
            return f"{agent} changes things and settings require approval for writes"
        return None


# --- impact and binding -------------------------------------------------------------------

_TARGET = re.compile(
    r"^(?:[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # an email address
    r"|[a-z][a-z0-9+.-]*://\S+"  # a URL
    r"|~?[\w.-]*/[\w./ -]*|[\w-]+\.[a-z0-9]{1,5})$",  # a path, or a file name
    re.IGNORECASE,
)


def _targets(value: Any, found: list[str]) -> None:
    if isinstance(value, str):
        text = value.strip()
        if text and len(text) <= 500 and _TARGET.match(text) and text not in found:
            found.append(text)
    elif isinstance(value, Mapping):
        for item in value.values():  # pyright: ignore[reportUnknownVariableType]
            _targets(item, found)
    elif isinstance(value, list | tuple):
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            _targets(item, found)


def impact_of(agent: AgentFacts, inputs: Mapping[str, Any]) -> Impact:
    """Estimate what running `agent` with `inputs` changes, for whom, and if it can be undone.

    Targets are the input values that look like paths, email addresses or URLs.
    """
    shown = ", ".join(f"{k}={_short(v)}" for k, v in inputs.items())
    summary = f"{agent.name}: {agent.description.strip().rstrip('.')}"
    if shown:
        summary += f" ({shown})"
    found: list[str] = []
    _targets(dict(inputs), found)
    return Impact(summary=summary, targets=found, reversible=agent.risk != "irreversible")


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else _canonical(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def hash_inputs(inputs: Mapping[str, Any]) -> str:
    """SHA-256 of the inputs' canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(_canonical(dict(inputs)).encode()).hexdigest()


def hash_plan(plan_json: Any) -> str:
    """SHA-256 of a plan's canonical JSON (its ``model_dump(mode="json")``): its version."""
    return hashlib.sha256(_canonical(plan_json).encode()).hexdigest()


# --- the service --------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Approvals:
    """Requests, decisions, expiry and one-time use of approvals (CLI, API and executor)."""

    store: ApprovalStore
    """Where approvals live (durably, with a SQL store: a restart keeps them)."""
    clock: Clock = utcnow
    """The time (inject a fake one to test expiry)."""
    timeout_s: float = 3600.0
    """How long a request waits for a person, and an approval for its use."""
    default: DefaultAction = "reject"
    """What happens to a request nobody decided in time."""
    policy: GatePolicy = field(default_factory=GatePolicy)
    """Which steps need approval."""

    @classmethod
    def from_settings(
        cls, store: ApprovalStore, settings: Settings, *, clock: Clock = utcnow
    ) -> Approvals:
        """The service configured by ``BATON_APPROVAL_*`` and ``BATON_APPROVE_WRITES``."""
        return cls(
            store=store,
            clock=clock,
            timeout_s=settings.approval_timeout_s,
            default=settings.approval_default,
            policy=GatePolicy(
                approve_writes=settings.approve_writes, rules=tuple(settings.approval_required)
            ),
        )

    async def request(
        self,
        *,
        execution_id: str,
        step_id: str,
        agent: AgentFacts,
        inputs: Mapping[str, Any],
        plan_hash: str,
        reason: str,
        workspace_id: str = DEFAULT_WORKSPACE,
    ) -> Approval:
        """Ask for approval to run `step_id` with `inputs`; idempotent while pending.

        A second request for the same execution, step and inputs returns the pending one.
        """
        inputs_hash = hash_inputs(inputs)
        for pending in await self.store.list(ApprovalStatus.PENDING, execution_id):
            if (pending.step_id, pending.inputs_hash) == (step_id, inputs_hash):
                return pending
        now = self.clock()
        return await self.store.create(
            Approval(
                id=new_approval_id(),
                workspace_id=workspace_id,
                execution_id=execution_id,
                step_id=step_id,
                agent=agent.name,
                plan_hash=plan_hash,
                inputs_hash=inputs_hash,
                inputs=dict(inputs),
                impact=impact_of(agent, inputs),
                reason=reason,
                status=ApprovalStatus.PENDING,
                created_at=now,
                expires_at=now + timedelta(seconds=self.timeout_s),
            )
        )

    async def list(
        self, *, include_decided: bool = False, workspace_id: str | None = None
    ) -> list[Approval]:
        """Pending requests (every request with `include_decided`), oldest first.

        Only `workspace_id`'s when given. Requests past their deadline are expired first.
        """
        await self.expire_due()
        status = None if include_decided else ApprovalStatus.PENDING
        return await self.store.list(status, workspace_id=workspace_id)

    async def get(self, approval_id: str, *, workspace_id: str | None = None) -> Approval:
        """One request; one of another workspace than `workspace_id` is not found.

        Raises:
            NotFoundError: no such request (in that workspace).
        """
        approval = await self.store.get(approval_id)
        if workspace_id is not None and approval.workspace_id != workspace_id:
            raise not_found(approval_id)
        return approval

    async def approve(
        self,
        approval_id: str,
        *,
        by: str,
        edited_inputs: Mapping[str, Any] | None = None,
        workspace_id: str | None = None,
    ) -> Approval:
        """Approve a pending request, optionally with edited inputs (the step runs those).

        The approval stays bound to the inputs the person was shown: if the step's inputs
        have changed by the time it runs (an upstream step ran again, someone tampered), the
        approval does not apply, edited or not.

        Raises:
            NotFoundError: no such request.
            ApprovalDecidedError: it was decided already.
            ApprovalExpiredError: its deadline passed (the default action was applied).
        """
        await self._still_open(approval_id, workspace_id)
        edited = dict(edited_inputs) if edited_inputs is not None else None
        decided = await self.store.decide(
            approval_id,
            ApprovalStatus.APPROVED,
            by=by,
            edited_inputs=edited,
            expires_at=self._deadline(),
        )
        return decided or await self._decided_already(approval_id)

    async def reject(
        self, approval_id: str, *, by: str, reason: str, workspace_id: str | None = None
    ) -> Approval:
        """Reject a pending request; `reason` is required.

        Raises:
            UsageError: `reason` is empty.
            NotFoundError: no such request.
            ApprovalDecidedError: it was decided already.
            ApprovalExpiredError: its deadline passed (the default action was applied).
        """
        if not reason.strip():
            raise UsageError("say why the step is rejected", hint="pass --reason TEXT")
        await self._still_open(approval_id, workspace_id)
        decided = await self.store.decide(
            approval_id, ApprovalStatus.REJECTED, by=by, reason=reason
        )
        return decided or await self._decided_already(approval_id)

    async def expire_due(self) -> list[Approval]:
        """Apply the default action to every pending request past its deadline.

        With ``reject`` the request becomes expired; with ``approve`` it becomes approved by
        ``timeout``, usable for one more timeout.
        """
        now = self.clock()
        done: list[Approval] = []
        for pending in await self.store.list(ApprovalStatus.PENDING):
            if now >= pending.expires_at:
                expired = await self._apply_default(pending.id)
                if expired is not None:
                    done.append(expired)
        return done

    async def consume(
        self, execution_id: str, step_id: str, plan_hash: str, inputs_hash: str
    ) -> Approval:
        """Use the step's approval, once; the step may run with `Approval.run_inputs`.

        Raises:
            ApprovalMissingError: none was requested for the step.
            ApprovalPendingError: nobody has decided yet.
            ApprovalRejectedError: a person refused it.
            ApprovalExpiredError: nobody decided in time, or it was not used in time.
            ApprovalReplayError: it was used already.
            ApprovalPlanChangedError: it was given for another version of the plan.
            ApprovalInputsChangedError: the inputs are not the approved ones.
        """
        await self.expire_due()
        mine = [a for a in await self.store.list(None, execution_id) if a.step_id == step_id]
        match = [
            a
            for a in mine
            if a.status is ApprovalStatus.APPROVED
            and a.binds(plan_hash=plan_hash, step_id=step_id, inputs_hash=inputs_hash)
        ]
        chosen = match[-1] if match else (mine[-1] if mine else None)
        if chosen is None:
            raise ApprovalMissingError(
                f"step {step_id!r} of {execution_id} has no approval", approval_id=None
            )
        _check_usable(chosen, plan_hash, inputs_hash, self.clock())
        if await self.store.mark_used(
            chosen.id, plan_hash=plan_hash, step_id=step_id, inputs_hash=inputs_hash
        ):
            return await self.store.get(chosen.id)
        # Someone else consumed (or it lapsed) between our read and our write.
        _check_usable(await self.store.get(chosen.id), plan_hash, inputs_hash, self.clock())
        raise ApprovalReplayError(f"approval {chosen.id} was used already", approval_id=chosen.id)

    def _deadline(self) -> datetime:
        return self.clock() + timedelta(seconds=self.timeout_s)

    async def _apply_default(self, approval_id: str) -> Approval | None:
        if self.default == "approve":
            return await self.store.decide(
                approval_id,
                ApprovalStatus.APPROVED,
                by=TIMEOUT_DECIDER,
                reason="nobody decided in time; the default action is to approve",
                expires_at=self._deadline(),
            )
        return await self.store.decide(
            approval_id,
            ApprovalStatus.EXPIRED,
            by=TIMEOUT_DECIDER,
            reason="nobody decided in time; the default action is to reject",
        )

    async def _still_open(self, approval_id: str, workspace_id: str | None) -> None:
        approval = await self.get(approval_id, workspace_id=workspace_id)
        if approval.status is ApprovalStatus.PENDING and self.clock() >= approval.expires_at:
            await self._apply_default(approval_id)
            raise ApprovalExpiredError(
                f"approval {approval_id} expired before it was decided "
                f"(default action: {self.default})",
                approval_id=approval_id,
            )

    async def _decided_already(self, approval_id: str) -> Approval:
        current = await self.store.get(approval_id)
        by = f" by {current.decided_by}" if current.decided_by else ""
        raise ApprovalDecidedError(
            f"approval {approval_id} was decided already: {current.status.value}{by}",
            approval_id=approval_id,
            hint="`baton approvals list` shows the requests still waiting",
        )


def _check_usable(approval: Approval, plan_hash: str, inputs_hash: str, now: datetime) -> None:
    """Raise the error that says why `approval` cannot be used now; return if it can."""
    aid = approval.id
    where = f"step {approval.step_id!r} of {approval.execution_id}"
    match approval.status:
        case ApprovalStatus.PENDING:
            raise ApprovalPendingError(
                f"{where} is still waiting for approval {aid}",
                approval_id=aid,
                hint=f"`baton approve {aid}` or `baton reject {aid} --reason ...`",
            )
        case ApprovalStatus.REJECTED:
            why = f": {approval.decision_reason}" if approval.decision_reason else ""
            raise ApprovalRejectedError(f"{where} was rejected{why}", approval_id=aid)
        case ApprovalStatus.EXPIRED:
            raise ApprovalExpiredError(
                f"approval {aid} for {where} expired before anyone decided", approval_id=aid
            )
        case ApprovalStatus.USED:
            raise ApprovalReplayError(
                f"approval {aid} for {where} was used already (an approval is good for one run)",
                approval_id=aid,
            )
        case ApprovalStatus.APPROVED:
            pass
    if approval.plan_hash != plan_hash:
        raise ApprovalPlanChangedError(
            f"approval {aid} was given for another version of the plan", approval_id=aid
        )
    if approval.inputs_hash != inputs_hash:
        raise ApprovalInputsChangedError(
            f"the inputs of {where} are not the ones approved in {aid}", approval_id=aid
        )
    if now >= approval.expires_at:
        raise ApprovalExpiredError(
            f"approval {aid} for {where} was not used before it expired", approval_id=aid
        )
