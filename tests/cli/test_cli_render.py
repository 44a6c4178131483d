"""Renderers and the live view, without running anything."""

from __future__ import annotations

import io

from rich.console import Console

from baton.cli.live import LineRunView, LiveRunView, RunTracker, make_view
from baton.cli.render import fmt_duration, format_output, result_view, shorten
from baton.core.executor import ExecutionResult
from baton.core.plan import Plan, RetryPolicy, Step, StepPolicy
from baton.events import (
    ExecutionStatus,
    StepFailed,
    StepProgress,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepStatus,
    StepSucceeded,
)

PLAN = Plan(
    name="demo",
    steps=[
        Step(id="fetch", agent="http.get", inputs={"url": "https://example.com"}),
        Step(
            id="flaky",
            agent="t.flaky",
            policy=StepPolicy(retry=RetryPolicy(max_attempts=3)),
        ),
        Step(id="summarize", agent="text.summarize", inputs={"text": "${fetch.text}"}),
        Step(id="notify", agent="notify.send", depends_on=["flaky"]),
    ],
)
EX = "ex_test"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def console(*, terminal: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=120, color_system=None), buffer


def drive(tracker: RunTracker, clock: FakeClock) -> None:
    tracker.apply(StepStarted(execution_id=EX, step_id="fetch", agent="http.get"))
    tracker.apply(StepStarted(execution_id=EX, step_id="flaky", agent="t.flaky"))
    tracker.apply(StepProgress(execution_id=EX, step_id="fetch", fraction=0.25, message="dl"))
    clock.now += 2.5
    tracker.apply(StepSucceeded(execution_id=EX, step_id="fetch", duration_s=2.5))
    tracker.apply(StepStarted(execution_id=EX, step_id="summarize", agent="text.summarize"))
    tracker.apply(
        StepRetrying(execution_id=EX, step_id="flaky", attempt=1, error="503", delay_s=0.5)
    )


def test_tracker_follows_steps_through_retries_and_failures() -> None:
    clock = FakeClock()
    tracker = RunTracker(PLAN, clock=clock)
    drive(tracker, clock)

    assert list(tracker.steps) == ["fetch", "flaky", "summarize", "notify"]
    assert tracker.steps["fetch"].status is StepStatus.SUCCEEDED
    assert tracker.steps["flaky"].retrying
    assert tracker.finished == 1

    tracker.apply(StepStarted(execution_id=EX, step_id="flaky", agent="t.flaky", attempt=2))
    assert not tracker.steps["flaky"].retrying
    clock.now += 1
    tracker.apply(StepFailed(execution_id=EX, step_id="flaky", error="503 again", attempts=2))
    tracker.apply(StepSkipped(execution_id=EX, step_id="notify", reason="dependency 'flaky'"))
    assert tracker.steps["flaky"].duration_s == 1
    assert tracker.finished == 3


def test_live_view_draws_a_tree_with_progress() -> None:
    clock = FakeClock()
    tracker = RunTracker(PLAN, clock=clock)
    out, buffer = console(terminal=True)
    view = LiveRunView(out, tracker)
    drive(tracker, clock)
    clock.now += 1

    out.print(view.render())
    drawn = buffer.getvalue()

    assert "1/4 steps" in drawn
    assert "fetch  http.get  succeeded 2.5 s" in drawn
    assert "waiting to retry (attempt 1/3 failed)" in drawn
    assert "attempt 1 failed: 503" in drawn
    assert "summarize  text.summarize  running 1.0 s" in drawn
    assert "notify  notify.send  waiting for flaky" in drawn


def test_make_view_picks_lines_when_not_a_terminal() -> None:
    assert isinstance(make_view(console(terminal=True)[0], PLAN), LiveRunView)
    assert isinstance(make_view(console(terminal=False)[0], PLAN), LineRunView)


def test_line_view_prints_transitions_only() -> None:
    out, buffer = console(terminal=False)
    view = LineRunView(out, RunTracker(PLAN))

    view.on_event(StepStarted(execution_id=EX, step_id="fetch", agent="http.get"))
    view.on_event(StepProgress(execution_id=EX, step_id="fetch", fraction=0.5))
    view.on_event(StepFailed(execution_id=EX, step_id="fetch", error="DNS", attempts=3))

    lines = buffer.getvalue().splitlines()
    assert lines == [
        "started   fetch  http.get, attempt 1",
        "failed    fetch  after 3 attempt(s): DNS",
    ]


def test_durations() -> None:
    assert fmt_duration(None) == "-"
    assert fmt_duration(0.0123) == "12 ms"
    assert fmt_duration(3.21) == "3.2 s"
    assert fmt_duration(125) == "2 m 05 s"
    assert fmt_duration(3 * 3600 + 120) == "3 h 02 m"


def test_outputs_are_truncated_sensibly() -> None:
    big = {"rows": [{"n": i} for i in range(500)], "text": "x" * 10_000}

    short = shorten(big)
    assert len(short["rows"]) == 11
    assert short["rows"][-1] == "… (+490 items)"
    assert short["text"].endswith("… (+9,600 chars)")
    assert format_output({"result": "plain text"}) == "plain text"
    assert len(format_output(big).splitlines()) <= 31


def test_result_shows_final_steps_and_failures() -> None:
    result = ExecutionResult(
        execution_id=EX,
        status=ExecutionStatus.FAILED,
        outputs={"fetch": {"text": "page"}, "summarize": {"summary": "short"}},
        steps={
            "fetch": StepStatus.SUCCEEDED,
            "summarize": StepStatus.SUCCEEDED,
            "flaky": StepStatus.FAILED,
            "notify": StepStatus.SKIPPED,
        },
        errors={"flaky": "503", "notify": "dependency 'flaky' did not succeed"},
        duration_s=1.5,
    )
    out, buffer = console(terminal=False)

    out.print(result_view(PLAN, result))
    text = buffer.getvalue()

    assert "summarize:\n  short" in text
    assert "fetch:" not in text  # an intermediate step: its output fed `summarize`
    assert "✗ flaky failed: 503" in text
    assert "↷ notify skipped: dependency 'flaky'" in text
    assert "✗ failed in 1.5 s · execution ex_test" in text
