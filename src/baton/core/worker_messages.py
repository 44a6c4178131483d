"""What step workers send to the executor loop.

`StreamSink` turns an agent's log / progress / partial calls into such messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anyio.streams.memory import MemoryObjectSendStream

from baton.agents.protocol import LogLevel
from baton.events import RunEvent, StepLog, StepPartial, StepProgress


@dataclass(frozen=True, slots=True)
class Done:
    """A step's attempt succeeded."""

    step_id: str
    output: dict[str, Any]
    duration_s: float


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
