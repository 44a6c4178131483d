"""Per-invocation state of the command line, and opening the engine (or a server) for one command.

When ``BATON_URL`` is set, the commands that can work through the REST API do so with
`CliState.with_client` (see `baton.cli.remote`); the others refuse in `CliState.with_baton`
with a message saying so, rather than work on a local database the user did not mean.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import click
import typer
from rich.console import Console
from rich.text import Text

from baton.app import Baton
from baton.cli.interrupt import run_interruptible
from baton.client import AuthenticationError, BatonClient
from baton.errors import UsageError
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

    @property
    def remote(self) -> bool:
        """Whether commands go to a baton server (``BATON_URL`` is set) instead of the engine."""
        return bool(self.settings().url)

    def with_baton(self, work: Callable[[Baton], Awaitable[T]]) -> T:
        """Open the engine, run `work` on it in a fresh event loop, close it.

        Settings are read before the loop starts, so the loop never blocks on the
        environment file.

        Raises:
            UsageError: ``BATON_URL`` is set: this command works on the local engine only.
        """
        settings = self.settings()
        if settings.url:
            raise _local_only(settings.url)

        async def main() -> T:
            async with Baton.open(settings) as baton:
                self.warn_discovery(baton.discovery.errors)
                return await work(baton)

        return run_interruptible(main)

    def with_client(self, work: Callable[[BatonClient], Awaitable[T]]) -> T:
        """Connect to the server at ``BATON_URL`` with ``BATON_API_KEY`` and run `work`.

        Raises:
            UsageError: ``BATON_API_KEY`` is not set.
        """
        settings = self.settings()
        url = settings.url or ""
        if not settings.api_key:
            raise UsageError(
                f"BATON_URL is set ({url}) but BATON_API_KEY is not: the server needs an API key",
                hint="`baton serve` prints the first admin key when it first starts; an admin "
                "makes more with POST /api/workspace/keys. Then `export BATON_API_KEY=baton_...`"
                " (or unset BATON_URL to use the local engine)",
            )
        api_key = settings.api_key

        async def main() -> T:
            async with BatonClient(url, api_key) as client:
                return await work(client)

        try:
            return run_interruptible(main)
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"the server at {url} refused BATON_API_KEY: {exc.message}",
                hint="check BATON_API_KEY: keys can be revoked or expire; an admin makes a new "
                "one with POST /api/workspace/keys (`baton serve` prints the first admin key)",
            ) from exc


def _local_only(url: str) -> UsageError:
    ctx = click.get_current_context(silent=True)
    command = f"`{ctx.command_path}`" if ctx is not None else "this command"
    return UsageError(
        f"{command} works on the local engine only, and BATON_URL is set ({url})",
        hint="unset BATON_URL to run it here (`env -u BATON_URL baton ...`), or run it on the "
        "server's machine",
    )


def state_of(ctx: typer.Context) -> CliState:
    """The invocation's state (a default one when a command is invoked on its own)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
