"""The per-process event bus: live fan-out of committed events, with replay from the log.

`PublishingStore` publishes every batch of events right after the store committed it. A
subscriber of one execution (`EventBus.subscribe`) gets, from the ``after`` it starts at
(an SSE client's ``Last-Event-ID``; 0 for the beginning), **every event with a higher seq,
in seq order, exactly once**, then the live ones as they are published.

Why there is no gap and no duplicate, although replay comes from the durable log while live
events arrive from the bus at the same time:

1. The subscriber's live buffer (its inbox) is registered *before* the log is read. Any event
   committed after that read is therefore published into the inbox: nothing falls between
   the read and the registration.
2. The subscriber remembers the last seq it delivered, delivers only ``last + 1``, and drops
   anything at or below ``last`` (an event both read from the log and received live).
3. When the next live event is beyond ``last + 1`` (events appended by another process, or
   committed while the subscriber was setting up), the missing ones are read from the log
   before it is delivered. Seqs of one execution are given by its single writer (the lease
   holder) in commit order, so a published event implies its predecessors are committed and
   readable.
4. When nothing arrives for `poll_interval_s`, the log is read again: an execution run by
   another process never publishes to this bus, and one whose publish was lost (a
   cancellation between commit and publish) still reaches its subscribers, late.

Publishing is synchronous and never waits: each subscriber has a bounded inbox, and a
subscriber whose inbox would overflow is **dropped** at once (O(1), nothing else is
affected). Its buffered events are discarded immediately, so memory stays bounded by
``max_queue`` per subscriber, and its iterator raises `SubscriberDropped` on its next step,
carrying the seq to resume after. The SSE endpoint closes the stream and the client
reconnects with ``Last-Event-ID``: nothing is lost, it is only replayed from the log.

A stream ends after it delivered ``execution_finished`` (unless ``follow=True``): a
finished execution's stream replays and closes, and one whose client already has the end
(or whose log was compacted away) closes at once. ``execution_waiting`` does not end it.
A ``Last-Event-ID`` that is not an event of a running execution is refused (`UsageError`)
rather than silently skipping everything up to it.

The iterators yield `HEARTBEAT` after `heartbeat_s` of quiet (nothing to deliver), so that
an idle SSE connection keeps sending something through proxies
(`baton.streaming.sse.encode` turns it into an SSE comment); consumers that are not SSE skip
it. The idle wait is also where the log is polled, so heartbeats cost no extra task.

The workspace stream (`EventBus.subscribe_workspace`) carries only execution-level events
(started, waiting, finished) of the workspace's executions, live only: it has no replay, so
events published before it was entered, or by another process, are not in it. It also
carries `Notice`s, news of the service that are not execution events (an alert firing or
resolved), which `EventBus.publish_notice` hands to one workspace's streams or to all.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import anyio

from baton.errors import RunError, UsageError
from baton.store.protocol import ExecutionStore
from baton.store.records import StoredEvent

__all__ = [
    "HEARTBEAT",
    "LIFECYCLE_KINDS",
    "EventBus",
    "ExecutionSubscription",
    "Heartbeat",
    "Notice",
    "SubscriberDropped",
    "Subscription",
    "WorkspaceSubscription",
]

LIFECYCLE_KINDS = frozenset({"execution_started", "execution_waiting", "execution_finished"})
"""Event kinds of the workspace stream: what happens to executions as a whole."""

_PAGE = 1000
"""Events read from the log at a time (a long replay is read page by page)."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Nothing was delivered for a while; sent to keep an idle connection open."""


HEARTBEAT = Heartbeat()
"""The heartbeat the subscriptions yield."""


@dataclass(frozen=True, slots=True)
class Notice:
    """News of the service for workspace streams that is not an execution's event."""

    kind: str
    """What happened, e.g. ``alert_fired`` (the SSE event name)."""
    data: Mapping[str, Any]
    """Its details, JSON-compatible."""


_Item = TypeVar("_Item", StoredEvent, StoredEvent | Notice)


class SubscriberDropped(RunError):
    """A subscriber fell `max_queue` events behind and was cut off; its buffer is gone.

    Retryable: subscribe again after `resume_after` (for SSE, the client reconnects with the
    last id it received as ``Last-Event-ID``) and the rest is replayed from the log.
    """

    retryable = True

    def __init__(self, message: str, *, resume_after: int | None) -> None:
        super().__init__(
            message, hint="reconnect with Last-Event-ID set to the last event id received"
        )
        self.resume_after = resume_after
        """Last seq delivered to the dropped subscriber (None for a workspace stream)."""


