"""Approval gates: the policy table, impact, and every way a used approval is refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest

import baton.safety
from baton.errors import NotFoundError, UsageError
from baton.safety import (
    ApprovalDecidedError,
    ApprovalError,
    ApprovalExpiredError,
    ApprovalInputsChangedError,
    ApprovalMissingError,
    ApprovalPendingError,
    ApprovalPlanChangedError,
    ApprovalRejectedError,
    ApprovalReplayError,
    Approvals,
    GatePolicy,
    hash_inputs,
    hash_plan,
    impact_of,
)
from baton.settings import Settings
from baton.store.approvals import Approval, ApprovalStatus, MemoryApprovalStore
from support.clock import FakeClock

T0 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
PLAN = hash_plan({"steps": [{"id": "send", "agent": "notify.send"}]})
INPUTS = {"to": "dana@x.com", "text": "the report is at reports/q3.md"}


@dataclass(frozen=True)
class Spec:
    name: str = "notify.send"
    description: str = "Send a message."
    risk: str = "irreversible"


def service(
    clock: FakeClock, default: Literal["reject", "approve"] = "reject", timeout_s: float = 60
) -> Approvals:
    return Approvals(
        store=MemoryApprovalStore(clock=clock), clock=clock, timeout_s=timeout_s, default=default
    )


async def requested(
    approvals: Approvals, inputs: dict[str, Any] | None = None, step_id: str = "send"
) -> Approval:
    return await approvals.request(
        execution_id="ex_1",
        step_id=step_id,
        agent=Spec(),
        inputs=INPUTS if inputs is None else inputs,
        plan_hash=PLAN,
        reason="irreversible",
    )


async def consume(
    approvals: Approvals, inputs: dict[str, Any] | None = None, **kw: str
) -> Approval:
    args = {"step_id": "send", "plan_hash": PLAN, **kw}
    return await approvals.consume(
        "ex_1",
        args["step_id"],
        args["plan_hash"],
        hash_inputs(INPUTS if inputs is None else inputs),
    )


def test_public_names() -> None:
    assert {"Approvals", "GatePolicy", "ApprovalError", "hash_inputs", "impact_of"} <= set(
        baton.safety.__all__
    )
    for name in [n for n in baton.safety.__all__ if n.startswith("Approval") and "Error" in n]:
        assert issubclass(getattr(baton.safety, name), UsageError)


# --- policy -------------------------------------------------------------------------------

WRITES = GatePolicy(approve_writes=True)
RULES = GatePolicy(rules=("notify.*", "calendar.create_event"))


@pytest.mark.parametrize(
    ("policy", "critical", "risk", "agent", "tainted", "expected"),
    [
        (GatePolicy(), False, "read", "files.read", False, None),
        (GatePolicy(), False, "write", "files.write", False, None),
        (GatePolicy(), True, "read", "files.read", False, "critical"),
        (GatePolicy(), False, "irreversible", "notify.send", False, "cannot be undone"),
        (WRITES, False, "write", "files.write", False, "writes"),
        (WRITES, False, "read", "files.read", False, None),
        (RULES, False, "read", "notify.outbox", False, "'notify.*'"),
        (RULES, False, "write", "calendar.create_event", False, "calendar.create_event"),
        (RULES, False, "write", "calendar.find_slots", False, None),
        (GatePolicy(), False, "write", "files.write", True, "untrusted"),
        (GatePolicy(), False, "irreversible", "notify.send", True, "cannot be undone"),
        (GatePolicy(), False, "read", "files.read", True, None),
    ],
)
def test_gate_policy(
    policy: GatePolicy,
    critical: bool,
    risk: str,
    agent: str,
    tainted: bool,
    expected: str | None,
) -> None:
    reason = policy.reason_for(step_critical=critical, risk=risk, agent=agent, tainted=tainted)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None
        assert expected in reason


def test_policy_comes_from_settings() -> None:
    settings = Settings(
        approve_writes=True,
        approval_required=["notify.*"],
        approval_timeout_s=5,
        approval_default="approve",
    )
    approvals = Approvals.from_settings(MemoryApprovalStore(), settings)
    assert approvals.policy == GatePolicy(approve_writes=True, rules=("notify.*",))
    assert (approvals.timeout_s, approvals.default) == (5, "approve")
    assert (Settings().approval_timeout_s, Settings().approval_default) == (3600, "reject")


def test_approval_required_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_APPROVAL_REQUIRED", '["notify.*", "calendar.create_event"]')
    assert Settings().approval_required == ["notify.*", "calendar.create_event"]


# --- impact and hashing -------------------------------------------------------------------


def test_impact_names_targets_and_reversibility() -> None:
    inputs = {
        "to": "dana@x.com",
        "url": "https://example.com/hook",
        "path": "reports/q3.md",
        "cc": ["eve@x.com", "dana@x.com"],
        "text": "hello there",
        "count": 3,
    }
    impact = impact_of(Spec(), inputs)
    assert impact["targets"] == [
        "dana@x.com",
        "https://example.com/hook",
        "reports/q3.md",
        "eve@x.com",
    ]
    assert impact["reversible"] is False
    assert impact["summary"].startswith("notify.send: Send a message (to=dana@x.com")
    assert impact_of(Spec(risk="write"), {})["reversible"] is True
    assert impact_of(Spec(risk="write"), {})["summary"] == "notify.send: Send a message"
    long = impact_of(Spec(), {"text": "x" * 200, "data": {"k": [1, 2]}})["summary"]
    assert "…" in long
    assert 'data={"k":[1,2]}' in long


def test_hashes_are_canonical() -> None:
    assert hash_inputs({"a": 1, "b": [1, 2]}) == hash_inputs({"b": [1, 2], "a": 1})
    assert hash_inputs({"a": 1}) != hash_inputs({"a": 2})
    assert len(hash_plan({"steps": []})) == 64


# --- the service --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_approve_then_consume_once() -> None:
    clock = FakeClock()
    approvals = service(clock)
    a = await requested(approvals)
    assert a.status is ApprovalStatus.PENDING
    assert a.expires_at == T0 + timedelta(seconds=60)
    assert a.impact["targets"] == ["dana@x.com"]
    clock.advance(30)
    approved = await approvals.approve(a.id, by="dana")
    assert approved.expires_at == clock.now + timedelta(seconds=60)  # a fresh window to use it
    used = await consume(approvals)
    assert (used.id, used.status, used.run_inputs) == (a.id, ApprovalStatus.USED, INPUTS)
    with pytest.raises(ApprovalReplayError, match="used already"):
        await consume(approvals)


@pytest.mark.anyio
async def test_request_is_idempotent_while_pending() -> None:
    approvals = service(FakeClock())
    a = await requested(approvals)
    assert await requested(approvals) == a
    other = await requested(approvals, inputs={"to": "eve@x.com"})
    assert other.id != a.id
    assert (await requested(approvals, step_id="two")).id not in {a.id, other.id}
    await approvals.reject(a.id, by="dana", reason="no")
    assert (await requested(approvals)).id != a.id  # a decided request is not reused


@pytest.mark.anyio
async def test_tampered_inputs_are_refused() -> None:
    approvals = service(FakeClock())
    a = await requested(approvals)
    await approvals.approve(a.id, by="dana")
    with pytest.raises(ApprovalInputsChangedError, match="not the ones approved") as info:
        await consume(approvals, inputs={**INPUTS, "to": "mallory@evil.com"})
    assert info.value.approval_id == a.id
    assert (await approvals.store.get(a.id)).status is ApprovalStatus.APPROVED


@pytest.mark.anyio
async def test_wrong_plan_is_refused() -> None:
    approvals = service(FakeClock())
    a = await requested(approvals)
    await approvals.approve(a.id, by="dana")
    with pytest.raises(ApprovalPlanChangedError, match="another version of the plan"):
        await consume(approvals, plan_hash=hash_plan({"steps": []}))


@pytest.mark.anyio
async def test_expired_request_is_refused_with_default_reject() -> None:
    clock = FakeClock()
    approvals = service(clock)
    a = await requested(approvals)
    clock.advance(60)
    with pytest.raises(ApprovalExpiredError, match="expired before anyone decided"):
        await consume(approvals)
    expired = await approvals.store.get(a.id)
    assert (expired.status, expired.decided_by) == (ApprovalStatus.EXPIRED, "timeout")
    with pytest.raises(ApprovalDecidedError):
        await approvals.approve(a.id, by="late")


@pytest.mark.anyio
async def test_default_approve_on_expiry() -> None:
    clock = FakeClock()
    approvals = service(clock, default="approve")
    a = await requested(approvals)
    clock.advance(61)
    [done] = await approvals.expire_due()
    assert (done.id, done.status, done.decided_by) == (a.id, ApprovalStatus.APPROVED, "timeout")
    assert await approvals.expire_due() == []
    assert (await consume(approvals)).status is ApprovalStatus.USED


@pytest.mark.anyio
async def test_an_approval_not_used_in_time_is_refused() -> None:
    clock = FakeClock()
    approvals = service(clock)
    a = await requested(approvals)
    await approvals.approve(a.id, by="dana")
    clock.advance(60)
    with pytest.raises(ApprovalExpiredError, match="not used before it expired"):
        await consume(approvals)


@pytest.mark.anyio
async def test_deciding_after_the_deadline_applies_the_default() -> None:
    clock = FakeClock()
    approvals = service(clock)
    a = await requested(approvals)
    clock.advance(60)
    with pytest.raises(ApprovalExpiredError, match="default action: reject"):
        await approvals.approve(a.id, by="dana")
    assert (await approvals.store.get(a.id)).status is ApprovalStatus.EXPIRED


@pytest.mark.anyio
async def test_edited_inputs_run_but_the_binding_stays_on_what_was_shown() -> None:
    approvals = service(FakeClock())
    a = await requested(approvals)
    edited = {**INPUTS, "to": "team@x.com"}
    approved = await approvals.approve(a.id, by="dana", edited_inputs=edited)
    assert approved.run_inputs == edited
    assert approved.inputs == INPUTS
    with pytest.raises(ApprovalInputsChangedError):
        await consume(approvals, inputs=edited)  # the step's own inputs are what binds
    assert (await consume(approvals)).run_inputs == edited


@pytest.mark.anyio
async def test_pending_rejected_and_missing_are_refused() -> None:
    approvals = service(FakeClock())
    with pytest.raises(ApprovalMissingError, match="has no approval"):
        await consume(approvals)
    a = await requested(approvals)
    with pytest.raises(ApprovalPendingError, match=f"baton approve {a.id}"):
        await consume(approvals)
    rejected = await approvals.reject(a.id, by="dana", reason="wrong person")
    assert (rejected.status, rejected.decision_reason) == (ApprovalStatus.REJECTED, "wrong person")
    with pytest.raises(ApprovalRejectedError, match="wrong person"):
        await consume(approvals)


@pytest.mark.anyio
async def test_decisions_are_final_and_checked() -> None:
    approvals = service(FakeClock())
    a = await requested(approvals)
    with pytest.raises(UsageError, match="say why"):
        await approvals.reject(a.id, by="dana", reason="  ")
    await approvals.approve(a.id, by="dana")
    with pytest.raises(ApprovalDecidedError, match="approved by dana") as info:
        await approvals.reject(a.id, by="eve", reason="no")
    assert isinstance(info.value, ApprovalError)
    with pytest.raises(ApprovalDecidedError):
        await approvals.approve(a.id, by="eve")
    with pytest.raises(NotFoundError):
        await approvals.approve("ap_nope", by="eve")


@pytest.mark.anyio
async def test_list_expires_due_requests_first() -> None:
    clock = FakeClock()
    approvals = service(clock)
    old = await requested(approvals)
    clock.advance(60)
    new = await requested(approvals, step_id="two")
    assert [a.id for a in await approvals.list()] == [new.id]
    assert [a.id for a in await approvals.list(include_decided=True)] == [old.id, new.id]


class LosesTheRace(MemoryApprovalStore):
    """Another executor consumes the approval between the check and the use."""

    async def mark_used(
        self, approval_id: str, *, plan_hash: str, step_id: str, inputs_hash: str
    ) -> bool:
        await super().mark_used(
            approval_id, plan_hash=plan_hash, step_id=step_id, inputs_hash=inputs_hash
        )
        return False


@pytest.mark.anyio
async def test_a_race_lost_between_check_and_use_is_a_replay() -> None:
    clock = FakeClock()
    approvals = Approvals(store=LosesTheRace(clock=clock), clock=clock)
    a = await requested(approvals)
    await approvals.approve(a.id, by="dana")
    with pytest.raises(ApprovalReplayError):
        await consume(approvals)
