"""Approval gates on the executor's path: may a ready step start now?

A step needs a person's approval when the approval policy says so: the plan marks it critical,
its agent is irreversible, a settings rule names it, or data from an agent with untrusted
output reaches it through references (taint follows references transitively). A gated step
runs only with an approval bound to this plan, this step and the inputs the person saw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from baton.agents.protocol import Agent
from baton.core.plan import Plan, Step
from baton.core.references import resolve_inputs
from baton.errors import AgentInputError
from baton.safety.approvals import (
    ApprovalError,
    ApprovalExpiredError,
    ApprovalRejectedError,
    Approvals,
    hash_inputs,
    hash_plan,
)


@dataclass(frozen=True, slots=True)
class Cleared:
    """The step may start."""

    inputs: dict[str, Any] | None = None
    """Inputs a person approved (perhaps edited) to run with; None to run as planned."""


@dataclass(frozen=True, slots=True)
class Held:
    """The step waits for the approval request `approval_id`."""

    approval_id: str
    reason: str
    impact: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Refused:
    """A person rejected the step, or nobody decided in time: it fails."""

    error: ApprovalError


GateOutcome = Cleared | Held | Refused


def tainted_steps(plan: Plan, agents: Mapping[str, Agent], order: list[str]) -> set[str]:
    """Steps whose inputs carry data from an agent with untrusted output.

    Directly or through other steps; `order` is a topological order of the plan's steps.
    """
    steps = {s.id: s for s in plan.steps}
    tainted: set[str] = set()
    for sid in order:
        for ref in steps[sid].references():
            if ref.step_id in tainted or agents[ref.step_id].spec.untrusted_output:
                tainted.add(sid)
                break
    return tainted


class StepGates:
    """The approval gates of one execution."""

    def __init__(
        self,
        approvals: Approvals,
        plan: Plan,
        agents: Mapping[str, Agent],
        order: list[str],
        *,
        execution_id: str,
        workspace_id: str,
    ) -> None:
        self._approvals = approvals
        self._agents = agents
        self._execution_id = execution_id
        self._workspace_id = workspace_id
        self._plan_hash = hash_plan(plan.model_dump(mode="json"))
        self._tainted = tainted_steps(plan, agents, order)

    async def check(self, step: Step, outputs: Mapping[str, Any]) -> GateOutcome:
        """Whether `step` may start, given the outputs of the steps before it."""
        spec = self._agents[step.id].spec
        reason = self._approvals.policy.reason_for(
            step_critical=step.policy.critical,
            risk=spec.risk.value,
            agent=spec.name,
            tainted=step.id in self._tainted,
        )
        if reason is None:
            return Cleared()
        try:
            inputs = resolve_inputs(step.inputs, outputs)
        except AgentInputError:
            return Cleared()  # it fails when it runs, with the reason
        try:
            approval = await self._approvals.consume(
                self._execution_id, step.id, self._plan_hash, hash_inputs(inputs)
            )
        except (ApprovalRejectedError, ApprovalExpiredError) as exc:
            return Refused(exc)
        except ApprovalError:
            # None yet, still pending, used up, or for other inputs or another plan: ask
            # (again) for these inputs, and wait.
            request = await self._approvals.request(
                execution_id=self._execution_id,
                step_id=step.id,
                agent=spec,
                inputs=inputs,
                plan_hash=self._plan_hash,
                reason=reason,
                workspace_id=self._workspace_id,
            )
            return Held(request.id, reason, dict(request.impact))
        return Cleared(dict(approval.run_inputs))
