"""Conformance suite: every TenancyStore implementation must pass all of these."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import anyio
import pytest

from baton.enterprise.keys import generate_key, parse_token
from baton.errors import NotFoundError, UsageError
from baton.store.sql.database import Database
from baton.store.sql.tenancy import SqlTenancyStore
from baton.store.tenancy import (
    ApiKey,
    MemoryTenancyStore,
    Role,
    TenancyStore,
    User,
    Workspace,
    new_user_id,
    new_workspace_id,
)
from support.clock import T0

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(store_database: Database | None) -> TenancyStore:
    if store_database is None:
        return MemoryTenancyStore()
    return SqlTenancyStore(store_database)


async def workspace(store: TenancyStore, name: str = "acme", **changes: Any) -> Workspace:
    values: dict[str, Any] = {"id": new_workspace_id(), "name": name, "created_at": T0}
    return await store.create_workspace(Workspace(**{**values, **changes}))


async def user(
    store: TenancyStore, ws: Workspace, role: Role = Role.MEMBER, **changes: Any
) -> User:
    values: dict[str, Any] = {
        "id": new_user_id(),
        "workspace_id": ws.id,
        "name": "dana",
        "kind": "user",
        "role": role,
        "created_at": T0,
    }
    return await store.create_user(User(**{**values, **changes}))


async def key(store: TenancyStore, owner: User, **changes: Any) -> tuple[ApiKey, str]:
    token, key_id, secret_hash = generate_key()
    values: dict[str, Any] = {
        "id": key_id,
        "workspace_id": owner.workspace_id,
        "user_id": owner.id,
        "name": "ci",
        "secret_hash": secret_hash,
        "created_at": T0,
    }
    return await store.create_key(ApiKey(**{**values, **changes})), token


# -- workspaces ---------------------------------------------------------------------------


async def test_workspaces_round_trip_and_list_oldest_first(store: TenancyStore) -> None:
    later = await workspace(store, "later", created_at=T0 + timedelta(minutes=1))
    first = await workspace(store, "first")

    assert await store.get_workspace(first.id) == first
    assert await store.list_workspaces() == [first, later]
    assert first.id.startswith("ws_")


async def test_unknown_workspace_is_not_found(store: TenancyStore) -> None:
    with pytest.raises(NotFoundError, match="ws_nope"):
        await store.get_workspace("ws_nope")


async def test_duplicate_workspace_is_refused(store: TenancyStore) -> None:
    ws = await workspace(store, id="default")
    with pytest.raises(UsageError):
        await workspace(store, id=ws.id)
    assert await store.list_workspaces() == [ws]


# -- users --------------------------------------------------------------------------------


async def test_users_round_trip_count_and_list(store: TenancyStore) -> None:
    assert await store.count_users() == 0
    ws, other = await workspace(store), await workspace(store, "other")
    bot = await user(store, ws, Role.VIEWER, name="bot", kind="service")
    dana = await user(store, ws, created_at=T0 - timedelta(hours=1))
    await user(store, other, name="eve")

    assert await store.get_user(ws.id, bot.id) == bot
    assert bot.kind == "service"
    assert bot.role is Role.VIEWER
    assert not bot.disabled
    assert await store.list_users(ws.id) == [dana, bot]
    assert await store.count_users() == 3


async def test_a_user_of_another_workspace_is_not_found(store: TenancyStore) -> None:
    ws, other = await workspace(store), await workspace(store, "other")
    eve = await user(store, other, Role.ADMIN, name="eve")
    await user(store, ws, Role.ADMIN)

    with pytest.raises(NotFoundError, match=eve.id):
        await store.get_user(ws.id, eve.id)
    with pytest.raises(NotFoundError):
        await store.update_user_role(ws.id, eve.id, Role.VIEWER)
    with pytest.raises(NotFoundError):
        await store.disable_user(ws.id, eve.id, T0)
    assert await store.get_user(other.id, eve.id) == eve  # untouched


async def test_create_user_needs_its_workspace_and_a_new_id(store: TenancyStore) -> None:
    with pytest.raises(NotFoundError, match="ws_gone"):
        await user(store, Workspace(id="ws_gone", name="x", created_at=T0))
    ws = await workspace(store)
    dana = await user(store, ws)
    with pytest.raises(UsageError):
        await user(store, ws, id=dana.id, name="again")
    with pytest.raises(UsageError, match="kind"):
        await user(store, ws, kind="robot")
    assert await store.count_users() == 1


async def test_update_user_role(store: TenancyStore) -> None:
    ws = await workspace(store)
    await user(store, ws, Role.ADMIN, name="root")
    dana = await user(store, ws, Role.VIEWER)

    promoted = await store.update_user_role(ws.id, dana.id, Role.ADMIN)

    assert promoted == dataclasses.replace(dana, role=Role.ADMIN)
    assert await store.get_user(ws.id, dana.id) == promoted


async def test_the_last_admin_cannot_be_demoted_or_disabled(store: TenancyStore) -> None:
    ws, other = await workspace(store), await workspace(store, "other")
    root = await user(store, ws, Role.ADMIN, name="root")
    await user(store, ws, Role.MEMBER)
    await user(store, other, Role.ADMIN)  # another workspace's admin does not count

    for role in (Role.MEMBER, Role.VIEWER):
        with pytest.raises(UsageError, match="last admin"):
            await store.update_user_role(ws.id, root.id, role)
    with pytest.raises(UsageError, match="last admin"):
        await store.disable_user(ws.id, root.id, T0)
    assert await store.update_user_role(ws.id, root.id, Role.ADMIN) == root  # no-op is fine
    assert await store.get_user(ws.id, root.id) == root


async def test_a_disabled_admin_does_not_count_as_the_other_admin(store: TenancyStore) -> None:
    ws = await workspace(store)
    root = await user(store, ws, Role.ADMIN, name="root")
    ex = await user(store, ws, Role.ADMIN, name="ex")
    await store.disable_user(ws.id, ex.id, T0)

    with pytest.raises(UsageError, match="last admin"):
        await store.update_user_role(ws.id, root.id, Role.MEMBER)
    with pytest.raises(UsageError, match="disabled"):
        await store.update_user_role(ws.id, ex.id, Role.ADMIN)


async def test_admins_stepping_down_at_once_leave_exactly_one(store: TenancyStore) -> None:
    # Without the per-workspace lock, concurrent transactions on PostgreSQL each see the
    # others as admins still and all commit, leaving none.
    ws = await workspace(store)
    admins = [await user(store, ws, Role.ADMIN, name=f"a{i}") for i in range(6)]
    refused: list[UsageError] = []

    async def step_down(u: User) -> None:
        try:
            await store.update_user_role(ws.id, u.id, Role.MEMBER)
        except UsageError as exc:
            refused.append(exc)

    async with anyio.create_task_group() as tg:
        for u in admins:
            tg.start_soon(step_down, u)

    assert len(refused) == 1
    assert "last admin" in str(refused[0])
    left = [u for u in await store.list_users(ws.id) if u.role is Role.ADMIN]
    assert len(left) == 1


async def test_disable_user_revokes_only_their_active_keys(store: TenancyStore) -> None:
    ws = await workspace(store)
    await user(store, ws, Role.ADMIN, name="root")
    dana, sam = await user(store, ws), await user(store, ws, name="sam")
    k1, _ = await key(store, dana)
    old, _ = await key(store, dana, revoked_at=T0 - timedelta(days=1))
    kept, _ = await key(store, sam)
    at = T0 + timedelta(hours=2)

    disabled = await store.disable_user(ws.id, dana.id, at)

    assert disabled == dataclasses.replace(dana, disabled=True)
    assert await store.get_user(ws.id, dana.id) == disabled
    assert (await store.get_key(k1.id)) == dataclasses.replace(k1, revoked_at=at)
    assert (await store.get_key(old.id)) == old  # the first revocation is kept
    assert (await store.get_key(kept.id)) == kept
    assert await store.disable_user(ws.id, dana.id, at + timedelta(hours=1)) == disabled
    with pytest.raises(UsageError, match="disabled"):
        await key(store, dana)


# -- keys ---------------------------------------------------------------------------------


async def test_keys_round_trip_and_are_found_unscoped(store: TenancyStore) -> None:
    ws = await workspace(store)
    dana = await user(store, ws)
    k, _ = await key(store, dana, expires_at=T0 + timedelta(days=30))

    assert await store.get_key(k.id) == k
    assert await store.get_key("000000000000") is None


async def test_the_secret_is_never_stored(store: TenancyStore) -> None:
    ws = await workspace(store)
    k, token = await key(store, await user(store, ws))
    parsed = parse_token(token)
    assert parsed is not None
    secret = parsed[1]

    stored = await store.get_key(k.id)
    assert stored is not None
    assert secret not in repr(stored)
    assert token not in repr(stored)
    assert all(secret not in str(v) for v in dataclasses.astuple(stored))


async def test_list_keys_is_scoped_by_workspace_and_user(store: TenancyStore) -> None:
    ws, other = await workspace(store), await workspace(store, "other")
    dana, sam = await user(store, ws), await user(store, ws, name="sam")
    eve = await user(store, other, name="eve")
    d2, _ = await key(store, dana, created_at=T0 + timedelta(seconds=2))
    d1, _ = await key(store, dana)
    s1, _ = await key(store, sam, created_at=T0 + timedelta(seconds=1))
    await key(store, eve)

    assert await store.list_keys(ws.id) == [d1, s1, d2]
    assert await store.list_keys(ws.id, dana.id) == [d1, d2]
    assert await store.list_keys(ws.id, eve.id) == []


async def test_create_key_needs_its_user_in_its_workspace(store: TenancyStore) -> None:
    ws, other = await workspace(store), await workspace(store, "other")
    eve = await user(store, other, name="eve")
    mixed = dataclasses.replace(eve, workspace_id=ws.id)

    with pytest.raises(NotFoundError, match=eve.id):
        await key(store, mixed)
    assert await store.list_keys(ws.id) == []
    k, _ = await key(store, eve)
    with pytest.raises(UsageError):
        await key(store, eve, id=k.id)


async def test_revoke_key_is_scoped_and_keeps_the_first_time(store: TenancyStore) -> None:
    ws, other = await workspace(store), await workspace(store, "other")
    k, _ = await key(store, await user(store, ws))
    at = T0 + timedelta(minutes=5)

    with pytest.raises(NotFoundError, match=k.id):
        await store.revoke_key(other.id, k.id, at)
    assert (await store.get_key(k.id)) == k
    with pytest.raises(NotFoundError):
        await store.revoke_key(ws.id, "000000000000", at)

    revoked = await store.revoke_key(ws.id, k.id, at)
    assert revoked == dataclasses.replace(k, revoked_at=at)
    assert await store.revoke_key(ws.id, k.id, at + timedelta(hours=1)) == revoked
    assert await store.get_key(k.id) == revoked


async def test_touch_key_only_moves_forward(store: TenancyStore) -> None:
    ws = await workspace(store)
    k, _ = await key(store, await user(store, ws))
    later = T0 + timedelta(minutes=10)

    await store.touch_key(k.id, later)
    await store.touch_key(k.id, T0 + timedelta(minutes=1))
    await store.touch_key("000000000000", later)  # unknown: nothing happens

    stored = await store.get_key(k.id)
    assert stored is not None
    assert stored.last_used_at == later


@pytest.mark.parametrize(
    ("revoked_at", "expires_at", "active"),
    [
        (None, None, True),
        (None, T0 + timedelta(seconds=1), True),
        (None, T0, False),
        (T0 - timedelta(days=1), None, False),
    ],
)
def test_key_active(revoked_at: datetime | None, expires_at: datetime | None, active: bool) -> None:
    k = ApiKey(
        id="abc",
        workspace_id="w",
        user_id="u",
        name="n",
        secret_hash="h",
        created_at=T0,
        expires_at=expires_at,
        revoked_at=revoked_at,
    )
    assert k.active(T0) is active
