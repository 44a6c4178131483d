"""One error tree for all of baton.

```
BatonError                     message + hint (how to fix it)
├── UsageError                 the caller's mistake; the CLI exits 2
│   ├── ConfigError            bad settings, unusable data folder
│   ├── PlanLoadError          a plan file that cannot be read or parsed
│   ├── PlanValidationError    a plan that parsed but is wrong (carries every problem)
│   ├── PlanningError          a request the planner could not turn into a plan
│   ├── AgentInputError        inputs that fail an agent's input schema
│   ├── UnknownAgentError      no agent of that name is registered
│   └── NotFoundError          an execution, step or object that does not exist
└── RunError                   a failure at run time; carries retry behaviour
    ├── AgentError             an agent ran and failed
    ├── StepTimeoutError       a step ran past its timeout
    ├── RateLimitedError       an integration said "slow down"
    ├── StoreError             the state store failed
    ├── ModelError             a language model could not answer
    │   └── ModelOutputRejectedError   its last answer still failed the checks
    └── BudgetExceededError    an execution's token or cost budget is spent
```

Retry behaviour travels in attributes (`retryable`, `retry_after`), never in message text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class BatonError(Exception):
    """Root of every error baton raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        """What went wrong, in one sentence a user can read."""
        self.hint = hint
        """How to fix it, when we know."""

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class UsageError(BatonError):
    """The caller asked for something wrong: a bad plan, bad input, bad configuration."""


class ConfigError(UsageError):
    """Settings or the environment (e.g. the data folder) cannot be used."""


class ExecutionStateError(UsageError):
    """The execution's state does not allow it: it has finished, or is running already.

    409 Conflict over the API; a usage error (exit code 2) in the CLI.
    """


class PlanLoadError(UsageError):
    """A plan document could not be read or parsed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanProblem:
    """One thing wrong with a plan."""

    code: str
    """Stable machine-readable code, e.g. ``cycle``, ``unknown_agent``."""
    message: str
    """Human-readable description naming the steps involved."""
    step_id: str | None = None
    """The step the problem is about, if any."""
    hint: str | None = None
    """How to fix it, e.g. the closest agent names."""

    def __str__(self) -> str:
        where = f"step {self.step_id!r}: " if self.step_id else ""
        tail = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{tail}"


class PlanValidationError(UsageError):
    """A plan failed validation; `problems` lists everything found, not just the first."""

    def __init__(self, problems: Sequence[PlanProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"the plan is invalid ({len(self.problems)} problem(s)):\n{lines}",
            hint="fix the plan and run it again; `baton plan --json` shows the plan baton built",
        )


class PlanningError(UsageError):
    """The planner could not turn a request into a plan it trusts."""

    def __init__(
        self,
        message: str,
        *,
        understood: Sequence[str] = (),
        not_understood: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.understood = tuple(understood)
        """Parts of the request the planner did understand (with what it would do)."""
        self.not_understood = tuple(not_understood)
        """Parts of the request it could not map to any agent or arguments."""

    def __str__(self) -> str:
        lines = [self.message]
        lines += [f"  understood: {u}" for u in self.understood]
        lines += [f"  not understood: {n}" for n in self.not_understood]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class AgentInputError(UsageError):
    """Inputs given to an agent do not match its input schema."""


class UnknownAgentError(UsageError):
    """No agent with that name is registered."""


class NotFoundError(UsageError):
    """The thing asked for does not exist (or belongs to another workspace)."""


class RunError(BatonError):
    """A failure while running; `retryable` and `retry_after` tell the executor what to do."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        if retryable is not None:
            self.retryable = retryable
        self.retry_after = retry_after
        """Seconds the source asked us to wait before trying again, if it said."""


class AgentError(RunError):
    """An agent ran and failed. Not retryable unless the agent says so."""


class StepTimeoutError(RunError):
    """A step ran longer than its policy allows."""

    retryable = True


class RateLimitedError(RunError):
    """An integration refused because of a quota; retry after `retry_after`."""

    retryable = True


class StoreError(RunError):
    """The state store failed (disk full, database gone, schema mismatch)."""


class PermissionDeniedError(RunError):
    """An integration refused for lack of rights (a person may grant them)."""


class ModelError(RunError):
    """A language model could not answer: down, rate limited past our retries, garbage, a refusal.

    Retryable only when the provider said so.
    """


class ModelOutputRejectedError(ModelError):
    """The model's last allowed answer still failed the checks; `problems` says how."""

    def __init__(self, message: str, *, problems: Sequence[str], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = tuple(problems)
        """What was wrong with the last answer, one problem per item."""


class BudgetExceededError(RunError):
    """An execution's token or cost budget is spent; nothing more may be asked of a model."""


class ErrorClass(StrEnum):
    """What kind of failure an error is, for the recovery ladder (see `classify`)."""

    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    TRANSIENT = "transient"
    INVALID_INPUT = "invalid_input"
    PERMISSION = "permission"
    PERMANENT = "permanent"


class Rung(StrEnum):
    """A rung of the recovery ladder, tried in the order a ladder lists them."""

    RETRY = "retry"
    """The same agent again, after an exponential back-off with jitter (or `retry_after`)."""
    ALTERNATIVE = "alternative"
    """Another agent of the same capability, best success rate and latency first."""
    ASK = "ask"
    """A person decides: retry, skip, give the output by hand, or abort."""
    FAIL = "fail"
    """The step fails; its dependents are skipped."""
