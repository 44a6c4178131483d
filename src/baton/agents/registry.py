"""The agent registry: agents by capability name, with live performance stats."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from baton.agents.protocol import Agent, AgentSpec
from baton.errors import UnknownAgentError, UsageError


@dataclass(slots=True)
class AgentStats:
    """Running totals for one agent, updated as steps finish."""

    runs: int = 0
    """Attempts finished (success or failure)."""
    successes: int = 0
    """Attempts that succeeded."""
    failures: int = 0
    """Attempts that failed."""
    total_duration_s: float = 0.0
    """Sum of attempt durations."""
    last_error: str | None = None
    """Message of the most recent failure."""

    @property
    def success_rate(self) -> float | None:
        """Successes / runs, or None before the first run."""
        return self.successes / self.runs if self.runs else None

    @property
    def mean_duration_s(self) -> float | None:
        """Mean attempt duration, or None before the first run."""
        return self.total_duration_s / self.runs if self.runs else None


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisteredAgent:
    """An agent and where it came from."""

    agent: Agent
    """The agent itself."""
    source: str
    """``builtin``, ``entry-point:<dist>``, ``plugin:<path>`` or ``python``."""


class AgentRegistry:
    """Agents by name. Names are unique; registering a taken name is an error."""

    def __init__(self) -> None:
        self._agents: dict[str, RegisteredAgent] = {}
        self._stats: dict[str, AgentStats] = {}

    def register(self, agent: Agent, *, source: str = "python", replace: bool = False) -> None:
        """Add an agent.

        Raises:
            UsageError: the object is not an agent, or its name is taken and `replace` is false.
        """
        # Plugins hand us arbitrary objects; the annotation does not make this check redundant.
        if not isinstance(agent, Agent):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UsageError(
                f"{agent!r} is not an agent",
                hint="decorate an async function with @baton.agent, or give it .spec and .run",
            )
        name = agent.spec.name
        existing = self._agents.get(name)
        if existing is not None and not replace:
            raise UsageError(
                f"an agent named {name!r} is already registered (from {existing.source})",
                hint="choose another name, or register with replace=True",
            )
        self._agents[name] = RegisteredAgent(agent=agent, source=source)
        self._stats.setdefault(name, AgentStats())

    def get(self, name: str) -> Agent:
        """Return the agent called `name`.

        Raises:
            UnknownAgentError: with the closest names as a hint.
        """
        entry = self._agents.get(name)
        if entry is None:
            raise UnknownAgentError(f"unknown agent {name!r}", hint=self.suggestion_hint(name))
        return entry.agent

    def entry(self, name: str) -> RegisteredAgent:
        """Return the agent and its source."""
        self.get(name)
        return self._agents[name]

    def suggest(self, name: str, limit: int = 3) -> list[str]:
        """Registered names closest to `name`, best first (may be empty)."""
        if not self._agents:
            return []
        matches = process.extract(
            name, list(self._agents), scorer=Levenshtein.normalized_similarity, limit=limit
        )
        return [m[0] for m in matches if m[1] >= 0.4]

    def suggestion_hint(self, name: str) -> str:
        """A hint naming the closest agents, or pointing at `baton agents list`."""
        close = self.suggest(name)
        if close:
            return "did you mean " + " or ".join(repr(c) for c in close) + "?"
        return "`baton agents list` shows the registered agents"

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def __iter__(self) -> Iterator[Agent]:
        return (e.agent for e in self._agents.values())

    def __len__(self) -> int:
        return len(self._agents)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._agents)

    def specs(self) -> list[AgentSpec]:
        """Specs of all agents, sorted by name."""
        return [self._agents[n].agent.spec for n in self.names()]

    def register_all(self, agents: Iterable[Agent], *, source: str) -> None:
        """Register several agents from one source."""
        for a in agents:
            self.register(a, source=source)

    def stats(self, name: str) -> AgentStats:
        """Live stats of an agent (zeroes before its first run)."""
        self.get(name)
        return self._stats[name]

    def seed(
        self, name: str, *, successes: int, failures: int = 0, mean_duration_s: float = 0.0
    ) -> None:
        """Start an agent's stats from history (e.g. the store's, at start-up).

        `mean_duration_s` is the mean of the successful runs; failed runs add no duration, so
        the mean duration stays that of successes.
        """
        stats = self._stats.setdefault(name, AgentStats())
        stats.runs += successes + failures
        stats.successes += successes
        stats.failures += failures
        stats.total_duration_s += successes * mean_duration_s

    def record(self, name: str, *, ok: bool, duration_s: float, error: str | None = None) -> None:
        """Update an agent's stats after an attempt."""
        stats = self._stats.setdefault(name, AgentStats())
        stats.runs += 1
        stats.total_duration_s += duration_s
        if ok:
            stats.successes += 1
        else:
            stats.failures += 1
            stats.last_error = error
