"""The LLM planner: a language model writes the plan, baton's validator has the last word.

The model is asked for a `PlanDraft` (structured output against its JSON schema) with the
registry's agents in the prompt. Each answer is checked (`DraftCheck`); an answer with problems
goes back to the model with them, up to `max_attempts` answers; then planning fails showing the
last problems. Every call counts against the execution's budget, and the plan records what
planning cost (`Plan.provenance`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baton.agents.registry import AgentRegistry
from baton.core.plan import Plan, Provenance
from baton.core.validation import PlanLimits
from baton.errors import ModelOutputRejectedError, PlanningError
from baton.llm.protocol import CallScope, Generated, TextModel
from baton.llm.usage import Budget, Purpose, UsageTotals
from baton.planning.llm.checks import DraftCheck
from baton.planning.llm.draft import PlanDraft
from baton.planning.llm.prompts import PROMPT_VERSION, Prompts
from baton.planning.protocol import PlanningContext
from baton.planning.revision import carried_over, summed
from baton.settings import Settings

MAX_REQUEST_CHARS = 10_000
"""Longest request the LLM planner sends to a model."""


class LLMPlanner:
    """Plans (and revises plans) with a language model.

    Args:
        model: The configured model (`baton.llm.TextModel`).
        max_attempts: Answers the model may give until one passes the checks.
        limits: Bounds on the plans it accepts (steps, fan-out, width).
        max_request_chars: Longest request accepted.
        prompt_version: Which prompt files to use (``v1`` -> ``plan.v1.md``...).
    """

    name = "llm"

    def __init__(
        self,
        model: TextModel,
        *,
        max_attempts: int = 3,
        limits: PlanLimits | None = None,
        max_request_chars: int = MAX_REQUEST_CHARS,
        prompt_version: str = PROMPT_VERSION,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.model = model
        self.max_attempts = max_attempts
        self.limits = limits or PlanLimits()
        self.max_request_chars = max_request_chars
        self.prompts = Prompts.load(prompt_version)

    @classmethod
    def from_settings(cls, model: TextModel, settings: Settings) -> LLMPlanner:
        """A planner with the attempts and plan limits of `settings`."""
        return cls(
            model,
            max_attempts=settings.llm_max_attempts,
            limits=PlanLimits(
                max_steps=settings.plan_max_steps,
                max_fan_out=settings.plan_max_fan_out,
                max_width=settings.plan_max_width,
            ),
        )

    async def plan(
        self, request: str, registry: AgentRegistry, *, context: PlanningContext
    ) -> Plan:
        """Plan `request` with the agents in `registry`.

        Raises:
            PlanningError: the request is empty or too long, the model says it cannot be done
                with these agents, or its last allowed answer still had problems.
            BudgetExceededError: the budget was spent before a plan was accepted.
            ModelError: the provider failed (after its retries) or refused.
        """
        self._check_size(request)
        check = DraftCheck(registry=registry, limits=self.limits, request=request)
        prompt = self.prompts.render_plan(request, registry, context)
        generated = await self._generate(prompt, check, context, purpose="plan")
        return self._accept(
            generated.output,
            request=request,
            context=context,
            provenance=self._provenance(generated),
        )

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
        """A revision of `plan` for its remaining work (see `baton.planning.Replanner`).

        The revision keeps every finished step exactly; it is version ``plan.version + 1``,
        records `reason`, and its provenance adds this revision's calls to the plan's.

        Raises:
            PlanningError: the model says the rest cannot be done, or its last allowed answer
                still had problems (a changed finished step among them).
            BudgetExceededError: the budget was spent before a revision was accepted.
            ModelError: the provider failed (after its retries) or refused.
        """
        check = DraftCheck(
            registry=registry,
            limits=self.limits,
            request=plan.request,
            revising=plan,
            finished=finished,
        )
        prompt = self.prompts.render_replan(
            plan,
            finished=finished,
            failed=failed,
            reason=reason,
            registry=registry,
            context=context,
        )
        generated = await self._generate(prompt, check, context, purpose="replan")
        revised = self._accept(
            generated.output,
            request=plan.request,
            context=context,
            provenance=summed(plan.provenance, self._provenance(generated)),
            version=plan.version + 1,
            revised_because=reason,
            fallback_budget=plan.budget,
        )
        return carried_over(plan, revised)

    async def _generate(
        self, prompt: str, check: DraftCheck, context: PlanningContext, *, purpose: Purpose
    ) -> Generated[PlanDraft]:
        # A copy: the model adds its calls to the scope, and the caller's totals are its own.
        spent = UsageTotals().merged(context.spent) if context.spent else UsageTotals()
        scope = CallScope(purpose=purpose, budget=context.budget, spent=spent)
        try:
            return await self.model.generate(
                instructions=self.prompts.system,
                prompt=prompt,
                output_type=PlanDraft,
                scope=scope,
                check=check,
                max_attempts=self.max_attempts,
            )
        except ModelOutputRejectedError as exc:
            raise _rejected(exc.problems, self.max_attempts, purpose) from exc

    def _accept(
        self,
        draft: PlanDraft,
        *,
        request: str | None,
        context: PlanningContext,
        provenance: Provenance,
        version: int = 1,
        revised_because: str | None = None,
        fallback_budget: Budget | None = None,
    ) -> Plan:
        if draft.cannot_plan is not None:
            raise PlanningError(
                "the model could not plan the request with the available agents",
                not_understood=[draft.cannot_plan],
                hint="rephrase the request; `baton agents list` shows the agents",
            )
        plan, problems = draft.to_plan(
            request=request,
            budget=context.budget or fallback_budget,
            provenance=provenance,
            version=version,
            revised_because=revised_because,
        )
        if plan is None:  # the check accepted this draft; a model must not get here
            raise _rejected([str(p) for p in problems], self.max_attempts, "plan")
        return plan

    def _provenance(self, generated: Generated[PlanDraft]) -> Provenance:
        totals = UsageTotals.of(list(generated.calls))
        return Provenance(
            planner=self.name,
            provider=self.model.provider,
            model=self.model.model_name,
            attempts=max(generated.attempts, 1),
            calls=totals.calls,
            input_tokens=totals.input_tokens,
            output_tokens=totals.output_tokens,
            cost_usd=totals.cost_usd,
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


def _rejected(problems: Sequence[str], attempts: int, purpose: str) -> PlanningError:
    what = "plan" if purpose == "plan" else "revised plan"
    lines = "\n".join(f"  - {p}" for p in problems)
    return PlanningError(
        f"the model's {what} still had {len(problems)} problem(s) after {attempts} "
        f"attempt(s):\n{lines}",
        hint="rephrase the request, raise BATON_LLM_MAX_ATTEMPTS, or use a stronger model",
    )
