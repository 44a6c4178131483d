"""``baton serve``: the REST API (and the executions it starts) on uvicorn."""

from __future__ import annotations

import errno
import socket
from typing import Annotated

import typer
from rich.panel import Panel
from rich.text import Text

from baton.cli.session import state_of
from baton.errors import UsageError


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port`, as uvicorn binds one (SO_REUSEADDR, inheritable).

    Raises:
        UsageError: the port is taken, not allowed, or the address is not this machine's.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise _bind_error(host, port, exc) from None
    sock.set_inheritable(True)
    return sock


def _bind_error(host: str, port: int, exc: OSError) -> UsageError:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return UsageError(
            f"cannot listen on {where}: the port is in use (another baton serve, or another "
            "program)",
            hint="stop that program, or choose another port: --port N or BATON_PORT",
        )
    if exc.errno == errno.EACCES:
        return UsageError(
            f"cannot listen on {where}: not allowed (ports under 1024 need privileges)",
            hint="choose a port from 1024 up: --port N or BATON_PORT",
        )
    return UsageError(
        f"cannot listen on {where}: {exc.strerror or exc}",
        hint="--host 127.0.0.1 (this machine only) or 0.0.0.0 (every interface), or BATON_HOST",
    )


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

    # Bound before the app starts: a port in use is a clear error, not a startup (which takes
    # up interrupted executions) followed by uvicorn's bind failure and a shutdown.
    address, number = host or settings.host, settings.port if port is None else port
    listening = listen(address, number)
    shown = f"[{address}]" if ":" in address else address
    bound = listening.getsockname()[1]  # the port chosen, for --port 0
    state.err.print(f"listening on http://{shown}:{bound} (dashboard at /, API docs at /docs)")
    app = create_app(settings, on_first_key=show_first_key, recover=recover)
    config = uvicorn.Config(
        app,
        log_level=log_level,
        # Proxies and load balancers see heartbeats on SSE streams; keep sockets reasonable.
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run(sockets=[listening])
