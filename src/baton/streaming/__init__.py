"""Stream manager: a per-process event bus with durable replay, and SSE encoding.

`PublishingStore` wraps the execution store and publishes every committed batch to the
`EventBus`; `EventBus.subscribe` streams an execution's events from a ``Last-Event-ID`` on
without gap or duplicate; `baton.streaming.sse` turns them into SSE fields.
"""

from baton.streaming.bus import HEARTBEAT as HEARTBEAT
from baton.streaming.bus import EventBus as EventBus
from baton.streaming.bus import ExecutionSubscription as ExecutionSubscription
from baton.streaming.bus import Heartbeat as Heartbeat
from baton.streaming.bus import SubscriberDropped as SubscriberDropped
from baton.streaming.bus import Subscription as Subscription
from baton.streaming.bus import WorkspaceSubscription as WorkspaceSubscription
from baton.streaming.publishing_store import PublishingStore as PublishingStore
from baton.streaming.sse import encode as encode
from baton.streaming.sse import encode_workspace as encode_workspace
from baton.streaming.sse import parse_last_event_id as parse_last_event_id

__all__ = [
    "HEARTBEAT",
    "EventBus",
    "ExecutionSubscription",
    "Heartbeat",
    "PublishingStore",
    "SubscriberDropped",
    "Subscription",
    "WorkspaceSubscription",
    "encode",
    "encode_workspace",
    "parse_last_event_id",
]
