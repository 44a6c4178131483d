"""The ``baton`` command: the Typer app and the console-script entry point."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from baton.cli.commands import agents, alerts, approvals, cache, db, executions, logs, traces
from baton.cli.commands.plan import plan
from baton.cli.commands.recovery import recover, resolve, resume
from baton.cli.commands.run import run
from baton.cli.commands.serve import serve
from baton.cli.commands.stats import stats
from baton.cli.errors import BoundaryGroup
from baton.cli.eval import app as eval_app
from baton.cli.llm import app as llm_app
from baton.cli.session import CliState

app = typer.Typer(
    cls=BoundaryGroup,
    name="baton",
    help="Turn plain-language requests into plans of agent steps, and run them.",
    no_args_is_help=True,
    # The boundary prints errors; Typer's pretty tracebacks would only hide them.
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command()(run)
app.command()(plan)
app.command()(executions.cancel)
app.command()(resume)
app.command()(resolve)
app.command()(recover)
app.command()(serve)
app.command()(stats)
app.command()(approvals.approve)
app.command()(approvals.reject)
app.add_typer(executions.app, name="executions")
app.add_typer(agents.app, name="agents")
app.add_typer(db.app, name="db")
app.add_typer(approvals.app, name="approvals")
app.add_typer(alerts.app, name="alerts")
app.add_typer(traces.app, name="traces")
app.add_typer(logs.app, name="logs")
app.add_typer(cache.app, name="cache")
app.add_typer(eval_app, name="eval")
app.add_typer(llm_app, name="llm")


def _version() -> str:
    try:
        return version("baton")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"baton {_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = CliState(debug=debug)


def main() -> None:
    """Console-script entry point (``baton``, ``python -m baton``)."""
    app(prog_name="baton")
