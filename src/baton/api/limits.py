"""A cap on request body size, enforced before a route reads the body.

A declared ``Content-Length`` over the cap is refused at once; a chunked body is read as it
arrives and refused as soon as it passes the cap, so a client cannot make the server buffer
more than the cap either way.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from baton.api.problems import TOO_LARGE, problem_response

__all__ = ["BodySizeLimit"]


class BodySizeLimit:
    """ASGI middleware answering 413 (problem details) for bodies over `max_bytes`."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, refusing its body once it is over the cap."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await problem_response(TOO_LARGE, self._detail(declared))(scope, receive, send)
            return
        if declared is not None:
            # The HTTP server holds the body to its declared length: nothing more to count.
            await self.app(scope, receive, send)
            return
        # Chunked: read it here, up to the cap (memory stays bounded by it), then replay it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await problem_response(TOO_LARGE, self._detail(size))(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _detail(self, size: int) -> str:
        return f"the request body is over {self.max_bytes:,} bytes ({size:,} sent)"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
