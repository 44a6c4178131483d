"""What step workers send to the executor loop.

`StreamSink` turns an agent's log / progress / partial calls into such messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from baton.agents.protocol import LogLevel
from baton.events import RunEvent, StepLog, StepPartial, StepProgress


@dataclass(frozen=True, slots=True)
class Done:
    """A step's attempt succeeded."""

    step_id: str
    output: dict[str, Any]
    duration_s: float
    cached: bool = False
    """The output came from the smart cache (the agent did not run)."""


@dataclass(frozen=True, slots=True)
class Failed:
    """A step's attempt failed."""

    step_id: str
    error: BaseException


@dataclass(frozen=True, slots=True)
class RetryDue:
    """A step's back-off is over."""

    step_id: str


Message = Done | Failed | RetryDue | RunEvent
"""What step workers tell the executor loop."""


class StreamSink:
    """Turns an agent's log / progress / partial calls into events for the loop."""

    def __init__(self, execution_id: str, send: MemoryObjectSendStream[Message]) -> None:
        self._execution_id = execution_id
        self._send = send

    def log(self, step_id: str, level: LogLevel, message: str) -> None:
        """Queue a log event."""
        self._send.send_nowait(
            StepLog(execution_id=self._execution_id, step_id=step_id, level=level, message=message)
        )

    def progress(self, step_id: str, fraction: float | None, message: str) -> None:
        """Queue a progress event."""
        self._send.send_nowait(
            StepProgress(
                execution_id=self._execution_id,
                step_id=step_id,
                fraction=fraction,
                message=message,
            )
        )

    def partial(self, step_id: str, data: dict[str, Any]) -> None:
        """Queue a partial-result event."""
        self._send.send_nowait(
            StepPartial(execution_id=self._execution_id, step_id=step_id, data=data)
        )


T = TypeVar("T")


async def receive(stream: MemoryObjectReceiveStream[T]) -> T:
    """Take the next item, yielding to the event loop only when none is waiting.

    anyio's ``receive`` always passes through a checkpoint first (an extra turn of the event
    loop); on the executor's hot path that turn costs as much as the rest of a no-op step.
    Cancellation still gets through: when the stream is empty we wait in ``receive``.
    """
    try:
        return stream.receive_nowait()
    except anyio.WouldBlock:
        return await stream.receive()
