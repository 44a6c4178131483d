"""Server-Sent Events encoding, framework-free.

`encode` turns what a subscription yields into the fields of an SSE message, as a dict that
sse-starlette accepts as is (``EventSourceResponse`` turns a yielded dict into a
``ServerSentEvent``): ``id`` is the event's seq, so the browser's ``Last-Event-ID`` on
reconnection is what `parse_last_event_id` reads back and `EventBus.subscribe` resumes
after; ``event`` is the event's kind; ``data`` is the event as JSON, through
`EVENT_ADAPTER` (parse it back with ``EVENT_ADAPTER.validate_json``). A heartbeat becomes an
SSE comment, which clients ignore and proxies see as traffic. A `Notice` of a workspace
stream (an alert firing or resolved) has its kind as ``event``, its details as JSON
``data``, and no ``id``: the workspace stream has no replay to resume.
"""

from __future__ import annotations

import json
import re

from baton.errors import UsageError
from baton.events import EVENT_ADAPTER
from baton.store.records import StoredEvent
from baton.streaming.bus import Heartbeat, Notice

__all__ = ["HEARTBEAT_COMMENT", "encode", "encode_workspace", "parse_last_event_id"]

HEARTBEAT_COMMENT = "heartbeat"
"""Text of the SSE comment sent for a heartbeat."""

_MAX_SEQ = 2**63 - 1  # a BIGINT: anything larger cannot be a position in the log
_DECIMAL = re.compile(r"[0-9]{1,19}")


def encode(item: StoredEvent | Heartbeat) -> dict[str, str]:
    """SSE fields of an execution stream's item: ``id`` (the seq), ``event``, ``data``."""
    if isinstance(item, Heartbeat):
        return {"comment": HEARTBEAT_COMMENT}
    return {
        "id": str(item.seq),
        "event": item.event.kind,
        "data": EVENT_ADAPTER.dump_json(item.event).decode(),
    }


def encode_workspace(item: StoredEvent | Notice | Heartbeat) -> dict[str, str]:
    """SSE fields of a workspace stream's item: as `encode`, with id ``EXECUTION_ID:SEQ``.

    A notice is its kind as ``event`` and its data as JSON, without an ``id``.
    """
    if isinstance(item, Notice):
        return {"event": item.kind, "data": json.dumps(item.data, default=str)}
    fields = encode(item)
    if not isinstance(item, Heartbeat):
        fields["id"] = f"{item.event.execution_id}:{item.seq}"
    return fields


def parse_last_event_id(header: str | None) -> int:
    """The seq a client resumes after, from its ``Last-Event-ID`` header (None: 0).

    Raises:
        UsageError: the header is not a decimal number of at least 0.
    """
    if header is None:
        return 0
    if _DECIMAL.fullmatch(header) is None or int(header) > _MAX_SEQ:
        raise UsageError(
            f"Last-Event-ID must be the id of an event of this stream (a number), not {header!r}",
            hint="send the id of the last event received, or no Last-Event-ID to start over",
        )
    return int(header)
