# pyright: strict
"""The offline planner: a request becomes a plan with no model and no network.

Steps: check the request, split it into clauses (`clauses`), draft one step per clause
(`drafting`: ranking, the agents' own extractors, data-flow links), order the steps by the
connectives, and validate the result. A request it cannot fully understand raises
`PlanningError` naming what it understood and what it did not; it never returns a partial plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baton.agents.registry import AgentRegistry
from baton.core.plan import Plan, Step
from baton.core.validation import PlanLimits, limit_problems, path_problems, plan_problems
from baton.errors import PlanningError
from baton.planning.offline.clauses import BASE_VERBS, split_clauses
from baton.planning.offline.drafting import Draft, Drafter
from baton.planning.offline.ranking import tokens
from baton.planning.protocol import PlanningContext
from baton.planning.revision import alternative_revision

MAX_REQUEST_CHARS = 10_000
"""Longest request the offline planner accepts."""
MIN_COVERAGE = 0.6
"""Share of a clause's words an agent must know to serve it when its extractor finds nothing."""
_NAME_CHARS = 60


class OfflinePlanner:
    """The embedded default planner; pure and deterministic.

    Args:
        max_request_chars: Longest request accepted.
        min_coverage: Share of a clause's words an agent must know to serve it, unless it knows
            the clause's verb and its extractor finds arguments in the clause.
        limits: Bounds on the plans it makes (steps, fan-out, width).
    """

    name = "offline"

    def __init__(
        self,
        *,
        max_request_chars: int = MAX_REQUEST_CHARS,
        min_coverage: float = MIN_COVERAGE,
        limits: PlanLimits | None = None,
    ) -> None:
        self.max_request_chars = max_request_chars
        self.min_coverage = min_coverage
        self.limits = limits or PlanLimits()

    async def plan(
        self, request: str, registry: AgentRegistry, *, context: PlanningContext
    ) -> Plan:
        """Plan `request`; async only to fit the `Planner` protocol (it does no I/O).

        Raises:
            PlanningError: the request is empty, too long, or not fully understood.
        """
        return self.plan_now(request, registry, context=context)

    def plan_now(self, request: str, registry: AgentRegistry, *, context: PlanningContext) -> Plan:
        """Plan `request` synchronously (see `plan`).

        Raises:
            PlanningError: the request is empty, too long, or not fully understood.
        """
        self._check_size(request)
        verbs = BASE_VERBS | {w for s in registry.specs() for w in _first_words(s.examples)}
        clauses = split_clauses(request, verbs)
        if not clauses:
            raise PlanningError("the request has no words to plan from", not_understood=[request])
        drafter = Drafter(registry, context=context, min_coverage=self.min_coverage)
        drafter.draft_all(clauses)
        if drafter.failures:
            raise PlanningError(
                f"could not plan {len(drafter.failures)} of {len(clauses)} part(s) of the request",
                understood=drafter.understood(),
                not_understood=drafter.failures,
                hint="rephrase what was not understood; `baton agents list` shows the agents",
            )
        return _finish(request, drafter.drafts, registry, self.limits)

    async def replan(
        self,
        plan: Plan,
        *,
        finished: Mapping[str, dict[str, Any]],
        failed: Mapping[str, str],
        reason: str,
        registry: AgentRegistry,
        context: PlanningContext,
    ) -> Plan:
        """Revise `plan` only where it honestly can: another agent of the failed step's capability.

        Raises:
            PlanningError: no failed step has an alternative agent ("cannot replan offline").
        """
        return alternative_revision(
            plan, finished=finished, failed=failed, reason=reason, registry=registry
        )

    def _check_size(self, request: str) -> None:
        if not request.strip():
            raise PlanningError("the request is empty", hint="say what should be done")
        if len(request) > self.max_request_chars:
            raise PlanningError(
                f"the request is {len(request):,} characters long; the limit is "
                f"{self.max_request_chars:,}",
                hint="split it into smaller requests",
            )


def _finish(
    request: str, drafts: Sequence[Draft], registry: AgentRegistry, limits: PlanLimits
) -> Plan:
    _order(drafts)
    steps = [
        Step(
            id=d.step_id,
            agent=d.agent,
            inputs=d.inputs,
            depends_on=d.depends_on,
            description=d.description,
        )
        for d in drafts
    ]
    plan = Plan(name=_plan_name(request), request=request, steps=steps)
    # The validator is the last word on whether a plan can run: a value an extractor returned
    # that its own agent's schema rejects must not slip through as a plan. A planned plan also
    # stays within the plan limits and the workspace, whatever the request asked for.
    problems = [
        *plan_problems(plan, registry),
        *limit_problems(plan, limits),
        *path_problems(plan, registry),
    ]
    if problems:
        raise PlanningError(
            "the planned steps are not valid",
            understood=[f'"{d.clause.text}" -> {d.call()}' for d in drafts],
            not_understood=[str(p) for p in problems],
        )
    return plan


def _order(drafts: Sequence[Draft]) -> None:
    """Make each step wait for the group of steps before its own ("A and B, then C").

    Only what is not already implied is added: a step that references an output already waits
    for that step and its ancestors, and of the previous group only the steps no other member of
    it waits for are needed.
    """
    ancestors: dict[str, set[str]] = {}
    for d in drafts:
        refs = Step(id=d.step_id, agent=d.agent, inputs=d.inputs).dependencies()
        closure = {a for r in refs for a in (r, *ancestors.get(r, set[str]()))}
        group = [p.step_id for p in drafts if p.segment == d.segment - 1]
        implied = closure.union(*(ancestors[g] for g in group))
        d.depends_on = [g for g in group if g not in implied]
        ancestors[d.step_id] = closure.union(*({p, *ancestors[p]} for p in d.depends_on))


def _first_words(examples: Sequence[str]) -> set[str]:
    words = {(e.split() or [""])[0].lower().strip(",.:;!?") for e in examples}
    # Only real words can start a clause; "please" and "what" are not actions.
    return {w for w in words if w.isalpha() and tokens(w) == [w]}


def _plan_name(request: str) -> str:
    line = " ".join(request.split())
    if len(line) <= _NAME_CHARS:
        return line
    return line[:_NAME_CHARS].rsplit(" ", 1)[0] + "..."
