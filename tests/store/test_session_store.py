"""Conformance suite: every SessionStore implementation must pass all of these."""

from __future__ import annotations

from datetime import timedelta

import pytest

from baton.enterprise.keys import generate_key
from baton.errors import UsageError
from baton.store.sessions import MemorySessionStore, Session, SessionStore
from baton.store.sql.database import Database
from baton.store.sql.sessions import SqlSessionStore
from baton.store.sql.tenancy import SqlTenancyStore
from baton.store.tenancy import ApiKey, Role, User, Workspace, new_user_id
from support.clock import T0

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store_and_key(store_database: Database | None) -> tuple[SessionStore, str]:
    """A session store, and the id of an API key sessions may reference."""
    _, key_id, secret_hash = generate_key()
    if store_database is None:
        return MemorySessionStore(), key_id
    # The SQL table references api_keys: make a real key first.
    tenancy = SqlTenancyStore(store_database)
    await tenancy.create_workspace(Workspace(id="ws_a", name="a", created_at=T0))
    user = User(
        id=new_user_id(),
        workspace_id="ws_a",
        name="dana",
        kind="user",
        role=Role.ADMIN,
        created_at=T0,
    )
    await tenancy.create_user(user)
    await tenancy.create_key(
        ApiKey(
            id=key_id,
            workspace_id="ws_a",
            user_id=user.id,
            name="k",
            secret_hash=secret_hash,
            created_at=T0,
        )
    )
    return SqlSessionStore(store_database), key_id


def session(key_id: str, token_hash: str = "a" * 64, hours: float = 12) -> Session:
    return Session(
        token_hash=token_hash,
        key_id=key_id,
        created_at=T0,
        expires_at=T0 + timedelta(hours=hours),
    )


async def test_sessions_round_trip(store_and_key: tuple[SessionStore, str]) -> None:
    store, key_id = store_and_key
    opened = await store.create_session(session(key_id))
    assert await store.get_session("a" * 64) == opened
    assert await store.get_session("b" * 64) is None


async def test_a_token_hash_is_stored_once(store_and_key: tuple[SessionStore, str]) -> None:
    store, key_id = store_and_key
    await store.create_session(session(key_id))
    with pytest.raises(UsageError):
        await store.create_session(session(key_id))


async def test_delete_ends_only_that_session(store_and_key: tuple[SessionStore, str]) -> None:
    store, key_id = store_and_key
    await store.create_session(session(key_id, "a" * 64))
    await store.create_session(session(key_id, "b" * 64))
    assert await store.delete_session("a" * 64) is True
    assert await store.delete_session("a" * 64) is False
    assert await store.get_session("a" * 64) is None
    assert await store.get_session("b" * 64) is not None


async def test_purge_deletes_only_expired_sessions(
    store_and_key: tuple[SessionStore, str],
) -> None:
    store, key_id = store_and_key
    await store.create_session(session(key_id, "a" * 64, hours=1))
    await store.create_session(session(key_id, "b" * 64, hours=3))
    assert await store.purge_sessions(T0 + timedelta(hours=2)) == 1
    assert await store.get_session("a" * 64) is None
    assert await store.get_session("b" * 64) is not None


def test_session_active_until_it_expires() -> None:
    s = session("k", hours=1)
    assert s.active(T0)
    assert not s.active(T0 + timedelta(hours=1))
