"""Conformance suite: every FeedbackStore implementation must pass all of these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from baton.errors import UsageError
from baton.store.feedback import (
    MAX_COMMENT_CHARS,
    Feedback,
    FeedbackStore,
    MemoryFeedbackStore,
    new_feedback_id,
)
from baton.store.sql.database import Database
from baton.store.sql.feedback import SqlFeedbackStore
from baton.store.sql.tenancy import SqlTenancyStore
from baton.store.tenancy import (
    MemoryTenancyStore,
    Role,
    TenancyStore,
    User,
    Workspace,
    new_user_id,
)
from support.clock import T0

pytestmark = pytest.mark.anyio


@dataclass
class Setup:
    store: FeedbackStore
    tenancy: TenancyStore
    dana: User
    """A user of workspace ``ws_a``."""
    eve: User
    """A user of workspace ``ws_b``."""


async def add_user(tenancy: TenancyStore, workspace_id: str, name: str) -> User:
    await tenancy.create_workspace(Workspace(id=workspace_id, name=workspace_id, created_at=T0))
    u = User(
        id=new_user_id(),
        workspace_id=workspace_id,
        name=name,
        kind="user",
        role=Role.MEMBER,
        created_at=T0,
    )
    return await tenancy.create_user(u)


@pytest.fixture
async def setup(store_database: Database | None) -> Setup:
    # Feedback's author must exist in its workspace (the SQL schema checks it).
    store: FeedbackStore
    tenancy: TenancyStore
    if store_database is None:
        store, tenancy = MemoryFeedbackStore(), MemoryTenancyStore()
    else:
        store, tenancy = SqlFeedbackStore(store_database), SqlTenancyStore(store_database)
    dana = await add_user(tenancy, "ws_a", "dana")
    eve = await add_user(tenancy, "ws_b", "eve")
    return Setup(store=store, tenancy=tenancy, dana=dana, eve=eve)


def entry(by: User, **changes: Any) -> Feedback:
    values: dict[str, Any] = {
        "id": new_feedback_id(),
        "workspace_id": by.workspace_id,
        "execution_id": "ex_1",
        "user_id": by.id,
        "rating": 4,
        "comment": "good, but slow ✓",
        "created_at": T0,
    }
    return Feedback(**{**values, **changes})


async def test_add_then_list_round_trips(setup: Setup) -> None:
    f = entry(setup.dana)

    assert await setup.store.add(f) == f
    assert await setup.store.list("ws_a") == [f]
    assert f.id.startswith("fb_")


async def test_list_is_scoped_filtered_newest_first_and_limited(setup: Setup) -> None:
    store, dana = setup.store, setup.dana
    old = await store.add(entry(dana, rating=1))
    new = await store.add(entry(dana, rating=5, created_at=T0 + timedelta(minutes=2)))
    other_ex = await store.add(
        entry(dana, execution_id="ex_2", created_at=T0 + timedelta(minutes=1))
    )
    await store.add(entry(setup.eve))

    assert await store.list("ws_a") == [new, other_ex, old]
    assert await store.list("ws_a", execution_id="ex_1") == [new, old]
    assert await store.list("ws_a", limit=2) == [new, other_ex]
    assert await store.list("ws_a", execution_id="ex_none") == []
    assert [f.user_id for f in await store.list("ws_b")] == [setup.eve.id]
    assert await store.list("ws_nobody") == []


@pytest.mark.parametrize("rating", [0, 6, -1, 100])
async def test_a_rating_out_of_range_is_refused(setup: Setup, rating: int) -> None:
    with pytest.raises(UsageError, match="rating must be from 1 to 5"):
        await setup.store.add(entry(setup.dana, rating=rating))
    assert await setup.store.list("ws_a") == []


@pytest.mark.parametrize("rating", [1, 5])
async def test_the_bounds_are_ratings(setup: Setup, rating: int) -> None:
    f = await setup.store.add(entry(setup.dana, rating=rating, comment=""))
    assert await setup.store.list("ws_a") == [f]


async def test_a_long_comment_is_refused_and_the_longest_kept(setup: Setup) -> None:
    with pytest.raises(UsageError, match="comment"):
        await setup.store.add(entry(setup.dana, comment="x" * (MAX_COMMENT_CHARS + 1)))
    f = await setup.store.add(entry(setup.dana, comment="é" * MAX_COMMENT_CHARS))
    assert await setup.store.list("ws_a") == [f]


async def test_duplicates_and_bad_limits_are_refused(setup: Setup) -> None:
    f = await setup.store.add(entry(setup.dana))
    with pytest.raises(UsageError):
        await setup.store.add(f)
    with pytest.raises(UsageError, match="limit"):
        await setup.store.list("ws_a", limit=0)
    assert await setup.store.list("ws_a") == [f]


async def test_sql_refuses_an_author_outside_the_workspace(database: Database) -> None:
    # The in-memory store knows no users; the schema's key to users catches this on SQL.
    tenancy, store = SqlTenancyStore(database), SqlFeedbackStore(database)
    await add_user(tenancy, "ws_a", "dana")
    eve = await add_user(tenancy, "ws_b", "eve")

    with pytest.raises(UsageError, match="refused to add feedback"):
        await store.add(entry(eve, workspace_id="ws_a"))
    assert await store.list("ws_a") == []
