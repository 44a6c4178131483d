"""The recovery ladder as a pure policy: classify an error, then walk its class's rungs.

`classify` sorts an error into an `ErrorClass` from its type and attributes (never from its
message text). `LadderPolicy` then picks the ladder for that class and walks it:

``retry``
    The same agent again while ``attempt < step.policy.retry.max_attempts``, after
    `backoff_delay` (at least the error's ``retry_after``). Never taken for
    ``invalid_input``: the same inputs fail the same way.
``alternative``
    Another registered agent with the failing agent's (non-None) ``capability`` that this
    step has not tried yet: best success rate first, then lowest mean duration, then name.
    An agent with no runs yet counts as a success rate of 1.0 (so a new stand-in gets its
    chance) but with an unknown, i.e. worst, latency: a proven perfect agent still wins.
``ask``
    A person decides (the executor puts the step in doubt). The policy keeps no state, so
    rungs listed after ``ask`` are only reached if ``ask`` is not in the ladder.
``fail``
    Give up; the step fails and its dependents are skipped. A ladder whose rungs are all
    spent ends here too, even without a ``fail`` rung.

A rung that does not apply (retries spent, no alternative left) passes to the next, so the
walk is stateless: the rung "the step is on" is the first one that still applies. It ends:
after an alternative the executor counts attempts afresh for the new agent, but the tried
agents only grow.

The ladder for a class comes from the first of these that names the class: the step's
``policy.recovery``, the plan's ``recovery``, the failing agent's ``spec.recovery``, then
`DEFAULT_LADDERS`. The defaults never ask: ``ask`` is opt-in (a step, plan or agent adds it)
so that an unattended run always ends instead of waiting for a person nobody warned.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from baton.agents.protocol import AgentSpec
from baton.agents.registry import AgentRegistry
from baton.core.recovery import (
    AskHuman,
    Decision,
    Failure,
    GiveUp,
    Retry,
    UseAlternative,
    backoff_delay,
)
from baton.error_classes import classify
from baton.errors import (
    BatonError,
    ErrorClass,
    RunError,
    Rung,
)

__all__ = ["DEFAULT_LADDERS", "LadderPolicy", "classify"]

Ladder = Sequence[Rung]
"""The rungs for one error class, tried in order."""

_RETRY_THEN_ALTERNATIVE = (Rung.RETRY, Rung.ALTERNATIVE, Rung.FAIL)

DEFAULT_LADDERS: Mapping[ErrorClass, tuple[Rung, ...]] = MappingProxyType(
    {
        ErrorClass.RATE_LIMITED: _RETRY_THEN_ALTERNATIVE,
        ErrorClass.TIMEOUT: _RETRY_THEN_ALTERNATIVE,
        ErrorClass.TRANSIENT: _RETRY_THEN_ALTERNATIVE,
        ErrorClass.PERMANENT: (Rung.ALTERNATIVE, Rung.FAIL),
        ErrorClass.INVALID_INPUT: (Rung.FAIL,),
        ErrorClass.PERMISSION: (Rung.FAIL,),
    }
)
"""The ladder per class when no step, plan or agent sets one. None asks a person."""


class LadderPolicy:
    """A `RecoveryPolicy` that walks the configurable ladder (see the module docstring)."""

    def __init__(self, registry: AgentRegistry, rng: random.Random | None = None) -> None:
        """Use `registry` for agents' ladders, capabilities and stats; `rng` for jitter."""
        self._registry = registry
        self._rng = rng or random.Random()

    def decide(self, failure: Failure) -> Decision:
        """The first rung of the failure's ladder that applies; `GiveUp` when none does."""
        error_class = classify(failure.error)
        for rung in self.ladder_for(failure, error_class):
            decision = self._take(rung, failure, error_class)
            if decision is not None:
                return decision
        return GiveUp()

    def ladder_for(self, failure: Failure, error_class: ErrorClass) -> Ladder:
        """The ladder for `error_class`: step, then plan, then agent, then the default."""
        spec = self._spec(failure.agent)
        sources = (
            failure.step.policy.recovery,
            failure.plan_recovery,
            spec.recovery if spec is not None else None,
        )
        for ladders in sources:
            if ladders is not None and error_class in ladders:
                return ladders[error_class]
        return DEFAULT_LADDERS[error_class]

    def _take(self, rung: Rung, failure: Failure, error_class: ErrorClass) -> Decision | None:
        """The decision for `rung`, or None when it does not apply and the walk goes on."""
        match rung:
            case Rung.RETRY:
                return self._retry(failure, error_class)
            case Rung.ALTERNATIVE:
                alternative = self.alternative(failure)
                return None if alternative is None else UseAlternative(agent=alternative)
            case Rung.ASK:
                return AskHuman(reason=_ask_reason(failure, error_class))
            case Rung.FAIL:
                return GiveUp()

    def _retry(self, failure: Failure, error_class: ErrorClass) -> Retry | None:
        retry = failure.step.policy.retry
        if error_class is ErrorClass.INVALID_INPUT or failure.attempt >= retry.max_attempts:
            return None
        delay = backoff_delay(retry, failure.attempt, self._rng)
        error = failure.error
        if isinstance(error, RunError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return Retry(delay_s=delay)

    def alternative(self, failure: Failure) -> str | None:
        """The best untried agent with the failing agent's capability, or None."""
        spec = self._spec(failure.agent)
        if spec is None or spec.capability is None:
            return None
        tried = {*failure.tried_agents, failure.agent}
        candidates = [s.name for s in self._registry.specs() if s.capability == spec.capability]
        untried = [name for name in candidates if name not in tried]
        return min(untried, key=self._rank, default=None)

    def _rank(self, name: str) -> tuple[float, float, str]:
        stats = self._registry.stats(name)
        rate = 1.0 if stats.success_rate is None else stats.success_rate
        duration = float("inf") if stats.mean_duration_s is None else stats.mean_duration_s
        return (-rate, duration, name)

    def _spec(self, name: str) -> AgentSpec | None:
        return self._registry.get(name).spec if name in self._registry else None


def _ask_reason(failure: Failure, error_class: ErrorClass) -> str:
    tried = dict.fromkeys((*failure.tried_agents, failure.agent))
    agents = ", ".join(repr(a) for a in tried)
    error = failure.error
    message = error.message if isinstance(error, BatonError) else str(error)
    return (
        f"{error_class.value} error after trying {agents}: "
        f"{type(error).__name__}: {message or 'no message'}"
    )