class _Inbox(Generic[_Item]):
    """One subscriber's bounded buffer of live events, registered under a key of a table."""

    __slots__ = ("dropped", "items", "key", "limit", "table", "wakeup")

    def __init__(self, table: dict[str, set[_Inbox[_Item]]], key: str, limit: int) -> None:
        self.table = table
        self.key = key
        self.limit = limit
        self.items: deque[_Item] = deque()
        self.dropped = False
        self.wakeup: anyio.Event | None = None

    def attach(self) -> None:
        self.table.setdefault(self.key, set()).add(self)

    def detach(self) -> None:
        listeners = self.table.get(self.key)
        if listeners is not None:
            listeners.discard(self)
            if not listeners:
                del self.table[self.key]

    def push(self, batch: Sequence[_Item]) -> bool:
        """Buffer `batch`; False (and dropped, buffer freed) if it does not fit."""
        if len(self.items) + len(batch) > self.limit:
            self.dropped = True
            self.items.clear()
        else:
            self.items.extend(batch)
        if self.wakeup is not None:
            self.wakeup.set()
            self.wakeup = None
        return not self.dropped

    async def wait(self, deadline: float) -> None:
        """Until something is pushed or the inbox is dropped; at most until `deadline`."""
        wakeup = self.wakeup = anyio.Event()
        with anyio.CancelScope(deadline=deadline):
            await wakeup.wait()
        self.wakeup = None


class EventBus:
    """Fans committed events out to this process's live subscribers. One per process."""

    def __init__(
        self,
        *,
        max_queue: int = 1024,
        poll_interval_s: float = 1.0,
        heartbeat_s: float | None = 15.0,
    ) -> None:
        """Configure the subscriptions this bus hands out.

        Args:
            max_queue: Events a subscriber may have buffered; a publish that would exceed it
                drops that subscriber. Keep it above the largest batch one append writes.
            poll_interval_s: Idle time after which a subscriber reads the log itself (what
                makes executions run by another process stream too).
            heartbeat_s: Idle time after which a subscription yields `HEARTBEAT`; None: never.
        """
        if max_queue < 1 or poll_interval_s <= 0 or (heartbeat_s is not None and heartbeat_s <= 0):
            raise UsageError("max_queue, poll_interval_s and heartbeat_s must be positive")
        self.max_queue = max_queue
        """Buffer bound per subscriber, in events."""
        self.poll_interval_s = poll_interval_s
        """Idle time before a subscriber polls the log."""
        self.heartbeat_s = heartbeat_s
        """Idle time before a heartbeat (None: no heartbeats)."""
        self._executions: dict[str, set[_Inbox[StoredEvent]]] = {}
        self._workspaces: dict[str, set[_Inbox[StoredEvent | Notice]]] = {}
        self._published_total = 0
        self._dropped_total = 0

    @property
    def subscribers(self) -> int:
        """Subscriptions currently attached (execution and workspace streams)."""
        return sum(len(ls) for ls in self._executions.values()) + sum(
            len(ls) for ls in self._workspaces.values()
        )

    @property
    def published_total(self) -> int:
        """Events published since the bus was made."""
        return self._published_total

    @property
    def dropped_total(self) -> int:
        """Subscribers dropped for falling behind since the bus was made."""
        return self._dropped_total

    @property
    def queued_events(self) -> int:
        """Events buffered across all subscribers (bounded by subscribers x `max_queue`)."""
        executions = sum(len(i.items) for ls in self._executions.values() for i in ls)
        return executions + sum(len(i.items) for ls in self._workspaces.values() for i in ls)

    def publish(self, workspace_id: str | None, events: Sequence[StoredEvent]) -> None:
        """Hand committed events to their subscribers; never waits, never raises for them.

        Args:
            workspace_id: Workspace of the events' executions, for the workspace streams
                (None: they do not reach any workspace stream).
            events: Events as the store returned them, in seq order per execution.
        """
        if not events:
            return
        self._published_total += len(events)
        by_execution: dict[str, list[StoredEvent]] = {}
        for stored in events:
            by_execution.setdefault(stored.event.execution_id, []).append(stored)
        for execution_id, batch in by_execution.items():
            self._fan_out(self._executions.get(execution_id), batch)
        if workspace_id is not None and (listeners := self._workspaces.get(workspace_id)):
            lifecycle = [s for s in events if s.event.kind in LIFECYCLE_KINDS]
            if lifecycle:
                self._fan_out(listeners, lifecycle)

    def publish_notice(self, workspace_id: str | None, kind: str, data: Mapping[str, Any]) -> None:
        """Hand a `Notice` to the workspace streams; never waits, never raises for them.

        Args:
            workspace_id: The workspace whose streams get it; None: every workspace's.
            kind: What happened (the SSE event name), e.g. ``alert_fired``.
            data: Its details, JSON-compatible.
        """
        notice = Notice(kind, data)
        if workspace_id is None:
            targets = list(self._workspaces.values())
        else:
            targets = [self._workspaces.get(workspace_id)]
        for listeners in targets:
            self._fan_out(listeners, [notice])

    def subscribe(
        self, execution_id: str, *, after: int = 0, store: ExecutionStore, follow: bool = False
    ) -> ExecutionSubscription:
        """Stream an execution's events with a seq above `after` (use it with ``async with``).

        Args:
            execution_id: The execution.
            after: Last seq the caller already has (``Last-Event-ID``); 0: from the start.
            store: The durable log to replay from (the store the bus's publisher wraps).
            follow: Keep streaming after ``execution_finished`` (it may be resumed).
        """
        if after < 0:
            raise UsageError(f"cannot stream after seq {after}: seqs start at 1")
        inbox = _Inbox(self._executions, execution_id, self.max_queue)
        return ExecutionSubscription(self, inbox, after=after, store=store, follow=follow)

    def subscribe_workspace(self, workspace_id: str) -> WorkspaceSubscription:
        """Stream the execution-level events of a workspace, live from entering on."""
        return WorkspaceSubscription(self, _Inbox(self._workspaces, workspace_id, self.max_queue))

    def _fan_out(self, listeners: set[_Inbox[_Item]] | None, batch: list[_Item]) -> None:
        if not listeners:
            return
        dropped = [inbox for inbox in listeners if not inbox.push(batch)]
        for inbox in dropped:
            inbox.detach()
        self._dropped_total += len(dropped)


