"""Run a unit of SQL work in one transaction, on SQLite or PostgreSQL, from async code.

Store code is written once, as plain functions of a SQLAlchemy `Connection`; a `Database`
runs each in its own transaction:

- PostgreSQL: an `AsyncEngine` (asyncpg or psycopg) and `AsyncConnection.run_sync`, so the
  statements go out on the native async driver.
- SQLite: a sync `Engine` (the stdlib driver) in a worker thread, one thread hop per
  transaction. aiosqlite hops threads once per *statement*; measured on the 2-core dev box, one
  `SELECT 1` through it costs 0.6 ms and a 3-statement transaction 1-2 ms, against 0.1-0.3 ms for
  the whole transaction here. That difference is most of a step's durable overhead.

Driver failures with a known cause (a corrupt file, another program's lock, a full disk, a
server that is down or refuses the password) leave `transaction` as the `ConfigError` or
`StoreError` that `baton.store.sql.errors.translate` makes of them, so every store reports
them the same way; anything else (constraint violations included) passes through as raised.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio
import sqlalchemy as sa
from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from baton.errors import ConfigError
from baton.store.sql.errors import Target, translate

T = TypeVar("T")


class Database(Protocol):
    """Runs SQL work in transactions."""

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        ...

    @property
    def label(self) -> str:
        """The database as messages name it, e.g. ``the database file /data/baton.db``."""
        ...

    async def transaction(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction (committed when it returns, rolled back if it raises).

        Raises:
            ConfigError: the database cannot be used as configured (corrupt, wrong password...).
            StoreError: it failed under the work (disk full, locked, server gone); nothing of
                this transaction was written.
        """
        ...

    async def dispose(self) -> None:
        """Close every connection."""
        ...


