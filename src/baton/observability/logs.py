"""The log aggregator: structured records from everywhere, batched into the `LogStore`.

Three sources end up as `LogRecord`s carrying execution, step, workspace and trace ids:

- baton's own standard-library loggers (``logging.getLogger("baton...")``): the
  aggregator's `handler` sits on the ``baton`` logger and takes the ids from the context
  (`baton.observability.logs_context`) of the code that logged;
- the engine: `LoggingInterceptor` (the aggregator's `interceptor`) logs executions
  starting and finishing, retries, recovery, failures and approvals on ``baton.run``;
- agents: their ``ctx.log(...)`` lines (``log`` events) on ``baton.agent.<name>``.

Everything goes through the standard library, so any other handler (the JSON formatter on
stderr of ``baton serve``, a test's caplog) sees the same records. Secrets are redacted
(`Redactor`) before a record is queued or formatted.

Writing is off the logging call's path: the handler only appends to a bounded queue (a
full queue drops the record and counts it in `LogStats.dropped`); `LogAggregator.run`
writes the queue in batches every `flush_interval_s` seconds, or as soon as `batch_size`
records wait, and purges records older than the retention period every hour. A batch the
store refuses is tried once more with the next flush, then dropped and counted.

Wiring (the composition root)::

    aggregator = LogAggregator.from_settings(store, settings, secrets=agent_secrets)
    options = ExecutorOptions(..., interceptors=(tracing, aggregator.interceptor, ...))
    async with aggregator:          # attaches the handler, runs the flusher, flushes at exit
        ...
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self, TextIO, cast

import anyio
from anyio.abc import TaskGroup

from baton.observability.logs_context import current_context, current_trace
from baton.observability.logs_format import jsonl_lines
from baton.observability.logs_interceptor import LoggingInterceptor
from baton.observability.logs_redact import Redactor
from baton.settings import Settings
from baton.store.logs import LogRecord, LogStore

__all__ = [
    "AggregatorHandler",
    "JsonFormatter",
    "LogAggregator",
    "LogStats",
    "json_stream_handler",
    "to_log_record",
]

_log = logging.getLogger("baton.observability.logs")

# Attributes every LogRecord has: whatever else is on one came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}
# Set by `LoggingInterceptor` (or a caller) to say what a record is about.
_OWN = frozenset({"baton_context", "baton_trace", "baton_owner", "baton_local"})
_MAX_EXTRA_DEPTH = 6


def _jsonable(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if depth >= _MAX_EXTRA_DEPTH:
        return repr(value)
    if isinstance(value, dict):
        items = cast("dict[Any, Any]", value)
        return {str(k): _jsonable(v, depth + 1) for k, v in items.items()}
    if isinstance(value, list | tuple | set | frozenset):
        values = cast("Iterable[Any]", value)
        return [_jsonable(v, depth + 1) for v in values]
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def to_log_record(record: logging.LogRecord, redact: Redactor) -> LogRecord:
    """The stored form of a standard-library record, redacted, with its context.

    The context is the record's ``baton_context`` / ``baton_trace`` attributes when it has
    them (set by `LoggingInterceptor`), else the current ones: call this where the record
    was logged (a handler's ``emit`` runs in the logging call).
    """
    ctx = getattr(record, "baton_context", None) or current_context()
    trace: tuple[str, str] | None = getattr(record, "baton_trace", None) or current_trace()
    extra: dict[str, Any] = {
        k: _jsonable(v) for k, v in record.__dict__.items() if k not in _STANDARD and k not in _OWN
    }
    if record.exc_info and record.exc_info[1] is not None:
        extra["exception"] = "".join(traceback.format_exception(record.exc_info[1])).rstrip()
    if record.stack_info:
        extra["stack"] = record.stack_info
    return LogRecord(
        at=datetime.fromtimestamp(record.created, UTC),
        level=record.levelno,
        logger=record.name,
        message=redact(record.getMessage()),
        execution_id=ctx.execution_id,
        step_id=ctx.step_id,
        workspace_id=ctx.workspace_id,
        trace_id=trace[0] if trace else None,
        span_id=trace[1] if trace else None,
        extra=redact.redact_data(extra) if extra else {},
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line, in the shape of `record_json`, secrets redacted."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        """Redact with `redactor` (the built-in patterns when omitted)."""
        super().__init__()
        self._redact = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line (without its newline)."""
        return jsonl_lines(to_log_record(record, self._redact)).rstrip("\n")


def json_stream_handler(
    stream: TextIO | None = None, *, level: int = logging.INFO, redactor: Redactor | None = None
) -> logging.Handler:
    """A handler writing `JsonFormatter` lines to `stream` (stderr by default).

    For a server's own output: ``logging.getLogger("baton").addHandler(json_stream_handler())``.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(JsonFormatter(redactor))
    return handler


@dataclass(frozen=True, slots=True, kw_only=True)
class LogStats:
    """What the aggregator has done so far."""

    queued: int
    """Records accepted into the queue."""
    stored: int
    """Records written to the store."""
    dropped: int
    """Records lost: the queue was full, or the store refused their batch twice."""
    waiting: int
    """Records in the queue now."""
    failed_flushes: int
    """Batches the store refused (each is tried once more)."""


class _Queue:
    """A bounded FIFO that any thread may append to; the flusher takes batches off it."""

    def __init__(self, maxsize: int, batch_size: int) -> None:
        self.items: deque[LogRecord] = deque()
        self.maxsize = maxsize
        self.batch_size = batch_size
        self.queued = 0
        self.dropped = 0
        self.wake: Callable[[], None] | None = None
        self.loop_thread: int | None = None

    def put(self, record: LogRecord) -> bool:
        if len(self.items) >= self.maxsize:
            self.dropped += 1
            return False
        self.items.append(record)
        self.queued += 1
        if (
            len(self.items) >= self.batch_size
            and self.wake is not None
            and threading.get_ident() == self.loop_thread
        ):
            self.wake()
        return True

    def take(self, n: int) -> list[LogRecord]:
        items = self.items
        return [items.popleft() for _ in range(min(n, len(items)))]


class _LastResort(logging.Handler):
    """``logging.lastResort`` for records that are not the engine's (see `attach`)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "baton_owner", None) is None and logging.lastResort is not None:
            logging.lastResort.handle(record)


class AggregatorHandler(logging.Handler):
    """A logging handler that queues redacted `LogRecord`s for the aggregator."""

    def __init__(self, queue: _Queue, redactor: Redactor, owner: object, level: int) -> None:
        """Queue into `queue` the records of `level` and above (see `LogAggregator`)."""
        super().__init__(level)
        self._queue = queue
        self._redact = redactor
        self._owner = owner

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the record (never blocks; a full queue drops it)."""
        owner = getattr(record, "baton_owner", None)
        if (owner is not None and owner is not self._owner) or getattr(
            record, "baton_local", False
        ):
            return  # another aggregator's engine record, or this aggregator's own report
        try:
            self._queue.put(to_log_record(record, self._redact))
        except Exception:
            self.handleError(record)


class LogAggregator:
    """Collects log records (handler + interceptor) and writes them to a `LogStore`."""

    def __init__(
        self,
        store: LogStore,
        *,
        level: int = logging.INFO,
        redactor: Redactor | None = None,
        queue_size: int = 10_000,
        batch_size: int = 500,
        flush_interval_s: float = 0.5,
        retention_days: float | None = None,
        purge_interval_s: float = 3600.0,
        loggers: Iterable[str] = ("baton",),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Build it; nothing runs until it is entered (``async with``) or `run` is started.

        Args:
            store: Where records go.
            level: The least severe level kept.
            redactor: Replaces secrets (the built-in patterns when omitted).
            queue_size: Records waiting at most; more are dropped (and counted).
            batch_size: Records per write; a full batch is written without waiting.
            flush_interval_s: Seconds between writes.
            retention_days: Records older than this are purged (None: kept).
            purge_interval_s: Seconds between purges.
            loggers: Standard-library loggers the handler listens to.
            clock: The current time (for the retention cut-off).
        """
        self.store = store
        """Where records go."""
        self.level = level
        """The least severe level kept."""
        self.redactor = redactor or Redactor()
        """Replaces secrets in every record."""
        self._queue = _Queue(queue_size, batch_size)
        self._flush_interval_s = flush_interval_s
        self._retention_days = retention_days
        self._purge_interval_s = purge_interval_s
        self._loggers = tuple(loggers)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stored = 0
        self._failed = 0
        self._retry: list[LogRecord] = []
        self._levels: dict[str, int] = {}
        self._fallbacks: list[str] = []
        self._fallback = _LastResort()
        # Made on first use, in the event loop (anyio's primitives need one).
        self._wake: anyio.Event | None = None
        self._flush_lock: anyio.Lock | None = None
        self._tg: TaskGroup | None = None
        owner = object()
        self.handler = AggregatorHandler(self._queue, self.redactor, owner, level)
        """Add it to a logger to collect that logger's records (done for `loggers`)."""
        self.interceptor = LoggingInterceptor(level=level, owner=owner)
        """Give it to the executor (`ExecutorOptions.interceptors`)."""

    @classmethod
    def from_settings(
        cls, store: LogStore, settings: Settings, *, secrets: Iterable[str] = ()
    ) -> LogAggregator:
        """An aggregator configured by the settings.

        ``BATON_LOG_LEVEL``, ``BATON_LOG_RETENTION_DAYS`` and ``BATON_LOG_QUEUE_SIZE`` apply;
        ``BATON_API_KEY`` and `secrets` (the agents' secrets) are redacted.
        """
        known = [*secrets, *([settings.api_key] if settings.api_key else [])]
        return cls(
            store,
            level=logging.getLevelNamesMapping()[settings.log_level.upper()],
            redactor=Redactor(known),
            queue_size=settings.log_queue_size,
            retention_days=settings.log_retention_days,
        )

    @property
    def stats(self) -> LogStats:
        """Counts so far."""
        q = self._queue
        return LogStats(
            queued=q.queued,
            stored=self._stored,
            dropped=q.dropped,
            waiting=len(q.items) + len(self._retry),
            failed_flushes=self._failed,
        )

    def attach(self) -> None:
        """Put the handler on the listened-to loggers, letting `level` through them.

        When no other handler would see a logger's records, the standard library prints its
        warnings and errors on stderr (``logging.lastResort``); that stops once any handler
        is found, so the aggregator then adds a handler that goes on doing it, for baton's
        own records only: the engine's (failed steps, retries) are new, and the command
        line shows those its own way.
        """
        for name in self._loggers:
            logger = logging.getLogger(name)
            if self.handler in logger.handlers:
                continue
            if not logger.hasHandlers():
                logger.addHandler(self._fallback)
                self._fallbacks.append(name)
            logger.addHandler(self.handler)
            if logger.level == logging.NOTSET or logger.level > self.level:
                self._levels[name] = logger.level
                logger.setLevel(self.level)

    def detach(self) -> None:
        """Take the handler off again and restore the loggers as they were."""
        for name in self._loggers:
            logger = logging.getLogger(name)
            logger.removeHandler(self.handler)
            if name in self._fallbacks:
                logger.removeHandler(self._fallback)
            if name in self._levels:
                logger.setLevel(self._levels.pop(name))
        self._fallbacks.clear()

    async def flush(self) -> int:
        """Write everything queued now, in batches; returns how many records were stored.

        Never raises for the store's sake: a refused batch is kept for one more try, and
        dropped (counted) if refused again.
        """
        if self._flush_lock is None:
            self._flush_lock = anyio.Lock()
        async with self._flush_lock:
            stored = 0
            while True:
                retrying = bool(self._retry)
                batch = self._retry or self._queue.take(self._queue.batch_size)
                self._retry = []
                if not batch:
                    return stored
                try:
                    await self.store.add(batch)
                except Exception as exc:
                    self._failed += 1
                    if retrying:
                        self._queue.dropped += len(batch)
                    else:
                        self._retry = batch
                    _log.warning(
                        "could not store %d log record(s)%s: %s",
                        len(batch),
                        " (dropped)" if retrying else " (tried again at the next flush)",
                        exc,
                        extra={"baton_local": True},
                    )
                    return stored
                stored += len(batch)
                self._stored += len(batch)

    async def purge(self) -> int:
        """Delete records older than the retention period (none without one)."""
        if self._retention_days is None:
            return 0
        cutoff = self._clock() - timedelta(days=self._retention_days)
        return await self.store.purge(cutoff)

    async def run(self) -> None:
        """Flush and purge until cancelled.

        A flush every `flush_interval_s` (sooner when a batch is full), a purge every
        `purge_interval_s`. Never raises: problems go to the other handlers of the
        ``baton`` logger (not to the store) and to `stats`.
        """
        self._queue.loop_thread = threading.get_ident()
        self._queue.wake = self._wake_up
        next_purge = anyio.current_time()
        try:
            failed = 0
            while True:
                self._wake = wake = anyio.Event()
                # A full batch waiting goes at once, unless the store just refused one.
                if len(self._queue.items) < self._queue.batch_size or self._failed > failed:
                    failed = self._failed
                    with anyio.move_on_after(self._flush_interval_s):
                        await wake.wait()
                await self.flush()
                if anyio.current_time() >= next_purge:
                    next_purge = anyio.current_time() + self._purge_interval_s
                    try:
                        await self.purge()
                    except Exception as exc:
                        _log.warning(
                            "could not purge old log records: %s", exc, extra={"baton_local": True}
                        )
        finally:
            self._queue.wake = None

    def _wake_up(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def __aenter__(self) -> Self:
        """Attach the handler and start the flusher."""
        self.attach()
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self.run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the flusher, write what is left (for up to 5 s), detach the handler.

        The block's own exception passes through as it is (not in an exception group).
        """
        tg, self._tg = self._tg, None
        try:
            if tg is not None:
                tg.cancel_scope.cancel()
                # The flusher never raises, so the group ends empty: the block's exception
                # is not wrapped in an ExceptionGroup by handing it to the group.
                await tg.__aexit__(None, None, None)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await self.flush()
            self.detach()