class Subscription(ABC):
    """A live subscription: an async context manager, then an async iterator.

    Items are `StoredEvent`s (and `Notice`s on a workspace stream) and, when idle,
    `HEARTBEAT`. The subscription receives events only between entering and leaving its
    ``async with`` block.
    """

    def __init__(self, bus: EventBus, inbox: _Inbox[Any]) -> None:
        self._inbox = inbox
        self._heartbeat_s = math.inf if bus.heartbeat_s is None else bus.heartbeat_s
        self._beat_at = math.inf
        self._quiet = False  # deadlines run from the start of the current quiet spell
        self._entered = False

    @property
    def dropped(self) -> bool:
        """True once the bus cut this subscriber off (its iterator raises `SubscriberDropped`)."""
        return self._inbox.dropped

    async def __aenter__(self) -> Self:
        if self._entered:
            raise UsageError("a subscription can be entered only once")
        self._entered = True
        self._inbox.attach()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inbox.detach()

    def __aiter__(self) -> Self:
        return self

    @abstractmethod
    async def __anext__(self) -> StoredEvent | Notice | Heartbeat:
        """The next event, or `HEARTBEAT` after `heartbeat_s` of quiet."""

    def _check_entered(self) -> None:
        if not self._entered:
            raise UsageError("enter the subscription (`async with`) before iterating it")


class WorkspaceSubscription(Subscription):
    """Execution-level events of one workspace's executions and notices, live (no replay)."""

    def __init__(self, bus: EventBus, inbox: _Inbox[StoredEvent | Notice]) -> None:
        super().__init__(bus, inbox)
        self._items = inbox

    async def __anext__(self) -> StoredEvent | Notice | Heartbeat:
        """The next event or notice, or `HEARTBEAT` after `heartbeat_s` of quiet.

        Raises:
            SubscriberDropped: it fell behind (buffered events are discarded).
        """
        self._check_entered()
        inbox = self._items
        while True:
            if inbox.dropped:
                raise SubscriberDropped(
                    f"workspace stream of {inbox.key!r} fell behind and was dropped",
                    resume_after=None,
                )
            if inbox.items:
                self._quiet = False
                return inbox.items.popleft()
            now = anyio.current_time()
            if not self._quiet:
                self._quiet = True
                self._beat_at = now + self._heartbeat_s
            elif now >= self._beat_at:
                self._beat_at = now + self._heartbeat_s
                return HEARTBEAT
            await inbox.wait(self._beat_at)


