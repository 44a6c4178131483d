"""Dashboard sessions: opened with a key, acting as it, ending with it, expiring, CSRF."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from baton.enterprise.keys import parse_token
from baton.enterprise.roles import Role
from baton.enterprise.sessions import Sessions, csrf_token_for
from baton.enterprise.tenancy import Tenancy
from baton.store.sessions import MemorySessionStore
from baton.store.tenancy import MemoryTenancyStore
from support.clock import FakeClock

pytestmark = pytest.mark.anyio

TTL_S = 3600.0


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.tenancy_store = MemoryTenancyStore()
        self.store = MemorySessionStore()
        # No authentication cache: a revoked key must end its sessions at once anyway.
        self.tenancy = Tenancy(self.tenancy_store, clock=self.clock, cache_ttl_s=0)
        self.sessions = Sessions(
            self.store, self.tenancy, self.tenancy_store, ttl_s=TTL_S, clock=self.clock
        )


@pytest.fixture
async def world() -> World:
    return World()


async def admin_token(world: World) -> str:
    token = await world.tenancy.bootstrap()
    assert token is not None
    return token


async def test_a_session_acts_as_its_key_and_stores_only_a_hash(world: World) -> None:
    key = await admin_token(world)
    grant = await world.sessions.open(key)
    assert grant is not None
    principal = await world.sessions.authenticate(grant.token)
    assert principal == grant.principal
    assert principal is not None
    assert principal.role is Role.ADMIN
    parsed = parse_token(key)
    assert parsed is not None
    assert principal.key_id == parsed[0]
    stored = await world.store.get_session(hashlib.sha256(grant.token.encode()).hexdigest())
    assert stored is not None
    assert grant.token not in repr(stored)
    assert stored.expires_at == world.clock() + timedelta(seconds=TTL_S)


@pytest.mark.parametrize("bad", ["", "baton_nope", "baton_0123456789ab_" + "x" * 43])
async def test_a_bad_key_opens_nothing(world: World, bad: str) -> None:
    await admin_token(world)
    assert await world.sessions.open(bad) is None


async def test_an_unknown_token_authenticates_nobody(world: World) -> None:
    await admin_token(world)
    assert await world.sessions.authenticate("not-a-session") is None
    assert await world.sessions.authenticate(None) is None


async def test_a_session_expires(world: World) -> None:
    grant = await world.sessions.open(await admin_token(world))
    assert grant is not None
    world.clock.advance(TTL_S - 1)
    assert await world.sessions.authenticate(grant.token) is not None
    world.clock.advance(1)
    assert await world.sessions.authenticate(grant.token) is None


async def test_revoking_the_key_ends_its_sessions(world: World) -> None:
    grant = await world.sessions.open(await admin_token(world))
    assert grant is not None
    admin = grant.principal
    assert admin.key_id is not None
    await world.tenancy.revoke_key(admin, admin.key_id)
    assert await world.sessions.authenticate(grant.token) is None


async def test_a_role_change_applies_to_open_sessions(world: World) -> None:
    admin = await world.tenancy.authenticate(await admin_token(world))
    assert admin is not None
    user = await world.tenancy.add_user(admin, "vera", Role.MEMBER)
    _, token = await world.tenancy.create_key(admin, name="vera", user_id=user.id)
    grant = await world.sessions.open(token)
    assert grant is not None
    await world.tenancy.set_role(admin, user.id, Role.VIEWER)
    now = await world.sessions.authenticate(grant.token)
    assert now is not None
    assert now.role is Role.VIEWER
    await world.tenancy.remove_user(admin, user.id)
    assert await world.sessions.authenticate(grant.token) is None


async def test_close_ends_the_session(world: World) -> None:
    grant = await world.sessions.open(await admin_token(world))
    assert grant is not None
    assert await world.sessions.close(grant.token) is True
    assert await world.sessions.authenticate(grant.token) is None
    assert await world.sessions.close(grant.token) is False


async def test_opening_purges_expired_sessions(world: World) -> None:
    key = await admin_token(world)
    old = await world.sessions.open(key)
    assert old is not None
    world.clock.advance(TTL_S + 1)
    assert await world.sessions.open(key) is not None
    digest = hashlib.sha256(old.token.encode()).hexdigest()
    assert await world.store.get_session(digest) is None


def test_csrf_tokens_belong_to_one_session() -> None:
    token = "session-token"
    csrf = csrf_token_for(token)
    assert Sessions.csrf_ok(token, csrf)
    assert not Sessions.csrf_ok("another-session", csrf)
    assert not Sessions.csrf_ok(token, None)
    assert not Sessions.csrf_ok(token, "")
    assert not Sessions.csrf_ok(token, csrf[:-1] + ("0" if csrf[-1] != "0" else "1"))
