"""A real uvicorn server on a free loopback port, in the test's own event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import uvicorn
from fastapi import FastAPI


@dataclass(frozen=True, slots=True)
class LiveServer:
    """Where the server listens."""

    url: str
    server: uvicorn.Server


@contextlib.asynccontextmanager
async def live_server(app: FastAPI) -> AsyncIterator[LiveServer]:
    """Serve `app` (lifespan included) on 127.0.0.1 until the block exits."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    # uvicorn takes SIGINT/SIGTERM over while it serves; a test keeps its own handlers.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(30):
            while not server.started:
                if server.should_exit:
                    raise RuntimeError("uvicorn did not start")
                await anyio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield LiveServer(url=f"http://127.0.0.1:{port}", server=server)
        finally:
            server.should_exit = True
