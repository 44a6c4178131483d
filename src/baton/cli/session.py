"""Per-invocation state of the command line, and opening the engine for one command."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
import typer
from rich.console import Console
from rich.text import Text

from baton.app import Baton
from baton.settings import Settings, load_settings

T = TypeVar("T")


def _stdout() -> Console:
    return Console(highlight=False)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


@dataclass(slots=True, kw_only=True)
class CliState:
    """Made by the root callback for each invocation (nothing is global)."""

    debug: bool = False
    """Show tracebacks."""
    out: Console = field(default_factory=_stdout)
    """Results."""
    err: Console = field(default_factory=_stderr)
    """Warnings, notes and errors."""
    _settings: Settings | None = None
    _warned: bool = False

    def settings(self) -> Settings:
        """Settings from the environment, read once (raises `ConfigError`)."""
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def note(self, message: str) -> None:
        """A dim remark on stderr (never mixed into ``--json`` output on stdout)."""
        self.err.print(Text(message, style="dim"), soft_wrap=True)

    def warn_discovery(self, errors: Sequence[str]) -> None:
        """Report plugins that failed to load, once per invocation, without failing."""
        if self._warned:
            return
        self._warned = True
        for line in errors:
            self.err.print(Text.assemble(("warning: ", "bold yellow"), line), soft_wrap=True)

    def with_baton(self, work: Callable[[Baton], Awaitable[T]]) -> T:
        """Open the engine, run `work` on it in a fresh event loop, close it.

        Settings are read before the loop starts, so the loop never blocks on the
        environment file.
        """
        settings = self.settings()

        async def main() -> T:
            async with Baton.open(settings) as baton:
                self.warn_discovery(baton.discovery.errors)
                return await work(baton)

        return anyio.run(main)


def state_of(ctx: typer.Context) -> CliState:
    """The invocation's state (a default one when a command is invoked on its own)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
