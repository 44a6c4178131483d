"""Stored log records, the search query language, and the store they live in.

A `LogRecord` is one line of the log aggregator (`baton.observability.logs`): when, how
severe (`level`, the standard library's numbers, so "warning or worse" is ``level >= 30``),
which logger, the message, and the execution, step, workspace and trace it belongs to.
Records are numbered by the store (`LogRecord.id`, growing): the newest have the largest
ids, a search pages back with ``before_id`` and a tail follows with ``after_id``.

Search queries (`parse_query`) are the same on every backend:

- ``timeout retry``: every word must occur (words are runs of letters and digits, matched
  whole and case-insensitively; anything else separates words);
- ``retr*``: a word starting with ``retr``;
- ``"connection refused"``: the words next to each other, in this order; a word written
  with separators inside (``ex_01hx``, ``http.get``) is such a phrase too;
- ``"http.ge"*``: a phrase whose last word is a prefix.

Every store scopes by workspace: ``workspace_id=None`` means every workspace, for the local
operator (the CLI) only; the API always passes the caller's. The SQL implementation is
`baton.store.sql.logs.SqlLogStore`; both pass ``tests/store/test_log_store.py``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from baton.errors import UsageError

__all__ = [
    "LEVELS",
    "MAX_LIMIT",
    "LogQuery",
    "LogRecord",
    "LogStore",
    "MemoryLogStore",
    "Term",
    "check_limit",
    "clip_record",
    "level_name",
    "parse_level",
    "parse_query",
    "tokenize",
]

LEVELS: dict[str, int] = {
    "debug": 10,
    "info": 20,
    "warning": 30,
    "error": 40,
    "critical": 50,
}
"""Level names and their numbers (the standard library's)."""

_ALIASES = {"warn": 30, "fatal": 50}

MAX_LIMIT = 1000
"""The most records one search or tail returns."""
MAX_QUERY_CHARS = 500
"""The longest search query."""
MAX_TERMS = 16
"""The most terms (words, prefixes, phrases) in one query."""
MAX_MESSAGE_CHARS = 16_000
"""A longer message is cut (and says so)."""

# Column widths of the SQL table: longer values are cut before they are stored.
_WIDTHS = {"logger": 200, "execution_id": 40, "step_id": 64, "workspace_id": 64}

_WORD = re.compile(r"[^\W_]+")
_PART = re.compile(r'"([^"]*)("?)(\*?)|([^\s"]+)')


def level_name(level: int) -> str:
    """The name of a level number (``25`` -> ``info``: the highest named level not above it)."""
    name = "debug"
    for candidate, number in LEVELS.items():
        if level >= number:
            name = candidate
    return name


def parse_level(text: str) -> int:
    """The level number of a name (``debug`` ... ``critical``, any case, ``warn`` too).

    Raises:
        UsageError: the name is not a level.
    """
    key = text.strip().lower()
    number = LEVELS.get(key, _ALIASES.get(key))
    if number is None:
        raise UsageError(f"unknown log level {text!r}", hint=f"use one of {', '.join(LEVELS)}")
    return number


def check_limit(limit: int) -> None:
    """Refuse a limit outside 1..`MAX_LIMIT`."""
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit must be from 1 to {MAX_LIMIT}, not {limit}")


def tokenize(text: str) -> list[str]:
    """The words of `text`, lower-cased: runs of letters and digits."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True, slots=True, kw_only=True)
class LogRecord:
    """One log line."""

    id: int = 0
    """Given by the store, growing (0 until stored)."""
    at: datetime
    """When it was logged (timezone-aware)."""
    level: int
    """10 debug, 20 info, 30 warning, 40 error, 50 critical (see `LEVELS`)."""
    logger: str
    """Who logged it: ``baton.run`` (the engine), ``baton.agent.<name>`` (an agent), or any
    ``baton...`` logger of the standard library."""
    message: str
    """The line, secrets already redacted."""
    execution_id: str | None = None
    """The execution it is about."""
    step_id: str | None = None
    """The step it is about."""
    workspace_id: str | None = None
    """The workspace of the execution (None: the process's own records)."""
    trace_id: str | None = None
    """OpenTelemetry trace id (32 hex digits) of the span current when it was logged."""
    span_id: str | None = None
    """OpenTelemetry span id (16 hex digits)."""
    extra: dict[str, Any] = field(default_factory=dict[str, Any])
    """Other fields (JSON data): the ``extra`` of a logging call, an exception's traceback."""

    @property
    def level_name(self) -> str:
        """``info``, ``error``..."""
        return level_name(self.level)


def clip_record(record: LogRecord) -> LogRecord:
    """`record` with its ids cut to the column widths and its message to `MAX_MESSAGE_CHARS`.

    NUL characters are removed: PostgreSQL text cannot hold them.
    """
    changes: dict[str, Any] = {}
    for name, width in _WIDTHS.items():
        value: str | None = getattr(record, name)
        if value is not None and (len(value) > width or "\x00" in value):
            changes[name] = value.replace("\x00", "")[:width]
    message = record.message
    if len(message) > MAX_MESSAGE_CHARS or "\x00" in message:
        message = message.replace("\x00", "")
        if len(message) > MAX_MESSAGE_CHARS:
            cut = len(message) - MAX_MESSAGE_CHARS
            message = f"{message[:MAX_MESSAGE_CHARS]}... [{cut} characters cut]"
        changes["message"] = message
    return replace(record, **changes) if changes else record


@dataclass(frozen=True, slots=True)
class Term:
    """Words that must occur next to each other, in order (one word: anywhere)."""

    tokens: tuple[str, ...]
    """Lower-case words."""
    prefix: bool = False
    """The last word is a prefix."""

    def found_in(self, words: Sequence[str]) -> bool:
        """Whether the term occurs in `words` (a message's `tokenize`)."""
        n = len(self.tokens)
        last = self.tokens[-1]
        for start in range(len(words) - n + 1):
            if all(words[start + i] == self.tokens[i] for i in range(n - 1)):
                word = words[start + n - 1]
                if word == last or (self.prefix and word.startswith(last)):
                    return True
        return False


@dataclass(frozen=True, slots=True)
class LogQuery:
    """A parsed search query: every term must match (no terms: everything matches)."""

    terms: tuple[Term, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms)

    def matches(self, message: str) -> bool:
        """Whether `message` matches (how the in-memory store searches)."""
        if not self.terms:
            return True
        words = tokenize(message)
        return all(term.found_in(words) for term in self.terms)


def parse_query(text: str) -> LogQuery:
    """Parse a search query (see the module docstring for the syntax).

    Raises:
        UsageError: an unterminated phrase, a query of punctuation only, or one too long.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise UsageError(f"a search query may have at most {MAX_QUERY_CHARS} characters")
    terms: list[Term] = []
    for match in _PART.finditer(text):
        phrase, closed, star, word = match.groups()
        if word is not None:
            prefix = word.endswith("*")
            tokens = tokenize(word)
        else:
            if not closed:
                raise UsageError(
                    f"the search query {text!r} has an unterminated phrase",
                    hint='close it with a double quote: "connection refused"',
                )
            prefix = bool(star) or phrase.rstrip().endswith("*")
            tokens = tokenize(phrase)
        if tokens:
            terms.append(Term(tuple(tokens), prefix))
    if text.strip() and not terms:
        raise UsageError(
            f"the search query {text!r} has no word to search for",
            hint="words are letters and digits; punctuation only separates them",
        )
    if len(terms) > MAX_TERMS:
        raise UsageError(f"a search query may have at most {MAX_TERMS} words or phrases")
    return LogQuery(tuple(terms))


class LogStore(Protocol):
    """Where log records live: appended in batches, searched, followed, exported, purged."""

    async def add(self, records: Sequence[LogRecord]) -> int:
        """Store records (their ids are given here; a record's own `id` is ignored).

        Returns:
            How many were stored.
        """
        ...

    async def search(
        self,
        query: str = "",
        *,
        workspace_id: str | None,
        execution_id: str | None = None,
        min_level: int | None = None,
        since: datetime | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[LogRecord]:
        """Records matching `query` (see `parse_query`; empty: all), newest first.

        Args:
            query: The search query.
            workspace_id: Only this workspace's records (None: every workspace).
            execution_id: Only this execution's.
            min_level: Only this level or above.
            since: Only records logged at or after this time.
            limit: At most this many (1 to `MAX_LIMIT`).
            before_id: Only records older than this id (the next page after a search).

        Raises:
            UsageError: a bad query or limit.
        """
        ...

    async def tail(
        self,
        after_id: int,
        *,
        workspace_id: str | None,
        execution_id: str | None = None,
        min_level: int | None = None,
        limit: int = 500,
    ) -> list[LogRecord]:
        """Records with an id above `after_id`, oldest first (what a follower polls for)."""
        ...

    def export(
        self,
        query: str = "",
        *,
        workspace_id: str | None,
        execution_id: str | None = None,
        min_level: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        batch_size: int = 1000,
    ) -> AsyncIterator[LogRecord]:
        """Every matching record, oldest first, read in batches of `batch_size`.

        Raises:
            UsageError: a bad query (when iteration starts).
        """
        ...

    async def purge(self, before: datetime) -> int:
        """Delete every record logged before `before` (retention); returns how many."""
        ...


class MemoryLogStore:
    """A `LogStore` in a list, keeping the newest `max_records` (tests, in-memory mode)."""

    def __init__(self, max_records: int = 100_000) -> None:
        """Keep at most `max_records` records (the oldest go first)."""
        self._rows: deque[LogRecord] = deque(maxlen=max_records)
        self._next_id = 1

    async def add(self, records: Sequence[LogRecord]) -> int:
        """Store records, numbering them."""
        for record in records:
            self._rows.append(replace(clip_record(record), id=self._next_id))
            self._next_id += 1
        return len(records)

    def _select(
        self,
        query: LogQuery,
        workspace_id: str | None,
        execution_id: str | None,
        min_level: int | None,
        since: datetime | None,
        until: datetime | None = None,
    ) -> Iterator[LogRecord]:
        for r in self._rows:
            if (
                (workspace_id is None or r.workspace_id == workspace_id)
                and (execution_id is None or r.execution_id == execution_id)
                and (min_level is None or r.level >= min_level)
                and (since is None or r.at >= since)
                and (until is None or r.at < until)
                and query.matches(r.message)
            ):
                yield r

    async def search(
        self,
        query: str = "",
        *,
        workspace_id: str | None,
        execution_id: str | None = None,
        min_level: int | None = None,
        since: datetime | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[LogRecord]:
        """Matching records, newest first."""
        check_limit(limit)
        parsed = parse_query(query)
        found = [
            r
            for r in self._select(parsed, workspace_id, execution_id, min_level, since)
            if before_id is None or r.id < before_id
        ]
        return found[::-1][:limit]

    async def tail(
        self,
        after_id: int,
        *,
        workspace_id: str | None,
        execution_id: str | None = None,
        min_level: int | None = None,
        limit: int = 500,
    ) -> list[LogRecord]:
        """Records after `after_id`, oldest first."""
        check_limit(limit)
        found = [
            r
            for r in self._select(LogQuery(), workspace_id, execution_id, min_level, None)
            if r.id > after_id
        ]
        return found[:limit]

    async def export(
        self,
        query: str = "",
        *,
        workspace_id: str | None,
        execution_id: str | None = None,
        min_level: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        batch_size: int = 1000,
    ) -> AsyncIterator[LogRecord]:
        """Matching records, oldest first."""
        parsed = parse_query(query)
        for r in list(self._select(parsed, workspace_id, execution_id, min_level, since, until)):
            yield r

    async def purge(self, before: datetime) -> int:
        """Delete records logged before `before`."""
        kept = [r for r in self._rows if r.at >= before]
        purged = len(self._rows) - len(kept)
        self._rows = deque(kept, maxlen=self._rows.maxlen)
        return purged
