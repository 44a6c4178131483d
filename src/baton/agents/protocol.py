"""The agent contract: what an agent declares, how it runs, and what it is given.

An agent is anything with a `spec` and an ``async def run(inputs, ctx)``. Most are written with
the `baton.agents.agent` decorator; classes work too. Agents that can read their own arguments
out of a sentence also implement `ExtractsInputs`, which is how the offline planner fills a
step's inputs ("each agent's own parsers").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from baton.comms.context import SharedContext
from baton.comms.messenger import Messenger
from baton.errors import ErrorClass, Rung
from baton.llm.protocol import CallScope

LogLevel = Literal["debug", "info", "warning", "error"]


class Risk(StrEnum):
    """What running an agent can do to the world (drives approval gates later)."""

    READ = "read"
    """Only reads; running it twice is harmless."""
    WRITE = "write"
    """Changes something that can be changed back."""
    IRREVERSIBLE = "irreversible"
    """Changes something that cannot be undone (a sent message, a payment)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSpec:
    """Everything the registry, planner and executor need to know about an agent."""

    name: str
    """Capability name, unique in a registry, e.g. ``files.read``."""
    description: str
    """One or two sentences: what it does. Shown to planners (LLM and offline)."""
    input_model: type[BaseModel]
    """Pydantic model of its inputs; validated before it runs."""
    output_model: type[BaseModel]
    """Pydantic model of its output; other steps reference its fields."""
    risk: Risk = Risk.READ
    """What it can do to the world."""
    idempotent: bool = True
    """Running it twice with the same inputs and idempotency key has the effect of once."""
    cacheable: bool = False
    """Its output depends only on its inputs, so it may be cached."""
    rate_limit_key: str | None = None
    """Agents sharing a key share a quota (e.g. ``http:api.example.com``)."""
    examples: tuple[str, ...] = ()
    """Requests it serves, in plain language; the offline planner ranks clauses against them."""
    tags: tuple[str, ...] = ()
    """Free-form labels (e.g. ``builtin``, ``files``)."""
    capability: str | None = None
    """Agents declaring the same capability can stand in for each other (the recovery
    ladder's "alternative" rung); their input schemas must accept the same inputs."""
    recovery: Mapping[ErrorClass, tuple[Rung, ...]] | None = None
    """This agent's recovery ladder per error class (a plan or step may override it)."""
    untrusted_output: bool = False
    """Its output comes from outside (fetched text, webhook payloads): a write or
    irreversible step fed from it needs a person's approval."""


class EventSink(Protocol):
    """Where an agent's log, progress and partial results go (the executor supplies it)."""

    def log(self, step_id: str, level: LogLevel, message: str) -> None:
        """Record a log line."""
        ...

    def progress(self, step_id: str, fraction: float | None, message: str) -> None:
        """Record progress."""
        ...

    def partial(self, step_id: str, data: dict[str, Any]) -> None:
        """Record a partial result."""
        ...


class _NullSink:
    def log(self, step_id: str, level: LogLevel, message: str) -> None:
        pass

    def progress(self, step_id: str, fraction: float | None, message: str) -> None:
        pass

    def partial(self, step_id: str, data: dict[str, Any]) -> None:
        pass


class Fence(Protocol):
    """The resource locks a step holds, to check just before writing a protected resource.

    A holder paused past its lease (a long GC, a frozen VM) may have lost its lock to another
    step; checking the fencing token right before the write stops it from writing then.
    """

    def covers(self, resource: str) -> bool:
        """Whether this step holds a lock on `resource` (``file:reports/q3.md``)."""
        ...

    async def still_held(self, resource: str) -> bool:
        """Whether this step's token is still the current one for `resource`."""
        ...


@dataclass(slots=True, kw_only=True)
class AgentContext:
    """What an agent is given besides its inputs, for one attempt of one step."""

    execution_id: str
    """The execution the step belongs to."""
    step_id: str
    """The step being run."""
    attempt: int = 1
    """1 on the first attempt."""
    idempotency_key: str = ""
    """Stable across retries and resumes of this step; pass it to external systems."""
    workspace: Path = field(default_factory=Path.cwd)
    """The folder file-touching agents are confined to."""
    secrets: Mapping[str, str] = field(default_factory=dict[str, str])
    """Secrets the agent may use (API tokens); never logged."""
    sink: EventSink = field(default_factory=_NullSink)
    """Receiver of log / progress / partial events."""
    context: SharedContext | None = None
    """The execution's shared key-value context (None when no store is configured)."""
    messenger: Messenger | None = None
    """Messages to other agents of the execution (None when no store is configured)."""
    fence: Fence | None = None
    """The step's resource locks, when it declared resources."""
    model_scope: CallScope | None = None
    """The `CallScope` for model calls of this step attempt (it carries the execution's
    budget); None when the executor gives none (agents then make a bare one for the step)."""

    def log(self, message: str, level: LogLevel = "info") -> None:
        """Emit a log line for this step."""
        self.sink.log(self.step_id, level, message)

    def progress(self, fraction: float | None, message: str = "") -> None:
        """Report progress (0.0-1.0, or None when unknown)."""
        self.sink.progress(self.step_id, fraction, message)

    def partial(self, data: dict[str, Any]) -> None:
        """Emit part of the result before the step finishes."""
        self.sink.partial(self.step_id, data)


@runtime_checkable
class Agent(Protocol):
    """An agent: a spec and an async `run`."""

    @property
    def spec(self) -> AgentSpec:
        """What the agent is and needs."""
        ...

    async def run(self, inputs: BaseModel, ctx: AgentContext) -> BaseModel:
        """Do the work. `inputs` is an instance of ``spec.input_model``."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtractionContext:
    """What an agent's input extractor may use besides the clause itself."""

    now: datetime
    """The current time, timezone-aware, for relative dates ("next Tuesday")."""
    timezone: str = "UTC"
    """The user's IANA time zone."""
    previous_agents: tuple[str, ...] = ()
    """Agents of the steps planned before this clause, in order (for "it", "the result")."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Extraction:
    """What an agent understood of one clause of a request."""

    inputs: dict[str, Any] = field(default_factory=dict[str, Any])
    """Input values found in the clause (JSON-compatible)."""
    from_previous: tuple[str, ...] = ()
    """Input fields to take from an earlier step's output (data flow, e.g. "summarize it")."""
    understood: str = ""
    """What the agent would do, in words, e.g. ``read the file notes.txt``."""
    unparsed: tuple[str, ...] = ()
    """Fragments of the clause it recognised as arguments but could not parse."""


@runtime_checkable
class ExtractsInputs(Protocol):
    """An agent that can read its own inputs out of a sentence."""

    def extract_inputs(self, clause: str, ctx: ExtractionContext) -> Extraction:
        """Pull input values out of `clause`; leave out what is not there."""
        ...


InputExtractor = Callable[[str, ExtractionContext], Extraction]
"""Signature of an extractor function given to the `agent` decorator."""
