"""What to do when a step's attempt fails: the seam of the recovery ladder.

Today the policy retries retryable errors with exponential backoff and jitter, then fails
(skipping dependents). The full ladder (alternative agent, ask the human) plugs in here as
another `RecoveryPolicy`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from baton.core.plan import RetryPolicy, Step
from baton.errors import RunError


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """Try the same step again after `delay_s`."""

    delay_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class GiveUp:
    """Fail the step for good."""


Decision = Retry | GiveUp


class RecoveryPolicy(Protocol):
    """Chooses how to recover from a failed attempt."""

    def decide(self, step: Step, error: BaseException, attempt: int) -> Decision:
        """`attempt` is the number of the attempt that just failed (1-based)."""
        ...


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Delay before attempt ``attempt + 1``: exponential, capped, with a jittered part."""
    base = min(policy.max_delay_s, policy.initial_delay_s * policy.backoff ** (attempt - 1))
    return base * (1.0 - policy.jitter * rng.random())


class RetryThenFail:
    """Retry retryable errors per the step's retry policy; otherwise give up."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()

    def decide(self, step: Step, error: BaseException, attempt: int) -> Decision:
        """Retry while the error is retryable and attempts remain."""
        retry = step.policy.retry
        if not isinstance(error, RunError) or not error.retryable:
            return GiveUp()
        if attempt >= retry.max_attempts:
            return GiveUp()
        delay = backoff_delay(retry, attempt, self._rng)
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return Retry(delay_s=delay)
