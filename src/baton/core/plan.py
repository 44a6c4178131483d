"""The plan: a DAG of steps, each done by an agent.

Plans are a trust boundary (hand-written files, LLM output, persisted JSON), so they are
pydantic models that forbid unknown fields. A step input may reference another step's output
with ``${step_id}`` (the whole output) or ``${step_id.field.sub}``; a whole-string reference keeps
the value's type, a reference inside a longer string is interpolated as text. A reference
implies a dependency.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from baton.errors import ErrorClass, Rung
from baton.llm.usage import Budget

STEP_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_-]*)((?:\.[A-Za-z0-9_-]+)*)\}")


class RetryPolicy(BaseModel):
    """How a step is retried after a retryable error: exponential backoff with jitter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=3, ge=1, le=100)
    """Attempts in all, the first included (1 = no retry)."""
    initial_delay_s: float = Field(default=0.5, ge=0)
    """Delay before the second attempt."""
    backoff: float = Field(default=2.0, ge=1)
    """Multiplier applied to the delay after each attempt."""
    max_delay_s: float = Field(default=30.0, ge=0)
    """Upper bound for one delay."""
    jitter: float = Field(default=0.5, ge=0, le=1)
    """Fraction of the delay that is randomised (0 = none, 1 = "full jitter")."""


class StepPolicy(BaseModel):
    """Per-step behaviour: retries, timeout, caching and criticality."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retry: RetryPolicy = RetryPolicy()
    """Retry policy for retryable errors."""
    timeout_s: float | None = Field(default=300.0, gt=0)
    """Seconds one attempt may run; None for no limit."""
    cache: bool = True
    """Use a cached result when the agent is cacheable (the smart cache comes later)."""
    critical: bool = False
    """Needs a human's approval before it runs."""
    recovery: dict[ErrorClass, list[Rung]] | None = None
    """Recovery ladder per error class for this step (overrides the plan's and the agent's)."""


class Step(BaseModel):
    """One unit of work: an agent, its inputs, and what it waits for."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=STEP_ID_PATTERN)
    """Unique in the plan; letters, digits, ``_`` and ``-``."""
    agent: str = Field(min_length=1)
    """Capability name of the agent, e.g. ``files.read``."""
    inputs: dict[str, Any] = Field(default_factory=dict[str, Any])
    """Input values; strings may hold ``${step.field}`` references."""
    depends_on: list[str] = Field(default_factory=list[str])
    """Steps that must succeed first (references add to these implicitly)."""
    description: str = ""
    """What the step does, for people."""
    resources: list[str] = Field(default_factory=list[str])
    """What it writes, e.g. ``file:reports/q3.md`` or ``calendar:dana@example.com``: steps
    sharing a resource never run at once, across executions and processes."""
    policy: StepPolicy = StepPolicy()
    """Retry, timeout, cache and criticality."""

    def references(self) -> Iterator[Reference]:
        """Every ``${...}`` reference in this step's inputs."""
        yield from find_references(self.inputs)

    def dependencies(self) -> list[str]:
        """Explicit dependencies plus those implied by references, without repeats, in order."""
        seen: dict[str, None] = dict.fromkeys(self.depends_on)
        for ref in self.references():
            seen.setdefault(ref.step_id)
        return list(seen)


class Provenance(BaseModel):
    """Who made a plan, and what planning it cost (planning counts against the budget)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    planner: str
    """``offline``, ``llm``, ``file`` ..."""
    provider: str | None = None
    """The model's provider when a model planned it."""
    model: str | None = None
    attempts: int = Field(default=1, ge=1)
    """Answers the model gave until one validated."""
    calls: int = Field(default=0, ge=0)
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)


class Plan(BaseModel):
    """A validated-on-demand DAG of steps (see `baton.core.validation`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    """Short title."""
    request: str | None = None
    """The plain-language request it was planned from, if any."""
    steps: list[Step] = Field(default_factory=list[Step])
    """The steps, in any order; dependencies define the order of execution."""
    max_concurrency: int | None = Field(default=None, ge=1)
    """Cap on steps running at once for this plan (None: the engine's default)."""
    recovery: dict[ErrorClass, list[Rung]] | None = None
    """Recovery ladder per error class for every step (a step's policy may override it)."""
    budget: Budget | None = None
    """Most the execution may spend on language models, planning included."""
    provenance: Provenance | None = None
    """Who planned it and what that cost; None for hand-written plans."""
    version: int = Field(default=1, ge=1)
    """1 as planned; each replan of the execution's remaining work adds one."""
    revised_because: str | None = None
    """Why this version replaced the one before (None for version 1)."""

    def step(self, step_id: str) -> Step:
        """The step with this id (KeyError if none)."""
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


@dataclass(frozen=True, slots=True)
class Reference:
    """A ``${step_id.path}`` reference found in a step's inputs."""

    step_id: str
    """The step whose output is referenced."""
    path: tuple[str, ...]
    """Field path into that output; empty for the whole output."""
    location: str
    """Where in the inputs it was found, e.g. ``inputs.text``."""

    def __str__(self) -> str:
        return "${" + ".".join((self.step_id, *self.path)) + "}"


def find_references(value: Any, location: str = "inputs") -> Iterator[Reference]:
    """Walk an inputs value and yield every reference in it."""
    if isinstance(value, str):
        for m in _REF.finditer(value):
            path = tuple(p for p in m.group(2).split(".") if p)
            yield Reference(m.group(1), path, location)
    elif isinstance(value, dict):
        for k, v in value.items():  # pyright: ignore[reportUnknownVariableType]
            yield from find_references(v, f"{location}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            yield from find_references(v, f"{location}[{i}]")


def is_whole_reference(value: str) -> re.Match[str] | None:
    """Match `value` if it is exactly one reference (so its type is kept when resolved)."""
    return _REF.fullmatch(value)


REFERENCE_PATTERN = _REF
"""Compiled pattern of a reference (for resolvers)."""
