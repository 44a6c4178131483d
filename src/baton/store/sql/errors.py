"""Driver failures with a known cause, as errors a person can act on. The one place they are mapped.

`Database.transaction` passes every exception through `translate`; what it recognises comes
out as a `BatonError` naming the cause and what to do, and everything else (constraint
violations included, which stores handle themselves) passes through unchanged.

Two kinds, by who can fix it and when:

- `ConfigError`: the database cannot be used as configured, whatever the moment: a corrupt
  or unreadable file, a wrong password, a database or host that does not exist.
- `StoreError`: the database failed under a running baton: a full disk (not retryable), a
  lock held too long by another program or a server that is down or went away
  (``retryable``: the same work may succeed later).
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.engine import URL

from baton.errors import BatonError, ConfigError, StoreError

__all__ = ["Target", "translate"]

# SQLite primary result codes (https://www.sqlite.org/rescode.html).
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26

_URL_FORM = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """The database an error is about, as its messages name it (never with a password)."""

    backend: str
    """``sqlite`` or ``postgresql``."""
    label: str
    """``the database file /path/baton.db`` or ``the PostgreSQL database 'baton' on host:5432``."""
    path: str = ""
    """SQLite: the file."""
    server: str = ""
    """PostgreSQL: ``host:port``."""
    host: str = ""
    """PostgreSQL: the host name."""
    user: str = ""
    """PostgreSQL: the user name."""
    database: str = ""
    """PostgreSQL: the database name."""
    busy_timeout_s: float = 30.0
    """SQLite: how long a transaction waits for another program's lock."""

    @classmethod
    def of(cls, url: URL, *, busy_timeout_s: float = 30.0) -> Target:
        """Describe the database of `url`."""
        if url.get_backend_name() == "sqlite":
            path = url.database or ""
            label = (
                f"the database file {path}"
                if path and path != ":memory:"
                else "the in-memory SQLite database"
            )
            return cls(backend="sqlite", label=label, path=path, busy_timeout_s=busy_timeout_s)
        host = url.host or "localhost"
        server = f"{host}:{url.port or 5432}"
        database = url.database or url.username or ""
        return cls(
            backend="postgresql",
            label=f"the PostgreSQL database {database!r} on {server}",
            server=server,
            host=host,
            user=url.username or "",
            database=database,
        )


def translate(exc: BaseException, target: Target) -> BatonError | None:
    """The error to raise instead of `exc`, or None when `exc` has no cause known here.

    The first driver exception in the chain (SQLAlchemy's ``orig``, then ``__cause__``)
    decides; a network error counts only for a server database.
    """
    for cause in _chain(exc):
        if isinstance(cause, BatonError):
            return None
        if isinstance(cause, sqlite3.Error):
            return _sqlite(cause, target)
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str):
            return _postgres(sqlstate, cause, target)
        if isinstance(cause, OSError) and target.backend != "sqlite":
            return _network(cause, target)
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__


def _sqlite(exc: sqlite3.Error, target: Target) -> BatonError | None:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code of an extended one
    where = target.label
    if code in (_SQLITE_NOTADB, _SQLITE_CORRUPT):
        return ConfigError(
            f"{where} is not a SQLite database or is corrupt",
            hint="restore it from a backup or move it away, then run the command again "
            "(baton creates a new, empty database where there is none)",
        )
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StoreError(
            f"{where} is locked by another program (baton waited {target.busy_timeout_s:g} s "
            "for it); nothing was changed",
            hint="let that program finish or close it (another baton, or a database tool with "
            "a transaction open), then try again; BATON_DATABASE_BUSY_TIMEOUT_S sets the wait",
            retryable=True,
        )
    if code == _SQLITE_FULL:
        return StoreError(
            f"the disk holding {where} is full; the change being saved was rolled back "
            "(what was saved before it is intact)",
            hint="free space on that disk (or move the database with BATON_DATA_DIR), then run "
            "the command again; `baton resume ID` carries on an execution it stopped",
        )
    if code in (_SQLITE_CANTOPEN, _SQLITE_PERM, _SQLITE_READONLY):
        state = "is read-only" if code == _SQLITE_READONLY else "cannot be opened"
        return ConfigError(
            f"{where} {state}",
            hint="check that the file and its folder exist and baton may write both, or set "
            "BATON_DATA_DIR / BATON_DATABASE_URL to a place it can",
        )
    if code == _SQLITE_IOERR:
        return StoreError(
            f"the disk holding {where} failed to read or write ({exc}); the change being "
            "saved was rolled back",
            hint="check the disk (and the kernel log), then run the command again",
        )
    return None


def _postgres(sqlstate: str, exc: BaseException, target: Target) -> BatonError | None:
    server, database = target.server, target.database
    if sqlstate in ("28P01", "28000"):
        return ConfigError(
            f"the PostgreSQL server at {server} refused user {target.user!r}: "
            "wrong password or user name",
            hint=f"fix the user and password in BATON_DATABASE_URL ({_URL_FORM})",
        )
    if sqlstate == "3D000":
        return ConfigError(
            f"the database {database!r} does not exist on the PostgreSQL server at {server}",
            hint=f"create it (createdb {database}) or fix its name in BATON_DATABASE_URL",
        )
    if sqlstate == "42501":
        return ConfigError(
            f"the PostgreSQL user {target.user!r} lacks a permission baton needs in "
            f"{database!r}: {_first_line(exc)}",
            hint="grant it (baton creates and alters its own tables), or use another user",
        )
    if sqlstate == "53100":
        return StoreError(
            f"the disk of the PostgreSQL server at {server} is full; the change being saved "
            "was rolled back (what was saved before it is intact)",
            hint="free space on the server's disk, then run the command again; `baton resume "
            "ID` carries on an execution it stopped",
        )
    if sqlstate.startswith(("08", "57P")) or sqlstate == "53300":
        return StoreError(
            f"the PostgreSQL server at {server} is unavailable: {_first_line(exc)}",
            hint="wait for it to come back (or restart it), then run the command again",
            retryable=True,
        )
    return None


def _network(exc: OSError, target: Target) -> BatonError:
    server = target.server
    if isinstance(exc, socket.gaierror):
        return ConfigError(
            f"the PostgreSQL host {target.host!r} cannot be found ({exc.strerror})",
            hint=f"fix the host name in BATON_DATABASE_URL ({_URL_FORM})",
        )
    if isinstance(exc, ConnectionRefusedError):
        reason = "connection refused: is the server running and listening there?"
    elif isinstance(exc, TimeoutError):
        reason = "it did not answer in time"
    else:
        reason = exc.strerror or str(exc)
    return StoreError(
        f"cannot connect to the PostgreSQL server at {server}: {reason}",
        hint=f"start the server (or wait for it), or fix BATON_DATABASE_URL ({_URL_FORM})",
        retryable=True,
    )


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0]
