"""Conformance suite: every ApprovalStore implementation must pass all of these."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton.errors import NotFoundError, UsageError
from baton.store.approvals import (
    Approval,
    ApprovalStatus,
    ApprovalStore,
    Impact,
    MemoryApprovalStore,
    new_approval_id,
)
from baton.store.sql.approvals import SqlApprovalStore
from baton.store.sql.database import Database
from support.clock import FakeClock

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
BIND: dict[str, str] = {"plan_hash": "p1", "step_id": "send", "inputs_hash": "h1"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(store_database: Database | None, clock: FakeClock) -> ApprovalStore:
    if store_database is None:
        return MemoryApprovalStore(clock=clock)
    return SqlApprovalStore(store_database, clock=clock)


def pending(**changes: Any) -> Approval:
    values: dict[str, Any] = {
        "id": new_approval_id(),
        "workspace_id": "default",
        "execution_id": "ex_1",
        "step_id": "send",
        "agent": "notify.send",
        "plan_hash": "p1",
        "inputs_hash": "h1",
        "inputs": {"to": "dana@x.com", "text": "hi", "n": [1, {"a": None}]},
        "impact": Impact(summary="send a message", targets=["dana@x.com"], reversible=False),
        "reason": "irreversible",
        "status": ApprovalStatus.PENDING,
        "created_at": T0,
        "expires_at": T0 + timedelta(hours=1),
    }
    return Approval(**{**values, **changes})


async def test_create_then_get_round_trips(store: ApprovalStore) -> None:
    a = pending()
    assert await store.create(a) == a
    assert await store.get(a.id) == a
    assert a.id.startswith("ap_")


async def test_get_unknown_is_not_found(store: ApprovalStore) -> None:
    with pytest.raises(NotFoundError, match="ap_nope"):
        await store.get("ap_nope")


async def test_create_refuses_duplicates_and_non_pending(store: ApprovalStore) -> None:
    a = await store.create(pending())
    with pytest.raises(UsageError):
        await store.create(a)
    with pytest.raises(UsageError, match="must be pending"):
        await store.create(pending(status=ApprovalStatus.APPROVED))


async def test_list_filters_and_orders_oldest_first(store: ApprovalStore) -> None:
    b = await store.create(pending(created_at=T0 + timedelta(seconds=5)))
    a = await store.create(pending())
    c = await store.create(pending(execution_id="ex_2", created_at=T0 + timedelta(seconds=1)))
    assert await store.list() == [a, c, b]
    assert [x.id for x in await store.list(execution_id="ex_2")] == [c.id]
    await store.decide(a.id, ApprovalStatus.REJECTED, by="me", reason="no")
    assert {x.id for x in await store.list(ApprovalStatus.PENDING)} == {b.id, c.id}
    assert [x.id for x in await store.list(ApprovalStatus.REJECTED, "ex_1")] == [a.id]
    assert await store.list(ApprovalStatus.USED) == []


async def test_decide_records_the_decision_once(store: ApprovalStore, clock: FakeClock) -> None:
    a = await store.create(pending())
    clock.advance(60)
    later = T0 + timedelta(hours=2)
    decided = await store.decide(
        a.id,
        ApprovalStatus.APPROVED,
        by="dana",
        reason="fine",
        edited_inputs={"to": "eve@x.com"},
        inputs_hash="h2",
        expires_at=later,
    )
    assert decided is not None
    assert (decided.status, decided.decided_by, decided.decision_reason) == (
        ApprovalStatus.APPROVED,
        "dana",
        "fine",
    )
    assert decided.decided_at == T0 + timedelta(seconds=60)
    assert (decided.edited_inputs, decided.inputs_hash, decided.expires_at) == (
        {"to": "eve@x.com"},
        "h2",
        later,
    )
    assert decided.run_inputs == {"to": "eve@x.com"}
    assert decided.inputs == a.inputs
    assert await store.get(a.id) == decided
    # No longer pending: a second decision changes nothing.
    assert await store.decide(a.id, ApprovalStatus.REJECTED, by="eve", reason="no") is None
    assert await store.get(a.id) == decided


async def test_decide_keeps_the_binding_when_not_edited(store: ApprovalStore) -> None:
    a = await store.create(pending())
    decided = await store.decide(a.id, ApprovalStatus.EXPIRED, by="timeout")
    assert decided is not None
    assert (decided.inputs_hash, decided.expires_at, decided.edited_inputs) == (
        "h1",
        a.expires_at,
        None,
    )
    assert decided.run_inputs == a.inputs


async def test_decide_refuses_unknown_ids_and_non_decisions(store: ApprovalStore) -> None:
    with pytest.raises(NotFoundError):
        await store.decide("ap_nope", ApprovalStatus.APPROVED, by="me")
    a = await store.create(pending())
    for status in (ApprovalStatus.USED, ApprovalStatus.PENDING):
        with pytest.raises(UsageError, match="cannot be decided"):
            await store.decide(a.id, status, by="me")


async def test_mark_used_consumes_once(store: ApprovalStore) -> None:
    a = await store.create(pending())
    assert not await store.mark_used(a.id, **BIND)  # still pending
    await store.decide(a.id, ApprovalStatus.APPROVED, by="me")
    assert await store.mark_used(a.id, **BIND)
    assert (await store.get(a.id)).status is ApprovalStatus.USED
    assert not await store.mark_used(a.id, **BIND)  # replay


@pytest.mark.parametrize(
    "wrong", [{"plan_hash": "p2"}, {"step_id": "other"}, {"inputs_hash": "h2"}]
)
async def test_mark_used_requires_the_exact_binding(
    store: ApprovalStore, wrong: dict[str, str]
) -> None:
    a = await store.create(pending())
    await store.decide(a.id, ApprovalStatus.APPROVED, by="me")
    assert not await store.mark_used(a.id, **{**BIND, **wrong})
    assert (await store.get(a.id)).status is ApprovalStatus.APPROVED


async def test_mark_used_refuses_after_expiry(store: ApprovalStore, clock: FakeClock) -> None:
    a = await store.create(pending())
    await store.decide(a.id, ApprovalStatus.APPROVED, by="me")
    clock.advance(3600)  # expiry is exclusive
    assert not await store.mark_used(a.id, **BIND)
    assert not await store.mark_used("ap_nope", **BIND)


async def test_rejected_and_expired_cannot_be_used(store: ApprovalStore) -> None:
    for status in (ApprovalStatus.REJECTED, ApprovalStatus.EXPIRED):
        a = await store.create(pending())
        await store.decide(a.id, status, by="me")
        assert not await store.mark_used(a.id, **BIND)
