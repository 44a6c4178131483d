"""The scheduler is pure: tested without an event loop."""

from __future__ import annotations

from baton.core.plan import Plan, Step
from baton.core.run_state import ConcurrencyLimits, RunState
from baton.events import StepStatus


def test_ready_steps_start_longest_remaining_path_first() -> None:
    # "long" heads a chain of three; "short" is alone. With one slot, the chain goes first.
    plan = Plan(
        steps=[
            Step(id="short", agent="x"),
            Step(id="long", agent="x"),
            Step(id="l2", agent="x", depends_on=["long"]),
            Step(id="l3", agent="x", depends_on=["l2"]),
        ]
    )
    state = RunState(plan, limits=ConcurrencyLimits(max_concurrency=1))
    assert state.take_ready() == ["long"]
    assert state.take_ready() == []  # the slot is taken
    assert state.succeed("long") == ["l2"]
    assert state.take_ready() == ["l2"]


def test_a_step_is_ready_as_soon_as_its_own_dependencies_are_done() -> None:
    plan = Plan(
        steps=[
            Step(id="a", agent="x"),
            Step(id="b", agent="x", depends_on=["a"]),
            Step(id="slow", agent="x"),
        ]
    )
    state = RunState(plan, limits=ConcurrencyLimits())
    assert sorted(state.take_ready()) == ["a", "slow"]
    state.succeed("a")
    assert state.take_ready() == ["b"]  # no waiting for "slow": no level barrier


def test_per_agent_limit_holds_back_only_that_agent() -> None:
    plan = Plan(
        steps=[Step(id=f"h{i}", agent="http") for i in range(3)] + [Step(id="f", agent="files")]
    )
    state = RunState(plan, limits=ConcurrencyLimits(max_concurrency=10, per_agent={"http": 2}))
    started = state.take_ready()
    assert sorted(started) == ["f", "h0", "h1"]
    state.succeed("h0")
    assert state.take_ready() == ["h2"]


def test_failure_skips_transitive_dependents_only() -> None:
    plan = Plan(
        steps=[
            Step(id="a", agent="x"),
            Step(id="b", agent="x", depends_on=["a"]),
            Step(id="c", agent="x", depends_on=["b"]),
            Step(id="other", agent="x"),
        ]
    )
    state = RunState(plan, limits=ConcurrencyLimits())
    state.take_ready()
    assert state.fail("a") == ["b", "c"]
    assert state.status["other"] is StepStatus.RUNNING
    assert state.first_failed_dependency("b") == "a"
    state.succeed("other")
    assert not state.is_active()


def test_back_off_frees_the_slot_until_the_retry_is_due() -> None:
    plan = Plan(steps=[Step(id="a", agent="x"), Step(id="b", agent="x")])
    state = RunState(plan, limits=ConcurrencyLimits(max_concurrency=1))
    first = state.take_ready()
    state.back_off(first[0])
    assert state.is_active()
    other = state.take_ready()
    assert other != first
    state.succeed(other[0])
    state.retry_due(first[0])
    assert state.take_ready() == first
    assert state.attempt[first[0]] == 2


def test_resume_never_runs_finished_steps_again() -> None:
    plan = Plan(steps=[Step(id="a", agent="x"), Step(id="b", agent="x", depends_on=["a"])])
    state = RunState(plan, limits=ConcurrencyLimits(), known={"a": StepStatus.SUCCEEDED})
    assert state.take_ready() == ["b"]


def test_resume_skips_what_depends_on_earlier_failures_and_waits_on_doubt() -> None:
    plan = Plan(
        steps=[
            Step(id="failed", agent="x"),
            Step(id="after_failed", agent="x", depends_on=["failed"]),
            Step(id="doubt", agent="x"),
            Step(id="after_doubt", agent="x", depends_on=["doubt"]),
            Step(id="was_cancelled", agent="x"),
        ]
    )
    state = RunState(
        plan,
        limits=ConcurrencyLimits(),
        known={
            "failed": StepStatus.FAILED,
            "doubt": StepStatus.IN_DOUBT,
            "was_cancelled": StepStatus.CANCELLED,
            "after_doubt": StepStatus.PENDING,
        },
    )
    assert state.skipped_on_start == ["after_failed"]
    assert state.take_ready() == ["was_cancelled"]  # cancelled steps run again
    state.succeed("was_cancelled")
    assert not state.is_active()  # after_doubt waits on the person
    assert state.in_doubt() == ["doubt"]
    assert state.unfinished() == ["after_doubt"]
