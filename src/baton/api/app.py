"""The FastAPI application: `create_app` builds it; its lifespan owns the engine.

```python
app = create_app(settings)          # opens the engine (store, registry...) at startup
uvicorn.run(app, host="127.0.0.1", port=8000)
```

At startup the lifespan opens `Baton`, creates the first workspace and admin key when there
are no users yet (the token is handed to `on_first_key`, never stored in clear), and takes
up the executions a dead process left running, and evaluates the alert rules every
``BATON_ALERT_INTERVAL_S``. Executions started over the API run in a
task group the lifespan owns; at shutdown they are cancelled cleanly and resumed at the
next start.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
from fastapi import FastAPI

from baton import __version__
from baton.api.dashboard import install_dashboard
from baton.api.limits import BodySizeLimit
from baton.api.problems import PROBLEM_JSON, install_problem_handlers
from baton.api.routes import (
    agents,
    alerts,
    approvals,
    executions,
    health,
    logs,
    metrics,
    session,
    stats,
    streams,
    tenancy,
    traces,
)
from baton.api.runs import BackgroundRuns
from baton.api.services import ApiServices
from baton.app import Baton
from baton.observability.tracing_http import TraceContextMiddleware
from baton.settings import Settings, load_settings
from baton.wire import ProblemOut

__all__ = ["create_app"]

_problem = {"model": ProblemOut, "content": {PROBLEM_JSON: {}}}
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The request cannot be done as asked", **_problem},
    401: {"description": "No valid API key", **_problem},
    403: {"description": "The caller's role does not allow it", **_problem},
    404: {"description": "Not found (or in another workspace)", **_problem},
    409: {"description": "Conflicts with the current state", **_problem},
    413: {"description": "Request body too large", **_problem},
    422: {"description": "Invalid request or plan", **_problem},
}


def create_app(
    settings: Settings | None = None,
    *,
    baton: Baton | None = None,
    on_first_key: Callable[[str], None] | None = None,
    recover: bool = True,
) -> FastAPI:
    """Build the API.

    Args:
        settings: Configuration (read from the environment when omitted).
        baton: An engine opened by the caller (tests); otherwise the lifespan opens one.
        on_first_key: Called with the first admin's API key when the server creates it.
        recover: Take up interrupted executions at startup.
    """
    resolved = settings or (baton.settings if baton is not None else None) or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _engine(resolved, baton) as engine, anyio.create_task_group() as tg:
            services = ApiServices(baton=engine, runs=BackgroundRuns(engine, tg))
            token = await engine.tenancy.bootstrap()
            if token is not None and on_first_key is not None:
                on_first_key(token)
            if recover:
                await services.runs.recover()
            tg.start_soon(engine.alerts.run)
            app.state.services = services
            with _server_gc():
                try:
                    yield
                finally:
                    tg.cancel_scope.cancel()

    app = FastAPI(
        title="baton",
        version=__version__,
        summary="Plain-language requests become validated DAGs of agent steps, run durably.",
        lifespan=lifespan,
        responses=COMMON_RESPONSES,
    )
    install_problem_handlers(app)
    # W3C traceparent in: runs a request starts or resumes join the caller's trace.
    app.add_middleware(TraceContextMiddleware)
    app.add_middleware(BodySizeLimit, max_bytes=resolved.max_body_bytes)
    for module in (
        executions,
        streams,
        approvals,
        agents,
        alerts,
        tenancy,
        health,
        metrics,
        traces,
        logs,
        session,
        stats,
    ):
        app.include_router(module.router)
    # Last: its catch-all GET route must come after every API route.
    install_dashboard(app)
    return app


@contextmanager
def _server_gc() -> Iterator[None]:
    """Collect garbage less often while serving, and never look at startup objects again.

    With hundreds of SSE streams open, a full collection takes ~200 ms and used to come every
    few seconds: it was the tail of the stream latency (see docs/benchmarks.md). Objects made
    at startup (engine, registry, routes) live as long as the server: freezing them takes them
    out of every collection. The previous settings come back at shutdown.
    """
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(7000, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


@asynccontextmanager
async def _engine(settings: Settings, baton: Baton | None) -> AsyncIterator[Baton]:
    if baton is not None:
        yield baton
        return
    async with Baton.open(settings) as opened:
        yield opened
