"""The tenancy service: bootstrap, authentication (and its cache), and every permission check.

Runs over each store backend, so the policy is checked against the real scoping too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import anyio
import pytest

from baton.enterprise.keys import parse_token
from baton.enterprise.roles import Permission, Role
from baton.enterprise.tenancy import DEFAULT_WORKSPACE_ID, Principal, Tenancy
from baton.errors import NotFoundError, PermissionDeniedError, UsageError
from baton.store.sql.database import Database
from baton.store.sql.tenancy import SqlTenancyStore
from baton.store.tenancy import ApiKey, MemoryTenancyStore, TenancyStore, User, Workspace
from support.clock import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(store_database: Database | None) -> TenancyStore:
    if store_database is None:
        return MemoryTenancyStore()
    return SqlTenancyStore(store_database)


@pytest.fixture
def tenancy(store: TenancyStore, clock: FakeClock) -> Tenancy:
    return Tenancy(store, clock=clock, cache_ttl_s=5.0)


@dataclass
class Team:
    admin: Principal
    member: Principal
    viewer: Principal
    tokens: dict[Role, str]


async def login(tenancy: Tenancy, token: str) -> Principal:
    principal = await tenancy.authenticate(token)
    assert principal is not None
    return principal


async def join(tenancy: Tenancy, admin: Principal, name: str, role: Role) -> tuple[Principal, str]:
    u = await tenancy.add_user(admin, name, role)
    _, token = await tenancy.create_key(admin, name=f"{name}'s key", user_id=u.id)
    return await login(tenancy, token), token


@pytest.fixture
async def team(tenancy: Tenancy, clock: FakeClock) -> Team:
    token = await tenancy.bootstrap()
    assert token is not None
    admin = await login(tenancy, token)
    clock.advance(1)
    member, member_token = await join(tenancy, admin, "mia", Role.MEMBER)
    clock.advance(1)
    viewer, viewer_token = await join(tenancy, admin, "vic", Role.VIEWER)
    clock.advance(10)  # past the authentication cache's TTL
    tokens = {Role.ADMIN: token, Role.MEMBER: member_token, Role.VIEWER: viewer_token}
    return Team(admin=admin, member=member, viewer=viewer, tokens=tokens)


# -- bootstrap and workspaces -------------------------------------------------------------


async def test_bootstrap_makes_the_default_workspace_and_its_admin_once(
    tenancy: Tenancy, store: TenancyStore, clock: FakeClock
) -> None:
    token = await tenancy.bootstrap("Acme")

    assert token is not None
    admin = await login(tenancy, token)
    assert (admin.workspace_id, admin.role, admin.name, admin.kind) == (
        DEFAULT_WORKSPACE_ID,
        Role.ADMIN,
        "admin",
        "user",
    )
    assert admin.key_id == (parse_token(token) or ("", ""))[0]
    assert await store.list_workspaces() == [
        Workspace(id="default", name="Acme", created_at=clock.now)
    ]
    assert await tenancy.bootstrap() is None
    assert await store.count_users() == 1


async def test_concurrent_bootstraps_make_one_admin(tenancy: Tenancy, store: TenancyStore) -> None:
    tokens: list[str | None] = []

    async def boot() -> None:
        tokens.append(await tenancy.bootstrap())

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(boot)

    assert sum(t is not None for t in tokens) == 1
    assert await store.count_users() == 1


async def test_bootstrap_keeps_an_existing_default_workspace(
    tenancy: Tenancy, store: TenancyStore, clock: FakeClock
) -> None:
    existing = Workspace(id="default", name="cli", created_at=clock.now - timedelta(days=9))
    await store.create_workspace(existing)

    token = await tenancy.bootstrap("ignored")

    assert token is not None
    assert await store.list_workspaces() == [existing]
    assert (await login(tenancy, token)).workspace_id == "default"


async def test_create_workspace_makes_an_admin_of_the_new_workspace(
    tenancy: Tenancy, team: Team
) -> None:
    ws, token = await tenancy.create_workspace("  Research ", "rosa", by=team.admin)

    rosa = await login(tenancy, token)
    assert ws.id.startswith("ws_")
    assert ws.name == "Research"
    assert (rosa.workspace_id, rosa.role, rosa.name) == (ws.id, Role.ADMIN, "rosa")
    # The two workspaces see nothing of each other.
    assert [u.name for u in await tenancy.list_users(rosa)] == ["rosa"]
    assert "rosa" not in [u.name for u in await tenancy.list_users(team.admin)]


async def test_only_admins_create_workspaces(tenancy: Tenancy, team: Team) -> None:
    for who in (team.member, team.viewer):
        with pytest.raises(PermissionDeniedError, match="workspaces:create"):
            await tenancy.create_workspace("x", "y", by=who)
    ws, _ = await tenancy.create_workspace("by the operator", "ops")  # the CLI: no principal
    assert ws.name == "by the operator"


# -- authentication -----------------------------------------------------------------------


async def test_authenticate_refuses_every_bad_token_alike(
    tenancy: Tenancy, team: Team, clock: FakeClock
) -> None:
    token = team.tokens[Role.MEMBER]
    key_id, secret = parse_token(token) or ("", "")
    wrong_secret = f"baton_{key_id}_{'A' * 43}"
    unknown_key = f"baton_{'0' * 12}_{secret}"
    for bad in (None, "", "garbage", token + "x", token.upper(), wrong_secret, unknown_key):
        assert await tenancy.authenticate(bad) is None, bad


async def test_authenticate_is_cheap_and_checks_the_secret_when_cached(
    tenancy: Tenancy, team: Team, store: TenancyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = team.tokens[Role.VIEWER]
    key_id, _ = parse_token(token) or ("", "")
    await login(tenancy, token)  # cached now
    reads: list[str] = []
    get_key = store.get_key

    async def counting_get_key(key_id: str) -> ApiKey | None:
        reads.append(key_id)
        return await get_key(key_id)

    monkeypatch.setattr(store, "get_key", counting_get_key)

    assert await tenancy.authenticate(f"baton_{key_id}_{'B' * 43}") is None
    assert await login(tenancy, token) == team.viewer
    assert reads == []


async def test_authenticate_records_the_last_use(
    tenancy: Tenancy, team: Team, store: TenancyStore, clock: FakeClock
) -> None:
    key_id = team.viewer.key_id
    assert key_id is not None
    clock.advance(60)

    await login(tenancy, team.tokens[Role.VIEWER])

    stored = await store.get_key(key_id)
    assert stored is not None
    assert stored.last_used_at == clock.now


async def test_an_expired_key_stops_working_on_time_even_cached(
    tenancy: Tenancy, team: Team, clock: FakeClock
) -> None:
    _, token = await tenancy.create_key(
        team.member, name="short", expires_at=clock.now + timedelta(seconds=2)
    )
    assert await login(tenancy, token) == dataclasses.replace(
        team.member, key_id=(parse_token(token) or ("", ""))[0]
    )

    clock.advance(2)

    assert await tenancy.authenticate(token) is None


async def test_revoking_through_the_service_takes_effect_at_once(
    tenancy: Tenancy, team: Team
) -> None:
    token = team.tokens[Role.MEMBER]
    await login(tenancy, token)  # cached
    assert team.member.key_id is not None

    await tenancy.revoke_key(team.member, team.member.key_id)

    assert await tenancy.authenticate(token) is None


async def test_revoked_elsewhere_takes_effect_within_the_ttl(
    tenancy: Tenancy, team: Team, store: TenancyStore, clock: FakeClock
) -> None:
    token = team.tokens[Role.MEMBER]
    assert team.member.key_id is not None
    await login(tenancy, token)

    # Another process revokes it, straight in the shared store.
    await store.revoke_key(team.member.workspace_id, team.member.key_id, clock.now)
    clock.advance(4)
    assert await tenancy.authenticate(token) is not None  # still cached
    clock.advance(1)
    assert await tenancy.authenticate(token) is None


async def test_without_a_cache_every_request_reads_the_store(
    store: TenancyStore, team: Team, clock: FakeClock
) -> None:
    uncached = Tenancy(store, clock=clock, cache_ttl_s=0)
    token = team.tokens[Role.MEMBER]
    assert team.member.key_id is not None
    await login(uncached, token)

    await store.revoke_key(team.member.workspace_id, team.member.key_id, clock.now)

    assert await uncached.authenticate(token) is None


async def test_removing_a_user_revokes_their_keys_at_once(
    tenancy: Tenancy, team: Team, store: TenancyStore
) -> None:
    token = team.tokens[Role.MEMBER]
    _, second = await tenancy.create_key(team.member, name="laptop")
    await login(tenancy, token)
    await login(tenancy, second)

    removed = await tenancy.remove_user(team.admin, team.member.user_id)

    assert removed.disabled
    assert await tenancy.authenticate(token) is None
    assert await tenancy.authenticate(second) is None
    keys = await store.list_keys(team.member.workspace_id, team.member.user_id)
    assert len(keys) == 2
    assert all(k.revoked_at is not None for k in keys)


async def test_a_role_change_takes_effect_at_once(tenancy: Tenancy, team: Team) -> None:
    token = team.tokens[Role.VIEWER]
    await login(tenancy, token)

    await tenancy.set_role(team.admin, team.viewer.user_id, Role.MEMBER)

    principal = await login(tenancy, token)
    assert principal.role is Role.MEMBER
    assert principal.can(Permission.EXECUTIONS_RUN)


# -- users --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["member", "viewer"])
async def test_only_admins_manage_members(tenancy: Tenancy, team: Team, who: str) -> None:
    principal: Principal = getattr(team, who)
    with pytest.raises(PermissionDeniedError, match="members:manage"):
        await tenancy.add_user(principal, "x", Role.VIEWER)
    with pytest.raises(PermissionDeniedError):
        await tenancy.set_role(principal, principal.user_id, Role.ADMIN)
    with pytest.raises(PermissionDeniedError):
        await tenancy.remove_user(principal, team.admin.user_id)
    assert (await login(tenancy, team.tokens[Role.ADMIN])).role is Role.ADMIN
    assert principal.role is not Role.ADMIN


@pytest.mark.parametrize("who", ["admin", "member", "viewer"])
async def test_everyone_lists_the_workspace_s_users(tenancy: Tenancy, team: Team, who: str) -> None:
    users = await tenancy.list_users(getattr(team, who))
    assert [(u.name, u.role) for u in users] == [
        ("admin", Role.ADMIN),
        ("mia", Role.MEMBER),
        ("vic", Role.VIEWER),
    ]


async def test_add_a_service_account(tenancy: Tenancy, team: Team) -> None:
    bot = await tenancy.add_user(team.admin, "deploy bot", Role.MEMBER, kind="service")
    _, token = await tenancy.create_key(team.admin, name="ci", user_id=bot.id)

    principal = await login(tenancy, token)

    assert (principal.kind, principal.name, principal.role) == (
        "service",
        "deploy bot",
        Role.MEMBER,
    )


async def test_users_of_another_workspace_are_not_found(tenancy: Tenancy, team: Team) -> None:
    _, token = await tenancy.create_workspace("other", "olga")
    olga = await login(tenancy, token)

    for attempt in (
        tenancy.set_role(olga, team.member.user_id, Role.VIEWER),
        tenancy.remove_user(olga, team.member.user_id),
        tenancy.create_key(olga, name="x", user_id=team.member.user_id),
    ):
        with pytest.raises(NotFoundError):
            await attempt
    assert await login(tenancy, team.tokens[Role.MEMBER]) == team.member


async def test_the_last_admin_cannot_leave_or_step_down(tenancy: Tenancy, team: Team) -> None:
    admin = team.admin
    with pytest.raises(UsageError, match="last admin") as refused:
        await tenancy.set_role(admin, admin.user_id, Role.MEMBER)
    assert "make another user admin first" in str(refused.value)
    with pytest.raises(UsageError, match="last admin"):
        await tenancy.remove_user(admin, admin.user_id)

    await tenancy.set_role(admin, team.member.user_id, Role.ADMIN)
    demoted = await tenancy.set_role(admin, admin.user_id, Role.VIEWER)

    assert demoted.role is Role.VIEWER
    assert (await login(tenancy, team.tokens[Role.ADMIN])).role is Role.VIEWER


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "name must not be empty"),
        ("   ", "name must not be empty"),
        ("x" * 101, "name must be at most 100 characters long"),
        ("a\nb", "name must not contain control characters"),
    ],
)
async def test_names_are_validated(tenancy: Tenancy, team: Team, name: str, message: str) -> None:
    with pytest.raises(UsageError, match=f"^{message}"):
        await tenancy.add_user(team.admin, name, Role.VIEWER)
    with pytest.raises(UsageError, match=f"^key {message}"):
        await tenancy.create_key(team.admin, name=name)
    with pytest.raises(UsageError, match=f"^workspace {message}"):
        await tenancy.create_workspace(name, "ok")
    with pytest.raises(UsageError, match=f"^admin {message}"):
        await tenancy.create_workspace("ok", name)


async def test_names_are_stripped_and_100_characters_fit(tenancy: Tenancy, team: Team) -> None:
    u = await tenancy.add_user(team.admin, "  " + "x" * 100 + " ", Role.VIEWER)
    assert u.name == "x" * 100


async def test_an_unknown_kind_is_refused(tenancy: Tenancy, team: Team) -> None:
    with pytest.raises(UsageError, match="kind"):
        await tenancy.add_user(team.admin, "x", Role.VIEWER, kind="robot")  # type: ignore[arg-type]


# -- keys ---------------------------------------------------------------------------------


async def test_members_manage_their_own_keys(tenancy: Tenancy, team: Team) -> None:
    key, token = await tenancy.create_key(team.member, name="laptop")

    assert key.user_id == team.member.user_id
    assert (await login(tenancy, token)).user_id == team.member.user_id
    revoked = await tenancy.revoke_key(team.member, key.id)
    assert revoked.revoked_at is not None


async def test_viewers_may_not_create_or_revoke_their_keys(tenancy: Tenancy, team: Team) -> None:
    assert team.viewer.key_id is not None
    with pytest.raises(PermissionDeniedError, match="keys:manage_own"):
        await tenancy.create_key(team.viewer, name="more")
    with pytest.raises(PermissionDeniedError, match="keys:manage_own"):
        await tenancy.revoke_key(team.viewer, team.viewer.key_id)
    assert [k.id for k in await tenancy.list_keys(team.viewer)] == [team.viewer.key_id]


async def test_only_admins_create_keys_for_others(tenancy: Tenancy, team: Team) -> None:
    with pytest.raises(PermissionDeniedError, match="keys:manage_all"):
        await tenancy.create_key(team.member, name="x", user_id=team.viewer.user_id)
    # Same answer for a user that does not exist: nothing leaks.
    with pytest.raises(PermissionDeniedError, match="keys:manage_all"):
        await tenancy.create_key(team.member, name="x", user_id="us_nobody")
    with pytest.raises(NotFoundError):
        await tenancy.create_key(team.admin, name="x", user_id="us_nobody")


async def test_list_keys_shows_admins_all_and_others_their_own(
    tenancy: Tenancy, team: Team
) -> None:
    everyone = {team.admin.key_id, team.member.key_id, team.viewer.key_id}

    assert {k.id for k in await tenancy.list_keys(team.admin)} == everyone
    assert [k.id for k in await tenancy.list_keys(team.member)] == [team.member.key_id]
    assert [k.id for k in await tenancy.list_keys(team.viewer)] == [team.viewer.key_id]


async def test_another_user_s_key_is_not_found_without_manage_all(
    tenancy: Tenancy, team: Team
) -> None:
    admin_key = team.admin.key_id
    assert admin_key is not None

    with pytest.raises(NotFoundError, match=admin_key) as theirs:
        await tenancy.revoke_key(team.member, admin_key)
    with pytest.raises(NotFoundError) as missing:
        await tenancy.revoke_key(team.member, "000000000000")

    # Exactly the answer for a key that does not exist, and nothing was revoked.
    assert str(theirs.value).replace(admin_key, "?") == str(missing.value).replace(
        "000000000000", "?"
    )
    assert await login(tenancy, team.tokens[Role.ADMIN]) == team.admin


async def test_admins_revoke_anyone_s_key(tenancy: Tenancy, team: Team) -> None:
    assert team.viewer.key_id is not None
    await login(tenancy, team.tokens[Role.VIEWER])

    revoked = await tenancy.revoke_key(team.admin, team.viewer.key_id)

    assert revoked.user_id == team.viewer.user_id
    assert await tenancy.authenticate(team.tokens[Role.VIEWER]) is None


async def test_keys_of_another_workspace_are_not_found(tenancy: Tenancy, team: Team) -> None:
    _, token = await tenancy.create_workspace("other", "olga")
    olga = await login(tenancy, token)
    assert team.member.key_id is not None

    with pytest.raises(NotFoundError):
        await tenancy.revoke_key(olga, team.member.key_id)
    assert team.member.key_id not in {k.id for k in await tenancy.list_keys(olga)}
    assert await login(tenancy, team.tokens[Role.MEMBER]) == team.member


async def test_expiry_must_be_aware_and_in_the_future(
    tenancy: Tenancy, team: Team, clock: FakeClock
) -> None:
    with pytest.raises(UsageError, match="timezone"):
        await tenancy.create_key(team.member, name="x", expires_at=clock.now.replace(tzinfo=None))
    with pytest.raises(UsageError, match="future"):
        await tenancy.create_key(team.member, name="x", expires_at=clock.now)
    key, _ = await tenancy.create_key(
        team.member, name="x", expires_at=clock.now + timedelta(days=1)
    )
    assert key.expires_at == clock.now + timedelta(days=1)


async def test_the_token_s_secret_is_not_in_the_stored_key(
    tenancy: Tenancy, team: Team, store: TenancyStore
) -> None:
    key, token = await tenancy.create_key(team.member, name="laptop")
    _, secret = parse_token(token) or ("", "")

    stored = await store.get_key(key.id)
    assert stored == key
    assert secret not in repr(stored)


async def test_a_disabled_user_gets_no_key(tenancy: Tenancy, team: Team) -> None:
    await tenancy.remove_user(team.admin, team.viewer.user_id)
    with pytest.raises(UsageError, match="disabled"):
        await tenancy.create_key(team.admin, name="x", user_id=team.viewer.user_id)


def test_principal_can_follows_the_role() -> None:
    p = Principal(
        user_id="us_1", name="v", kind="user", workspace_id="w", role=Role.VIEWER, key_id=None
    )
    assert p.can(Permission.EXECUTIONS_READ)
    assert not p.can(Permission.EXECUTIONS_RUN)
    assert dataclasses.replace(p, role=Role.MEMBER).can(Permission.EXECUTIONS_RUN)


class Tampered:
    """A store whose `get_user` answers `answer`: a state disabling would never leave."""

    def __init__(self, inner: TenancyStore, answer: Callable[[User], User]) -> None:
        self.inner = inner
        self.answer = answer

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def get_user(self, workspace_id: str, user_id: str) -> User:
        return self.answer(await self.inner.get_user(workspace_id, user_id))


def gone(user: User) -> User:
    raise NotFoundError("gone")


@pytest.mark.parametrize("answer", [gone, lambda u: dataclasses.replace(u, disabled=True)])
async def test_a_key_of_a_missing_or_disabled_user_is_refused(
    team: Team, store: TenancyStore, answer: Callable[[User], User]
) -> None:
    # Defence in depth: disabling revokes the keys, but a key whose user is gone or
    # disabled must not authenticate whatever the key row says.
    fresh = Tenancy(Tampered(store, answer), clock=FakeClock())  # type: ignore[arg-type]
    assert await fresh.authenticate(team.tokens[Role.ADMIN]) is None


class CountingStore(MemoryTenancyStore):
    """Counts key lookups, and makes each one take a moment (as a database does)."""

    lookups = 0

    async def get_key(self, key_id: str) -> ApiKey | None:
        self.lookups += 1
        await anyio.sleep(0.01)
        return await super().get_key(key_id)


async def test_concurrent_requests_share_one_lookup_when_the_cache_expires(
    clock: FakeClock,
) -> None:
    store = CountingStore()
    tenancy = Tenancy(store, clock=clock, cache_ttl_s=5.0)
    token = await tenancy.bootstrap()
    assert token is not None
    results: list[Principal | None] = []

    async def request(secret_ok: bool) -> None:
        results.append(await tenancy.authenticate(token if secret_ok else token[:-1] + "x"))

    for _ in range(2):  # a cold cache, then one that expired
        store.lookups = 0
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(request, i != 7)
        assert store.lookups == 1
        clock.advance(6)
    assert sum(r is not None for r in results) == 38  # the wrong secret is refused, twice