class ThreadedSqliteDatabase:
    """SQLite through the stdlib driver on a worker thread, one transaction at a time.

    Every transaction runs on one long-lived connection: checking a connection out of a pool
    and resetting it on return costs more than a small transaction itself (measured: 0.36 ms
    vs 0.17 ms per event batch). SQLite has a single writer anyway, so serialising here also
    avoids "database is locked" retries within this process.
    """

    def __init__(self, url: URL, *, busy_timeout_s: float = 30.0) -> None:
        self._engine = sa.create_engine(
            url.set(drivername="sqlite"),
            connect_args={
                # The connection moves between worker threads, never used by two at once.
                "check_same_thread": False,
                # How long a statement waits for another connection's lock (busy_timeout).
                "timeout": busy_timeout_s,
            },
        )
        self._target = Target.of(url, busy_timeout_s=busy_timeout_s)
        event.listen(self._engine, "connect", sqlite_pragmas)
        self._limiter = anyio.CapacityLimiter(1)
        # The limiter serialises callers, but a caller cancelled natively (asyncio's Ctrl-C
        # handler cancels the main task through any shield) gives its token back while its
        # transaction still runs on the worker thread: this lock keeps the next transaction
        # off the connection until that one has committed or rolled back.
        self._conn_lock = threading.Lock()
        self._conn: Connection | None = None

    @property
    def dialect(self) -> str:
        """Always ``sqlite``."""
        return "sqlite"

    @property
    def label(self) -> str:
        """``the database file PATH``."""
        return self._target.label

    @property
    def engine(self) -> sa.Engine:
        """The underlying sync engine (for migrations and tests)."""
        return self._engine

    async def transaction(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a transaction on the worker thread."""
        try:
            return await anyio.to_thread.run_sync(self._run, work, limiter=self._limiter)
        except Exception as exc:
            if (known := translate(exc, self._target)) is None:
                raise
            raise known from exc

    def _run(self, work: Callable[[Connection], T]) -> T:
        with self._conn_lock:
            if self._conn is None or self._conn.invalidated or self._conn.closed:
                self._conn = self._engine.connect()
            with self._conn.begin():
                return work(self._conn)

    async def dispose(self) -> None:
        """Close the connection and the engine's pool."""
        await anyio.to_thread.run_sync(self._close, limiter=self._limiter)

    def _close(self) -> None:
        with self._conn_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._engine.dispose()


class AsyncEngineDatabase:
    """Any async SQLAlchemy driver (asyncpg, psycopg) through `run_sync`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._target = Target.of(engine.url)

    @property
    def dialect(self) -> str:
        """The engine's dialect name."""
        return self._engine.dialect.name

    @property
    def label(self) -> str:
        """``the PostgreSQL database NAME on HOST:PORT``."""
        return self._target.label

    @property
    def engine(self) -> AsyncEngine:
        """The underlying async engine."""
        return self._engine

    async def transaction(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a transaction on the async driver.

        A pooled connection the server dropped (a restart, an idle timeout) is found when it
        is used rather than pinged before every transaction, which would cost a round trip
        each time: the transaction is then run once more on a fresh connection. That is safe
        because a dropped connection cannot have committed it; if the drop hit the COMMIT
        itself, a repeated event batch fails on the event log's primary key instead of
        being written twice.
        """
        for attempt in (1, 2):
            try:
                async with self._engine.begin() as conn:
                    return await conn.run_sync(work)
            except DBAPIError as exc:
                if attempt == 1 and exc.connection_invalidated:
                    continue
                if (known := translate(exc, self._target)) is None:
                    raise
                raise known from exc
            except Exception as exc:
                if (known := translate(exc, self._target)) is None:
                    raise
                raise known from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def dispose(self) -> None:
        """Close pooled connections."""
        await self._engine.dispose()


def sqlite_url(path: Path) -> str:
    """URL of a SQLite database file."""
    return f"sqlite:///{path}"


def open_database(url: str, *, busy_timeout_s: float = 30.0) -> Database:
    """Build the `Database` for a URL: SQLite (default) or PostgreSQL.

    Args:
        url: A SQLAlchemy URL; ``postgresql://`` means the asyncpg driver.
        busy_timeout_s: SQLite: how long a transaction waits for another program's lock
            before failing with "locked".

    Raises:
        ConfigError: the URL cannot be parsed, names an unsupported database, or a driver
            that is not installed.
    """
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError(
            f"database URL {url!r} cannot be parsed",
            hint="use e.g. sqlite:///path/to/baton.db or postgresql+asyncpg://user@host/db",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return ThreadedSqliteDatabase(parsed, busy_timeout_s=busy_timeout_s)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+asyncpg")
        try:
            engine = create_async_engine(parsed)
        except ImportError as exc:
            raise ConfigError(
                f"the PostgreSQL driver of BATON_DATABASE_URL ({parsed.drivername}) is not "
                f"installed (no module {exc.name!r})",
                hint="install it (pip install asyncpg for postgresql://)",
            ) from None
        return AsyncEngineDatabase(engine)
    raise ConfigError(
        f"unsupported database {backend!r} in BATON_DATABASE_URL",
        hint="baton supports SQLite (default) and PostgreSQL",
    )


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Set WAL with ``synchronous=NORMAL`` on a new connection.

    A commit then survives a crash of the process, and readers (the CLI, the dashboard)
    never block the writer. The busy timeout is the driver's ``timeout`` (set on connect,
    so it covers these pragmas too), except for the switch to WAL: see `_use_wal`.
    """
    cur = dbapi_conn.cursor()
    _use_wal(cur)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _use_wal(cur: Any) -> None:
    """Switch a new database file to WAL, once (the mode is stored in the file).

    Switching fails at once with "database is locked", without waiting the busy timeout,
    while another connection holds a lock on the file: two baton processes starting on a
    new data folder together would see that. So: nothing to do when another connection has
    switched it already, else retry the switch until the busy timeout has passed.
    """
    timeout_s = cur.execute("PRAGMA busy_timeout").fetchone()[0] / 1000
    deadline = time.monotonic() + timeout_s
    while cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return  # switched (or a mode that has no WAL, as in-memory databases)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)
