"""The shared context store: JSON key-value entries per execution and per workspace.

An entry lives in a `ContextScope`: a workspace, and within it either one execution or the
workspace itself (``execution_id=None``). Scopes never see each other's keys.

Every write bumps the entry's `version` (1 for a new key, +1 on each write after, an expired
entry included), which is what `ContextStore.compare_and_set` compares. A deleted key starts
again at 1. Expired entries (``ttl_s``) are absent from every read; `purge_expired` removes
them for good.

Secrets: a value written with ``secret=True`` never reaches the store in clear. It goes into a
`SecretVault`, and the store keeps only the opaque token the vault returns. The default vault,
`ProcessSecretVault`, keeps clear values in this process's memory: no key to manage and nothing
to leak from a backup or a dump of the database, at the price that a secret is readable only by
the process that wrote it and is gone after a restart (a read then raises `StoreError`). An
encrypting vault (say, Fernet with a key from settings) can replace it behind the same two
methods; ``cryptography`` is not a dependency today, so none ships. `Entry`'s ``repr`` masks
secret values so that logs and events built from it do not show them.

The SQL implementation is `baton.store.sql.context.SqlContextStore`; both pass the same
conformance suite (``tests/store/test_context_store.py``).
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from baton.errors import StoreError, UsageError

__all__ = [
    "MAX_KEY_LENGTH",
    "Clock",
    "ContextScope",
    "ContextStore",
    "Entry",
    "MemoryContextStore",
    "ProcessSecretVault",
    "SecretVault",
    "StoredValue",
    "check_key",
    "decode_value",
    "encode_value",
    "expiry",
    "json_text",
    "system_clock",
]

MAX_KEY_LENGTH = 255
"""Longest key accepted (the SQL column's width)."""

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


def system_clock() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextScope:
    """Where an entry lives: one execution's context, or a whole workspace's."""

    workspace_id: str
    """The workspace; every scope belongs to one."""
    execution_id: str | None = None
    """The execution; None for the workspace-wide scope."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """A value in the context store."""

    scope: ContextScope
    """Where it lives."""
    key: str
    """Its key in the scope."""
    value: Any
    """The JSON value (clear, secrets included: only the storage holds them sealed)."""
    version: int
    """1 when created, +1 on every write; what `compare_and_set` compares."""
    expires_at: datetime | None = None
    """When it stops being visible; None for never."""
    secret: bool = False
    """Stored sealed by a `SecretVault`; masked in ``repr``."""

    def __repr__(self) -> str:
        shown = "'***'" if self.secret else repr(self.value)
        return (
            f"Entry(scope={self.scope!r}, key={self.key!r}, value={shown}, "
            f"version={self.version}, expires_at={self.expires_at!r}, secret={self.secret})"
        )

    @property
    def display_value(self) -> Any:
        """The value to show in logs and events: ``"***"`` for a secret."""
        return "***" if self.secret else self.value


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredValue:
    """An entry as a backend keeps it: the value as JSON text, or a vault token."""

    text: str
    """JSON text of the value; for a secret, the vault's token instead."""
    version: int
    """See `Entry.version`."""
    expires_at: datetime | None
    """See `Entry.expires_at`."""
    secret: bool
    """Whether `text` is a vault token."""


class SecretVault(Protocol):
    """Keeps secret values out of the store: seals clear JSON text into an opaque token."""

    def seal(self, clear: str) -> str:
        """Return a token standing for `clear` (what the store persists)."""
        ...

    def unseal(self, token: str) -> str | None:
        """Return the clear text of `token`, or None when this vault cannot."""
        ...


class ProcessSecretVault:
    """A `SecretVault` in this process's memory: tokens are random, clear values never leave."""

    def __init__(self) -> None:
        self._clear: dict[str, str] = {}

    def seal(self, clear: str) -> str:
        """Keep `clear` here and return a fresh random token."""
        token = "vault:" + secrets.token_hex(16)
        self._clear[token] = clear
        return token

    def unseal(self, token: str) -> str | None:
        """The clear text this process sealed as `token`, or None."""
        return self._clear.get(token)


def _check_json(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UsageError(f"context value {path} is {value}, which JSON cannot hold")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            _check_json(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, item in value.items():  # pyright: ignore[reportUnknownVariableType]
            if not isinstance(k, str):
                raise UsageError(f"context value {path} has a non-string key {k!r}")
            _check_json(item, f"{path}[{k!r}]")
        return
    raise UsageError(
        f"context value {path} is a {type(value).__name__}, not JSON",
        hint="store None, bool, int, float, str, list or dict (with str keys) only",
    )


def json_text(value: Any) -> str:
    """Check `value` is JSON-compatible and return its compact JSON text.

    Raises:
        UsageError: it is not (a set, bytes, NaN, a non-string key...).
    """
    _check_json(value, "value")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def encode_value(value: Any, *, secret: bool, vault: SecretVault) -> tuple[str, bool]:
    """Check `value` is JSON and return what a backend stores: its text, or a vault token.

    Raises:
        UsageError: the value is not JSON-compatible.
    """
    text = json_text(value)
    return (vault.seal(text) if secret else text), secret


def decode_value(stored: StoredValue, *, key: str, vault: SecretVault) -> Any:
    """The clear value of a stored entry.

    Raises:
        StoreError: a secret sealed by another process (or before a restart).
    """
    if not stored.secret:
        return json.loads(stored.text)
    clear = vault.unseal(stored.text)
    if clear is None:
        raise StoreError(
            f"the secret context value {key!r} is not available in this process",
            hint="secrets are kept in the memory of the process that wrote them; set it again",
        )
    return json.loads(clear)


def check_key(key: str) -> None:
    """Refuse an empty or over-long key.

    Raises:
        UsageError: the key is empty or longer than `MAX_KEY_LENGTH`.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise UsageError(f"context key {key[:40]!r} must have 1 to {MAX_KEY_LENGTH} characters")


def expiry(now: datetime, ttl_s: float | None) -> datetime | None:
    """When an entry written at `now` with `ttl_s` expires.

    Raises:
        UsageError: `ttl_s` is not positive.
    """
    if ttl_s is None:
        return None
    if ttl_s <= 0:
        raise UsageError(f"ttl_s must be positive, got {ttl_s}")
    return now + timedelta(seconds=ttl_s)


class ContextStore(Protocol):
    """Where shared context lives: JSON entries with TTL and compare-and-set, per scope."""

    async def get(self, scope: ContextScope, key: str) -> Entry | None:
        """The live entry at `key`, or None (missing or expired)."""
        ...

    async def set(
        self,
        scope: ContextScope,
        key: str,
        value: Any,
        *,
        ttl_s: float | None = None,
        secret: bool = False,
    ) -> Entry:
        """Write `value` unconditionally; return the entry with its new version.

        Raises:
            UsageError: the value is not JSON, the key is empty or too long, or ttl_s <= 0.
        """
        ...

    async def compare_and_set(
        self,
        scope: ContextScope,
        key: str,
        value: Any,
        *,
        expected_version: int | None,
        ttl_s: float | None = None,
        secret: bool = False,
    ) -> Entry | None:
        """Write `value` only if the live entry is at `expected_version`.

        Args:
            scope: Where the entry lives.
            key: Its key.
            value: The new JSON value.
            expected_version: The version the writer read; None: the key must not exist
                (an expired entry counts as not existing).
            ttl_s: Seconds until the new value expires; None for never.
            secret: Seal the value in the vault.

        Returns:
            The new entry, or None when the version did not match (nothing written).
        """
        ...

    async def delete(self, scope: ContextScope, key: str) -> bool:
        """Remove `key`; return whether a live entry was there."""
        ...

    async def keys(self, scope: ContextScope, prefix: str = "") -> list[str]:
        """Keys of live entries starting with `prefix`, sorted."""
        ...

    async def purge_expired(self) -> int:
        """Remove every expired entry of every scope; return how many."""
        ...


def _live(stored: StoredValue | None, now: datetime) -> StoredValue | None:
    if stored is None or (stored.expires_at is not None and stored.expires_at <= now):
        return None
    return stored


class MemoryContextStore:
    """A `ContextStore` in a dict: for tests and for running without a database."""

    def __init__(self, *, clock: Clock = system_clock, vault: SecretVault | None = None) -> None:
        """Use `clock` for TTLs and `vault` for secrets (a `ProcessSecretVault` by default)."""
        self._clock = clock
        self._vault: SecretVault = vault if vault is not None else ProcessSecretVault()
        self._rows: dict[tuple[ContextScope, str], StoredValue] = {}

    # No method awaits between reading and writing, so each is atomic among tasks.

    async def get(self, scope: ContextScope, key: str) -> Entry | None:
        """The live entry at `key`, or None (missing or expired)."""
        stored = _live(self._rows.get((scope, key)), self._clock())
        return None if stored is None else self._entry(scope, key, stored)

    async def set(
        self,
        scope: ContextScope,
        key: str,
        value: Any,
        *,
        ttl_s: float | None = None,
        secret: bool = False,
    ) -> Entry:
        """Write `value` unconditionally; return the entry with its new version."""
        check_key(key)
        old = self._rows.get((scope, key))
        return self._write(scope, key, value, 1 if old is None else old.version + 1, ttl_s, secret)

    async def compare_and_set(
        self,
        scope: ContextScope,
        key: str,
        value: Any,
        *,
        expected_version: int | None,
        ttl_s: float | None = None,
        secret: bool = False,
    ) -> Entry | None:
        """Write `value` only if the live entry is at `expected_version`."""
        check_key(key)
        old = self._rows.get((scope, key))
        live = _live(old, self._clock())
        if (None if live is None else live.version) != expected_version:
            return None
        return self._write(scope, key, value, 1 if old is None else old.version + 1, ttl_s, secret)

    async def delete(self, scope: ContextScope, key: str) -> bool:
        """Remove `key`; return whether a live entry was there."""
        return _live(self._rows.pop((scope, key), None), self._clock()) is not None

    async def keys(self, scope: ContextScope, prefix: str = "") -> list[str]:
        """Keys of live entries starting with `prefix`, sorted."""
        now = self._clock()
        return sorted(
            k
            for (s, k), stored in self._rows.items()
            if s == scope and k.startswith(prefix) and _live(stored, now) is not None
        )

    async def purge_expired(self) -> int:
        """Remove every expired entry of every scope; return how many."""
        now = self._clock()
        dead = [where for where, stored in self._rows.items() if _live(stored, now) is None]
        for where in dead:
            del self._rows[where]
        return len(dead)

    def _write(
        self,
        scope: ContextScope,
        key: str,
        value: Any,
        version: int,
        ttl_s: float | None,
        secret: bool,
    ) -> Entry:
        expires_at = expiry(self._clock(), ttl_s)
        text, secret = encode_value(value, secret=secret, vault=self._vault)
        stored = StoredValue(text=text, version=version, expires_at=expires_at, secret=secret)
        self._rows[(scope, key)] = stored
        return self._entry(scope, key, stored)

    def _entry(self, scope: ContextScope, key: str, stored: StoredValue) -> Entry:
        value = decode_value(stored, key=key, vault=self._vault)
        return Entry(
            scope=scope,
            key=key,
            value=value,
            version=stored.version,
            expires_at=stored.expires_at,
            secret=stored.secret,
        )
