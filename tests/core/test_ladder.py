"""The recovery ladder as a pure policy: no event loop, no I/O."""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from baton.agents import AgentContext, AgentRegistry, AgentSpec
from baton.core.ladder import DEFAULT_LADDERS, LadderPolicy, classify
from baton.core.plan import RetryPolicy, Step, StepPolicy
from baton.core.recovery import (
    AskHuman,
    Decision,
    Failure,
    GiveUp,
    RecoveryPolicy,
    Retry,
    RetryThenFail,
    UseAlternative,
)
from baton.errors import (
    AgentError,
    AgentInputError,
    ConfigError,
    ErrorClass,
    PermissionDeniedError,
    RateLimitedError,
    Rung,
    StepTimeoutError,
    StoreError,
    UnknownAgentError,
)

R, A, K, F = Rung.RETRY, Rung.ALTERNATIVE, Rung.ASK, Rung.FAIL
NO_JITTER = RetryPolicy(max_attempts=3, initial_delay_s=0.5, backoff=2.0, jitter=0.0)


class Text(BaseModel):
    text: str


@dataclass(frozen=True)
class Fake:
    spec: AgentSpec

    async def run(self, inputs: BaseModel, ctx: AgentContext) -> BaseModel:
        raise NotImplementedError


def spec(
    name: str,
    capability: str | None = "search",
    recovery: Mapping[ErrorClass, tuple[Rung, ...]] | None = None,
) -> AgentSpec:
    return AgentSpec(
        name=name,
        description=name,
        input_model=Text,
        output_model=Text,
        capability=capability,
        recovery=recovery,
    )


def make_registry(*specs: AgentSpec) -> AgentRegistry:
    registry = AgentRegistry()
    for s in specs:
        registry.register(Fake(s))
    return registry


def failure(
    error: BaseException,
    *,
    agent: str = "a",
    attempt: int = 1,
    tried: Sequence[str] = (),
    step_recovery: dict[ErrorClass, list[Rung]] | None = None,
    plan_recovery: Mapping[ErrorClass, Sequence[Rung]] | None = None,
    retry: RetryPolicy = NO_JITTER,
) -> Failure:
    step = Step(id="s", agent="a", policy=StepPolicy(retry=retry, recovery=step_recovery))
    return Failure(
        step=step,
        agent=agent,
        error=error,
        attempt=attempt,
        tried_agents=tuple(tried) or (agent,),
        plan_recovery=plan_recovery,
    )


def validation_error() -> ValidationError:
    try:
        Text.model_validate({})
    except ValidationError as e:
        return e
    raise AssertionError("unreachable")


class SlowDown(RateLimitedError):
    pass


class Deadline(StepTimeoutError):
    pass


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RateLimitedError("quota"), ErrorClass.RATE_LIMITED),
        (RateLimitedError("quota", retryable=False), ErrorClass.RATE_LIMITED),
        (SlowDown("quota"), ErrorClass.RATE_LIMITED),
        (StepTimeoutError("slow"), ErrorClass.TIMEOUT),
        (Deadline("slow"), ErrorClass.TIMEOUT),
        (TimeoutError(), ErrorClass.TIMEOUT),
        (PermissionDeniedError("no"), ErrorClass.PERMISSION),
        (PermissionDeniedError("no", retryable=True), ErrorClass.PERMISSION),
        (PermissionError("no"), ErrorClass.PERMISSION),
        (AgentInputError("bad"), ErrorClass.INVALID_INPUT),
        (ConfigError("bad"), ErrorClass.INVALID_INPUT),
        (UnknownAgentError("who"), ErrorClass.INVALID_INPUT),
        (validation_error(), ErrorClass.INVALID_INPUT),
        (AgentError("flaky", retryable=True), ErrorClass.TRANSIENT),
        (StoreError("locked", retryable=True), ErrorClass.TRANSIENT),
        (ConnectionResetError(), ErrorClass.TRANSIENT),
        (ConnectionRefusedError(), ErrorClass.TRANSIENT),
        (socket.gaierror(-2, "name unknown"), ErrorClass.TRANSIENT),
        (OSError(errno.ENETUNREACH, "unreachable"), ErrorClass.TRANSIENT),
        (AgentError("broken"), ErrorClass.PERMANENT),
        (StoreError("schema"), ErrorClass.PERMANENT),
        (FileNotFoundError("gone"), ErrorClass.PERMANENT),
        (OSError("disk"), ErrorClass.PERMANENT),
        (ValueError("rate limited, timeout, permission"), ErrorClass.PERMANENT),
    ],
    ids=repr,
)
def test_classify(error: BaseException, expected: ErrorClass) -> None:
    assert classify(error) is expected


