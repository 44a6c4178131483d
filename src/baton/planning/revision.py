"""Revising a running plan: the rules every revision keeps, and the offline planner's revision.

A revision replaces the remaining work of a plan after a step failed beyond its retries. Its
finished steps have run, and their outputs are what later steps reference, so a revision keeps
each of them exactly: same id, same agent, same inputs, waiting only for other finished steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from baton.agents.registry import AgentRegistry
from baton.core.plan import Plan, Provenance, Step
from baton.core.validation import plan_problems
from baton.errors import PlanningError, PlanProblem


def finished_problems(
    old: Plan, new: Plan, finished: Mapping[str, dict[str, Any]]
) -> list[PlanProblem]:
    """Every way `new` fails to keep the finished steps of `old` as they were."""
    problems: list[PlanProblem] = []
    by_id = {s.id: s for s in new.steps}
    for step_id in finished:
        try:
            before = old.step(step_id)
        except KeyError:
            continue  # the caller named a step the plan does not have: nothing to keep
        after = by_id.get(step_id)
        if after is None:
            problems.append(
                PlanProblem(
                    code="finished_step_removed",
                    message="the step has finished, but the revision leaves it out",
                    step_id=step_id,
                    hint="keep every finished step exactly as it was",
                )
            )
            continue
        changed = [
            what
            for what, same in (
                ("agent", before.agent == after.agent),
                ("inputs", before.inputs == after.inputs),
            )
            if not same
        ]
        waits = [d for d in after.dependencies() if d not in finished]
        if changed:
            problems.append(
                PlanProblem(
                    code="finished_step_changed",
                    message=f"the step has finished, but the revision changes its "
                    f"{' and '.join(changed)}",
                    step_id=step_id,
                    hint=f"keep it as it was: agent {before.agent!r}, inputs "
                    f"{_short(before.inputs)}",
                )
            )
        if waits:
            problems.append(
                PlanProblem(
                    code="finished_step_waits",
                    message="the step has finished, but the revision makes it wait for "
                    + ", ".join(repr(w) for w in waits),
                    step_id=step_id,
                    hint="a finished step may only depend on finished steps",
                )
            )
    if _same_work(old, new):
        problems.append(
            PlanProblem(
                code="unchanged",
                message="the revision is the same as the plan that failed",
                hint="change the failed steps (another agent, other inputs) or set cannot_plan",
            )
        )
    return problems


def _same_work(old: Plan, new: Plan) -> bool:
    def work(plan: Plan) -> set[tuple[str, str, str]]:
        return {(s.id, s.agent, repr(sorted(s.inputs.items()))) for s in plan.steps}

    return work(old) == work(new)


def _short(value: object, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def carried_over(old: Plan, new: Plan) -> Plan:
    """`new` with what a model does not write kept from `old`.

    A step kept under the same id and agent keeps its resources and policy (retries, timeout,
    recovery; it stays critical if it was); the plan keeps its concurrency cap and recovery.
    """
    before = {s.id: s for s in old.steps}
    steps: list[Step] = []
    for step in new.steps:
        prior = before.get(step.id)
        if prior is not None and prior.agent == step.agent:
            critical = prior.policy.critical or step.policy.critical
            step = step.model_copy(
                update={
                    "resources": step.resources or prior.resources,
                    "policy": prior.policy.model_copy(update={"critical": critical}),
                }
            )
        steps.append(step)
    return new.model_copy(
        update={
            "steps": steps,
            "max_concurrency": new.max_concurrency or old.max_concurrency,
            "recovery": new.recovery or old.recovery,
        }
    )


def summed(previous: Provenance | None, added: Provenance) -> Provenance:
    """`added` with the attempts, calls, tokens and cost of `previous` counted in."""
    if previous is None:
        return added
    return added.model_copy(
        update={
            "attempts": previous.attempts + added.attempts,
            "calls": previous.calls + added.calls,
            "input_tokens": previous.input_tokens + added.input_tokens,
            "output_tokens": previous.output_tokens + added.output_tokens,
            "cost_usd": previous.cost_usd + added.cost_usd,
        }
    )


def alternative_revision(
    plan: Plan,
    *,
    finished: Mapping[str, dict[str, Any]],
    failed: Mapping[str, str],
    reason: str,
    registry: AgentRegistry,
) -> Plan:
    """Give each failed step another agent of the same capability, or refuse.

    This is all a planner without a model can honestly do: it cannot invent another way to
    reach the goal, but agents that declare the same capability accept the same inputs.

    Raises:
        PlanningError: no failed step has an alternative agent that accepts its inputs.
    """
    steps = list(plan.steps)
    swapped: list[str] = []
    missing: list[str] = []
    for i, step in enumerate(steps):
        if step.id not in failed or step.id in finished:
            continue
        other = _alternative(step, plan, registry)
        if other is None:
            missing.append(f"step {step.id!r} ({step.agent}): no other agent can do it")
            continue
        steps[i] = step.model_copy(update={"agent": other})
        swapped.append(f"step {step.id!r}: {step.agent} -> {other}")
    if not swapped:
        raise PlanningError(
            "cannot replan offline: no failed step has an alternative agent",
            not_understood=missing or [f"failed steps: {', '.join(failed) or '(none)'}"],
            hint="configure a language model (BATON_LLM_PROVIDER and its API key) to revise "
            "plans, or resolve the failed step with `baton resolve`",
        )
    return plan.model_copy(
        update={
            "steps": steps,
            "version": plan.version + 1,
            "revised_because": reason,
            "provenance": plan.provenance or Provenance(planner="offline"),
        }
    )


def _alternative(step: Step, plan: Plan, registry: AgentRegistry) -> str | None:
    if step.agent not in registry:
        return None
    capability = registry.get(step.agent).spec.capability
    if capability is None:
        return None
    for spec in registry.specs():
        if spec.capability != capability or spec.name == step.agent:
            continue
        trial = plan.model_copy(
            update={
                "steps": [
                    s.model_copy(update={"agent": spec.name}) if s.id == step.id else s
                    for s in plan.steps
                ]
            }
        )
        if not [p for p in plan_problems(trial, registry) if p.step_id == step.id]:
            return spec.name
    return None