class ExecutionSubscription(Subscription):
    """One execution's events after a seq: replayed from the log, then live (see module)."""

    def __init__(
        self,
        bus: EventBus,
        inbox: _Inbox[StoredEvent],
        *,
        after: int,
        store: ExecutionStore,
        follow: bool,
    ) -> None:
        super().__init__(bus, inbox)
        self._events = inbox
        self.execution_id = inbox.key
        """The execution streamed."""
        self._store = store
        self._follow = follow
        self._poll_interval_s = bus.poll_interval_s
        self._last = after
        self._backlog: deque[StoredEvent] = deque()
        self._more = False  # the last log read filled a page: read on before going live
        self._done = False
        self._poll_at = math.inf

    @property
    def last_seq(self) -> int:
        """Seq of the last event delivered (where a new subscription would resume)."""
        return self._last

    async def __aenter__(self) -> Self:
        """Attach the inbox, then read the log (`NotFoundError` for an unknown execution)."""
        await super().__aenter__()
        try:
            await self._start()
        except BaseException:
            self._inbox.detach()
            raise
        return self

    async def __anext__(self) -> StoredEvent | Heartbeat:
        """The next event in seq order, or `HEARTBEAT` after `heartbeat_s` of quiet.

        Ends after ``execution_finished`` unless following.

        Raises:
            SubscriberDropped: it fell behind (buffered events are discarded; resume after
                `last_seq`).
        """
        self._check_entered()
        while True:
            if self._done:
                raise StopAsyncIteration
            item = await self._next_event()
            if item is not None:
                return self._deliver(item)
            if await self._idle():
                return HEARTBEAT

    async def _start(self) -> None:
        # Status first, log second: if the execution had finished at the first read, the
        # second read has its every event, so an empty one means there is nothing to send.
        record = await self._store.get_execution(self.execution_id)
        after = self._last
        # Read from the event the caller claims to have (if any) to check that it exists.
        page = await self._store.events(self.execution_id, after=max(after - 1, 0), limit=_PAGE)
        self._more = len(page) == _PAGE
        if after > 0 and (not page or page[0].seq != after):
            if not record.status.finished:
                raise UsageError(
                    f"execution {self.execution_id!r} has no event {after} to resume after",
                    hint="resume with the id of an event received from this execution's stream",
                )
            page = []  # finished and compacted (or resumed past its end): nothing to send
        self._backlog.extend(page[1:] if after > 0 else page)
        if not self._backlog and record.status.finished and not self._follow:
            self._done = True

    async def _read_log(self) -> None:
        page = await self._store.events(self.execution_id, after=self._last, limit=_PAGE)
        self._backlog.extend(page)
        self._more = len(page) == _PAGE

    async def _next_event(self) -> StoredEvent | None:
        """The next event to deliver, from the log read or the inbox; None if none yet."""
        inbox = self._events
        while True:
            if inbox.dropped:
                raise SubscriberDropped(
                    f"stream of {self.execution_id!r} fell behind and was dropped",
                    resume_after=self._last,
                )
            if self._backlog:
                item = self._backlog.popleft()
                if item.seq > self._last:
                    return item
                continue
            if self._more:
                await self._read_log()
                continue
            if not inbox.items:
                return None
            head = inbox.items[0]
            if head.seq <= self._last:
                inbox.items.popleft()  # already read from the log
                continue
            if head.seq > self._last + 1:
                await self._read_log()  # a gap: fill it from the log first
                if self._backlog or inbox.dropped:
                    continue
                # Not in the log (compacted): nothing to fill it with, go on.
            return inbox.items.popleft()

    def _deliver(self, item: StoredEvent) -> StoredEvent:
        self._last = item.seq
        self._quiet = False
        if item.event.kind == "execution_finished" and not self._follow:
            self._done = True
        return item

    async def _idle(self) -> bool:
        """Wait for a live event; poll the log when quiet. True when a heartbeat is due."""
        now = anyio.current_time()
        if not self._quiet:
            self._quiet = True
            self._poll_at = now + self._poll_interval_s
            self._beat_at = now + self._heartbeat_s
        deadline = min(self._poll_at, self._beat_at)
        if deadline > now:
            await self._inbox.wait(deadline)
            if self._inbox.items or self._inbox.dropped:
                return False
            now = anyio.current_time()
        if now >= self._poll_at:
            self._poll_at = now + self._poll_interval_s
            await self._read_log()
            if self._backlog:
                return False
        if now >= self._beat_at:
            self._beat_at = now + self._heartbeat_s
            return True
        return False