def test_default_ladders_cover_every_class_and_never_ask() -> None:
    assert set(DEFAULT_LADDERS) == set(ErrorClass)
    assert all(K not in ladder for ladder in DEFAULT_LADDERS.values())
    assert all(ladder[-1] is F for ladder in DEFAULT_LADDERS.values())
    assert DEFAULT_LADDERS[ErrorClass.TRANSIENT] == (R, A, F)
    assert DEFAULT_LADDERS[ErrorClass.PERMANENT] == (A, F)
    assert DEFAULT_LADDERS[ErrorClass.INVALID_INPUT] == (F,)
    assert DEFAULT_LADDERS[ErrorClass.PERMISSION] == (F,)


FLAKY = AgentError("flaky", retryable=True)
T = ErrorClass.TRANSIENT


@pytest.mark.parametrize(
    ("step", "plan", "agent", "expected"),
    [
        ({T: [K]}, {T: [F]}, {T: (R,)}, (K,)),
        (None, {T: [K]}, {T: (R,)}, (K,)),
        ({ErrorClass.TIMEOUT: [F]}, {T: [K]}, {T: (R,)}, (K,)),  # the step doesn't name T
        (None, None, {T: (K,)}, (K,)),
        (None, {ErrorClass.TIMEOUT: [K]}, {ErrorClass.TIMEOUT: (K,)}, (R, A, F)),
    ],
)
def test_ladder_precedence_step_plan_agent_default(
    step: dict[ErrorClass, list[Rung]] | None,
    plan: Mapping[ErrorClass, Sequence[Rung]] | None,
    agent: Mapping[ErrorClass, tuple[Rung, ...]],
    expected: tuple[Rung, ...],
) -> None:
    policy = LadderPolicy(make_registry(spec("a", recovery=agent)))
    f = failure(FLAKY, step_recovery=step, plan_recovery=plan)
    assert tuple(policy.ladder_for(f, T)) == expected
    assert isinstance(policy.decide(f), AskHuman if expected == (K,) else Retry)


def test_retry_backs_off_until_max_attempts_then_moves_on() -> None:
    policy = LadderPolicy(make_registry(spec("a", capability=None)), random.Random(1))
    assert policy.decide(failure(FLAKY, attempt=1)) == Retry(delay_s=0.5)
    assert policy.decide(failure(FLAKY, attempt=2)) == Retry(delay_s=1.0)
    assert policy.decide(failure(FLAKY, attempt=3)) == GiveUp()


def test_retry_jitter_stays_within_bounds() -> None:
    policy = LadderPolicy(make_registry(spec("a")), random.Random(7))
    jittery = RetryPolicy(max_attempts=5, initial_delay_s=1.0, jitter=0.5)
    for _ in range(20):
        decision = policy.decide(failure(FLAKY, attempt=1, retry=jittery))
        assert isinstance(decision, Retry)
        assert 0.5 <= decision.delay_s <= 1.0


def test_retry_waits_at_least_retry_after() -> None:
    policy = LadderPolicy(make_registry(spec("a")))
    assert policy.decide(failure(RateLimitedError("q", retry_after=12.0))) == Retry(delay_s=12.0)
    assert policy.decide(failure(RateLimitedError("q", retry_after=0.1))) == Retry(delay_s=0.5)


def stats_registry() -> AgentRegistry:
    registry = make_registry(
        spec("a"),
        spec("flaky"),
        spec("slow"),
        spec("fast"),
        spec("new"),
        spec("other", capability="mail"),
        spec("plain", capability=None),
    )
    runs: dict[str, list[tuple[bool, float]]] = {
        "flaky": [(True, 0.1), (False, 0.1)],
        "slow": [(True, 5.0), (True, 5.0)],
        "fast": [(True, 1.0), (True, 1.0)],
        "other": [(True, 0.01)],
    }
    for name, results in runs.items():
        for ok, duration in results:
            registry.record(name, ok=ok, duration_s=duration)
    return registry


def test_alternative_best_success_rate_then_latency_skipping_tried() -> None:
    policy = LadderPolicy(stats_registry())
    tried = ["a"]
    chosen: list[str] = []
    while isinstance(d := policy.decide(failure(AgentError("x"), tried=tried)), UseAlternative):
        chosen.append(d.agent)
        tried.append(d.agent)
    # Proven perfect agents by latency, then the unknown one (rate 1.0, latency unknown),
    # then the flaky one; never another capability, never one already tried.
    assert chosen == ["fast", "slow", "new", "flaky"]


def test_alternative_ties_break_by_name() -> None:
    policy = LadderPolicy(make_registry(spec("a"), spec("z"), spec("m")))
    assert policy.decide(failure(AgentError("x"))) == UseAlternative(agent="m")


