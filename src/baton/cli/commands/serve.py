"""``baton serve``: the REST API (and the executions it starts) on uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
from rich.text import Text

from baton.cli.session import state_of


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: BATON_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: BATON_PORT, 8000).")
    ] = None,
    recover: Annotated[
        bool,
        typer.Option(help="Take up executions a stopped server left running, at start."),
    ] = True,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Serve the API: OpenAPI at /openapi.json, docs at /docs, streams over SSE."""
    import uvicorn

    from baton.api.app import create_app

    state = state_of(ctx)
    settings = state.settings()
    if settings.database_url is None:
        settings.prepare_data_dir()

    def show_first_key(token: str) -> None:
        state.err.print(
            Panel(
                Text.assemble(
                    "First start: created workspace 'default' and its admin.\n",
                    "API key (shown once; store it now, it is kept only as a hash):\n\n",
                    (token, "bold"),
                    "\n\nUse it as `Authorization: Bearer <key>`, or BATON_API_KEY for the CLI.",
                ),
                title="baton",
                border_style="green",
            )
        )

    app = create_app(settings, on_first_key=show_first_key, recover=recover)
    uvicorn.run(
        app,
        host=host or settings.host,
        port=settings.port if port is None else port,
        log_level=log_level,
        # Proxies and load balancers see heartbeats on SSE streams; keep sockets reasonable.
        timeout_graceful_shutdown=10,
    )
