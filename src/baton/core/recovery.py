"""What to do when a step's attempt fails: the recovery ladder's decisions.

A `RecoveryPolicy` looks at a `Failure` and answers with a `Decision`: retry the same agent
after a back-off, switch to an alternative agent, ask a person (the step goes *in doubt*, as
after a crash, and `baton resolve` decides), or give up (the step fails and its dependents
are skipped). `RetryThenFail` is the simplest policy; `baton.core.ladder.LadderPolicy` is the
configurable ladder.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from baton.core.plan import RetryPolicy, Step
from baton.errors import ErrorClass, RunError, Rung


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """Try the same step again after `delay_s`."""

    delay_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class UseAlternative:
    """Run the step again with another agent of the same capability."""

    agent: str
    """The agent to use from now on for this step."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AskHuman:
    """Stop the step and let a person decide (retry, skip, give the output, or abort)."""

    reason: str
    """What the person is told."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GiveUp:
    """Fail the step for good."""


Decision = Retry | UseAlternative | AskHuman | GiveUp


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """A failed attempt, as the policy sees it."""

    step: Step
    """The step (its policy, its plan-level settings)."""
    agent: str
    """The agent whose attempt failed (not the plan's when an alternative is running)."""
    error: BaseException
    """What went wrong."""
    attempt: int
    """Attempts made so far with `agent` (1-based)."""
    tried_agents: tuple[str, ...] = ()
    """Every agent tried for this step so far, in order, `agent` last."""
    plan_recovery: Mapping[ErrorClass, Sequence[Rung]] | None = None
    """The plan-wide ladder (``Plan.recovery``), if the plan sets one."""


class RecoveryPolicy(Protocol):
    """Chooses how to recover from a failed attempt."""

    def decide(self, failure: Failure) -> Decision:
        """The next rung for this failure."""
        ...


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Delay before attempt ``attempt + 1``: exponential, capped, with a jittered part."""
    base = min(policy.max_delay_s, policy.initial_delay_s * policy.backoff ** (attempt - 1))
    return base * (1.0 - policy.jitter * rng.random())


class RetryThenFail:
    """Retry retryable errors per the step's retry policy; otherwise give up."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()

    def decide(self, failure: Failure) -> Decision:
        """Retry while the error is retryable and attempts remain."""
        step, error, attempt = failure.step, failure.error, failure.attempt
        retry = step.policy.retry
        if not isinstance(error, RunError) or not error.retryable:
            return GiveUp()
        if attempt >= retry.max_attempts:
            return GiveUp()
        delay = backoff_delay(retry, attempt, self._rng)
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return Retry(delay_s=delay)