def test_alternative_uses_the_failing_agents_capability() -> None:
    policy = LadderPolicy(stats_registry())
    assert policy.decide(failure(AgentError("x"), agent="other")) == GiveUp()
    assert policy.decide(failure(AgentError("x"), agent="plain")) == GiveUp()


def test_no_alternative_goes_to_the_next_rung() -> None:
    policy = LadderPolicy(make_registry(spec("a"), spec("plain", capability=None)))
    f = failure(AgentError("x"), plan_recovery={ErrorClass.PERMANENT: [A, K, F]})
    assert isinstance(policy.decide(f), AskHuman)
    assert policy.decide(failure(AgentError("x"), agent="plain")) == GiveUp()
    assert policy.decide(failure(AgentError("x"), agent="unregistered")) == GiveUp()


def test_ask_reason_names_class_agents_and_message() -> None:
    policy = LadderPolicy(make_registry(spec("a"), spec("b")))
    error = RateLimitedError("quota exceeded", hint="wait a minute")
    f = failure(error, agent="b", tried=["a", "b"], step_recovery={ErrorClass.RATE_LIMITED: [K]})
    decision = policy.decide(f)
    assert isinstance(decision, AskHuman)
    assert (
        decision.reason
        == "rate_limited error after trying 'a', 'b': RateLimitedError: quota exceeded"
    )


def test_ask_reason_for_a_plain_exception() -> None:
    policy = LadderPolicy(make_registry(spec("a")))
    f = failure(ValueError(), plan_recovery={ErrorClass.PERMANENT: [K]})
    assert policy.decide(f) == AskHuman(
        reason="permanent error after trying 'a': ValueError: no message"
    )


def test_invalid_input_is_never_retried() -> None:
    policy = LadderPolicy(make_registry(spec("a"), spec("b")))
    assert policy.decide(failure(AgentInputError("bad"))) == GiveUp()
    configured = {ErrorClass.INVALID_INPUT: [R, K]}
    assert isinstance(
        policy.decide(failure(validation_error(), step_recovery=configured)), AskHuman
    )


def test_permission_fails_by_default_but_may_ask() -> None:
    policy = LadderPolicy(make_registry(spec("a"), spec("b")))
    assert policy.decide(failure(PermissionError())) == GiveUp()
    ask = {ErrorClass.PERMISSION: [K]}
    assert isinstance(policy.decide(failure(PermissionError(), plan_recovery=ask)), AskHuman)


@pytest.mark.parametrize("ladder", [[R], [A], [R, A], []])
def test_a_ladder_without_fail_still_ends_in_give_up(ladder: list[Rung]) -> None:
    policy = LadderPolicy(make_registry(spec("a")))
    f = failure(FLAKY, attempt=3, step_recovery={T: ladder})
    assert policy.decide(f) == GiveUp()


def drive(policy: RecoveryPolicy, error: BaseException, **kw: Any) -> list[Decision]:
    """Play the executor: apply decisions until the policy gives up or asks."""
    agent, attempt, tried = "a", 1, ["a"]
    decisions: list[Decision] = []
    for _ in range(100):
        decision = policy.decide(failure(error, agent=agent, attempt=attempt, tried=tried, **kw))
        decisions.append(decision)
        if isinstance(decision, Retry):
            attempt += 1
        elif isinstance(decision, UseAlternative):
            agent, attempt = decision.agent, 1
            tried.append(agent)
        else:
            return decisions
    raise AssertionError("the ladder did not end")


def test_the_ladder_ends_after_retrying_every_alternative() -> None:
    policy = LadderPolicy(make_registry(spec("a"), spec("b"), spec("c")), random.Random(0))
    decisions = drive(policy, FLAKY)
    kinds = [type(d).__name__ for d in decisions]
    assert kinds == ["Retry", "Retry", "UseAlternative"] * 2 + ["Retry", "Retry", "GiveUp"]
    assert [d.agent for d in decisions if isinstance(d, UseAlternative)] == ["b", "c"]


def test_alternative_before_retry_also_ends() -> None:
    policy = LadderPolicy(make_registry(spec("a"), spec("b")), random.Random(0))
    decisions = drive(policy, FLAKY, step_recovery={T: [A, R]})
    assert [type(d).__name__ for d in decisions] == ["UseAlternative", "Retry", "Retry", "GiveUp"]


def test_retry_then_fail_still_behaves() -> None:
    policy = RetryThenFail(random.Random(0))
    assert policy.decide(failure(FLAKY, attempt=1)) == Retry(delay_s=0.5)
    assert policy.decide(failure(FLAKY, attempt=3)) == GiveUp()
    assert policy.decide(failure(AgentError("broken"))) == GiveUp()
    assert policy.decide(failure(ValueError())) == GiveUp()
    assert policy.decide(failure(RateLimitedError("q", retry_after=9.0))) == Retry(delay_s=9.0)
