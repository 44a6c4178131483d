"""What built-in agents need from the composition root (paths, limits, stores)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from baton.llm.protocol import TextModel
from baton.store.calendar import CalendarStore


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpLimits:
    """Bounds on what the `http` agent will do."""

    timeout_s: float = 30.0
    """Timeout for one request (connect + read)."""
    max_bytes: int = 10 * 1024 * 1024
    """Largest response body accepted."""
    max_redirects: int = 5
    """Redirects followed before giving up."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentResources:
    """Handed to every built-in agent factory by `baton.app`."""

    workspace: Path
    """Folder the `files`, `data` and `notify` agents are confined to."""
    calendar: CalendarStore
    """Where the embedded calendar keeps its events."""
    timezone: str = "UTC"
    """The user's IANA time zone (for dates in requests and working hours)."""
    http: HttpLimits = field(default_factory=HttpLimits)
    """Bounds for the `http` agent."""
    model: TextModel | None = None
    """The configured language model; the `text` agents use it, or work offline without."""

    @property
    def outbox(self) -> Path:
        """Where the `notify` agent writes messages."""
        return self.workspace / "outbox"
