"""The error boundary: every exception of every command ends here as a short message.

Exit codes: 2 for a caller's mistake (`UsageError`, and Typer's own usage errors) or a
database that needs attention (`StoreError`: disk full, locked, server down), 1 for a failure
at run time or an internal error, 130 for an interrupt. Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup
from typer.exceptions import TyperException

from baton.cli.render import clip
from baton.errors import BatonError, PlanningError, StoreError, UsageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_MAX_LINES = 30  # of one error message; a plan can have thousands of problems
_LINE_CHARS = 300  # a request a megabyte long must not come back in the message


class BoundaryGroup(TyperGroup):
    """The root command group; wraps every subcommand in the error boundary.

    Living in the group (not in ``main()``) means `typer.testing.CliRunner` sees the same
    messages and exit codes as a real process.
    """

    def invoke(self, ctx: Any) -> Any:
        """Invoke the subcommand; turn exceptions into messages and exit codes."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise  # Typer's own exits and usage errors already carry their codes
        except KeyboardInterrupt:
            _stderr().print(Text("interrupted", style="magenta"))
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            raise typer.Exit(report(exc, debug=_debug(ctx))) from None


def _debug(ctx: Any) -> bool:
    return bool(getattr(ctx, "params", {}).get("debug"))


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def report(exc: Exception, *, debug: bool = False) -> int:
    """Print `exc` for people on stderr and return the exit code it maps to."""
    exc = _sole_error(exc)
    err = _stderr()
    if debug:
        sys.stderr.write("".join(traceback.format_exception(exc)))
    if not isinstance(exc, BatonError):
        first = (str(exc).splitlines() or [""])[0]
        err.print(
            Text.assemble(
                ("internal error: ", "bold red"),
                clip(f"{type(exc).__name__}: {first}", _LINE_CHARS),
            ),
            soft_wrap=True,
        )
        if not debug:
            err.print(Text("run with --debug for the traceback", style="dim"))
        return EXIT_FAILED
    err.print(error_text(exc), soft_wrap=True)
    # A store failure is fixed by a person (free disk, start the server), like bad settings.
    return EXIT_USAGE if isinstance(exc, UsageError | StoreError) else EXIT_FAILED


def _sole_error(exc: Exception) -> Exception:
    """The one error inside (nested) exception groups, as a failed task group raises it."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def error_text(exc: BatonError) -> Text:
    """``error: message``, then understood / not understood parts and the hint, all clipped."""
    lines = exc.message.splitlines() or [""]
    extra: list[tuple[str, str]] = []
    if isinstance(exc, PlanningError):
        extra += [("understood: ", u) for u in exc.understood]
        extra += [("not understood: ", n) for n in exc.not_understood]
    text = Text.assemble(("error: ", "bold red"), clip(lines[0], _LINE_CHARS))
    body = [("", line) for line in lines[1:]] + [(f"  {k}", v) for k, v in extra]
    for label, line in body[:_MAX_LINES]:
        text.append("\n")
        text.append(label, style="bold")
        # Keep the indentation of multi-line messages (problem lists), clip the rest.
        indent = len(line) - len(line.lstrip())
        text.append(" " * indent + clip(line, _LINE_CHARS))
    if len(body) > _MAX_LINES:
        text.append(f"\n  … and {len(body) - _MAX_LINES} more line(s)", style="dim")
    if exc.hint:
        text.append("\n  hint: ", style="bold cyan")
        text.append(clip(exc.hint, _LINE_CHARS))
    return text
