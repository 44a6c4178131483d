"""The view of a running execution: a live Rich tree on a terminal, one line per event elsewhere.

Both views are fed by the executor's ``on_event`` callback, which is called on the event loop
after each event is committed; the live view's refresh thread only reads the tracker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from baton.cli.render import STATUS_STYLE, clip, describe_event, fmt_duration, ordered_steps
from baton.core.graph import Dag
from baton.core.plan import Plan
from baton.events import (
    ApprovalRequested,
    PlanRevised,
    RunEvent,
    StepCancelled,
    StepFailed,
    StepInDoubt,
    StepLog,
    StepProgress,
    StepReset,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepStatus,
    StepSucceeded,
)

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_NOTE_CHARS = 120


@dataclass(slots=True)
class StepView:
    """What the views know about one step."""

    agent: str
    """The step's agent."""
    max_attempts: int
    """From the step's retry policy."""
    status: StepStatus = StepStatus.PENDING
    """Latest status."""
    attempt: int = 0
    """Latest attempt started."""
    retrying: bool = False
    """An attempt failed and the next one is waiting for its back-off."""
    started: float | None = None
    """Clock reading when the latest attempt started."""
    duration_s: float | None = None
    """Duration once finished."""
    note: str = ""
    """Latest progress message, error or skip reason."""


@dataclass(slots=True)
class RunTracker:
    """Folds run events into per-step state for the views."""

    plan: Plan
    """The plan being run."""
    clock: Callable[[], float] = time.monotonic
    """Injected so tests control elapsed times."""
    steps: dict[str, StepView] = field(default_factory=dict[str, StepView])
    """Per step id, in dependency order."""
    began: float = 0.0
    """Clock reading when the tracker was made."""

    def __post_init__(self) -> None:
        self.began = self.clock()
        for s in ordered_steps(self.plan):
            self.steps[s.id] = StepView(agent=s.agent, max_attempts=s.policy.retry.max_attempts)

    def revise(self, plan: Plan, added: Sequence[str]) -> None:
        """A replan: show the revised plan's steps; kept ones keep their state."""
        fresh = set(added)
        old, self.steps, self.plan = self.steps, {}, plan
        for s in ordered_steps(plan):
            kept = old.get(s.id) if s.id not in fresh else None
            self.steps[s.id] = kept or StepView(
                agent=s.agent, max_attempts=s.policy.retry.max_attempts
            )

    @property
    def finished(self) -> int:
        """Steps that will not run again."""
        return sum(1 for v in self.steps.values() if v.status.finished)

    def elapsed(self, view: StepView) -> float | None:
        """Duration if finished, time since the attempt started if running."""
        if view.duration_s is not None or view.started is None:
            return view.duration_s
        return self.clock() - view.started

    def apply(self, event: RunEvent) -> None:
        """Fold an event in: a revised plan, or a change to the step it is about."""
        if isinstance(event, PlanRevised):
            self.revise(Plan.model_validate(event.plan), event.added)
        else:
            self._apply_to_step(event)

    def _apply_to_step(self, event: RunEvent) -> None:
        """Update the state of the step an event is about."""
        view = self.steps.get(getattr(event, "step_id", ""))
        if view is None:
            return
        match event:
            case StepStarted():
                view.status, view.attempt, view.retrying = StepStatus.RUNNING, event.attempt, False
                view.started, view.note = self.clock(), ""
            case StepSucceeded():
                view.status, view.duration_s, view.note = StepStatus.SUCCEEDED, event.duration_s, ""
            case StepRetrying():
                view.retrying, view.note = True, f"attempt {event.attempt} failed: {event.error}"
            case StepFailed():
                view.status, view.note = StepStatus.FAILED, event.error
                view.duration_s = self.elapsed(view)
            case StepSkipped():
                view.status, view.note = StepStatus.SKIPPED, event.reason
            case StepCancelled():
                view.status, view.duration_s = StepStatus.CANCELLED, self.elapsed(view)
                view.note = ""
            case StepInDoubt():
                view.status, view.note = StepStatus.IN_DOUBT, event.reason
            case ApprovalRequested():
                view.status = StepStatus.AWAITING_APPROVAL
                view.note = f"needs approval {event.approval_id}: {event.reason}"
            case StepReset():
                view.status, view.note = StepStatus.PENDING, ""
            case StepProgress():
                view.note = describe_event(event)
            case _:
                pass


class LiveRunView:
    """A Rich `Live` tree of steps with a progress bar, refreshed several times a second."""

    def __init__(self, console: Console, tracker: RunTracker) -> None:
        self.tracker = tracker
        self._deps = Dag.of(tracker.plan).deps
        self._live = Live(
            console=console,
            get_renderable=self.render,
            refresh_per_second=8,
            # Keep the progress bar (first line) visible when the tree is taller than the screen.
            vertical_overflow="crop",
        )

    def __enter__(self) -> LiveRunView:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, tb)

    def on_event(self, event: RunEvent) -> None:
        """Fold the event in; the refresh thread draws it."""
        self.tracker.apply(event)
        if isinstance(event, PlanRevised):
            self._deps = Dag.of(self.tracker.plan).deps

    def render(self) -> RenderableType:
        """Progress line, then the tree of steps."""
        t = self.tracker
        total, done = len(t.steps), t.finished
        head = Table.grid(padding=(0, 1))
        head.add_row(
            ProgressBar(
                total=max(total, 1),
                completed=done,
                width=30,
                complete_style="cyan",
                finished_style="green",
            ),
            Text(f"{done}/{total} steps", style="bold"),
            Text(fmt_duration(t.clock() - t.began), style="dim"),
        )
        tree = Tree(Text(t.plan.name or "plan", style="bold"), guide_style="dim")
        for sid, view in t.steps.items():
            node = tree.add(self._label(sid, view))
            if view.note:
                style = "red" if view.status is StepStatus.FAILED else "dim"
                node.add(Text(clip(view.note, _NOTE_CHARS), style=style))
        return Group(head, tree)

    def _label(self, sid: str, view: StepView) -> Text:
        icon, style = STATUS_STYLE[view.status]
        if view.status is StepStatus.RUNNING:
            icon = _SPINNER[int(self.tracker.clock() * 10) % len(_SPINNER)]
        return Text.assemble(
            (icon, style), " ", (sid, "bold"), "  ", (view.agent, "cyan"), "  ",
            (self._detail(sid, view), "dim"),
        )  # fmt: skip

    def _detail(self, sid: str, view: StepView) -> str:
        took = fmt_duration(self.tracker.elapsed(view))
        of = f"{view.attempt}/{view.max_attempts}"
        if view.retrying:
            return f"waiting to retry (attempt {of} failed)"
        if view.status is StepStatus.PENDING:
            deps = self._deps.get(sid, ())
            return f"waiting for {', '.join(deps)}" if deps else "pending"
        if view.status is StepStatus.RUNNING:
            return f"running {took}" + (f" · attempt {of}" if view.attempt > 1 else "")
        if view.status in (StepStatus.SKIPPED, StepStatus.CANCELLED):
            return view.status.value
        attempts = f" · {view.attempt} attempts" if view.attempt > 1 else ""
        return f"{view.status.value} {took}{attempts}"


class LineRunView:
    """One line per step transition, for logs and pipes where a live display cannot redraw."""

    def __init__(self, console: Console, tracker: RunTracker) -> None:
        self.tracker = tracker
        self._console = console

    def __enter__(self) -> LineRunView:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def on_event(self, event: RunEvent) -> None:
        """Print transitions, warnings and errors; progress and partial data stay quiet."""
        self.tracker.apply(event)
        step = getattr(event, "step_id", "")
        if not step or isinstance(event, StepProgress):
            return
        if isinstance(event, StepLog) and event.level in ("debug", "info"):
            return
        label, style = _LINE_LABEL.get(event.kind, (event.kind, "dim"))
        text = Text.assemble((f"{label:<9}", style), " ", (step, "bold"))
        detail = describe_event(event)
        if detail:
            text.append(f"  {detail}", style="dim")
        self._console.print(text, soft_wrap=True)


_LINE_LABEL = {
    "step_started": ("started", "yellow"),
    "step_succeeded": ("succeeded", "green"),
    "step_retrying": ("retrying", "yellow"),
    "step_failed": ("failed", "red"),
    "step_skipped": ("skipped", "dim"),
    "step_cancelled": ("cancelled", "magenta"),
    "log": ("log", "yellow"),
    "partial": ("partial", "dim"),
}


def make_view(
    console: Console, plan: Plan, known: Mapping[str, StepStatus] | None = None
) -> LiveRunView | LineRunView:
    """The live tree on a terminal, lines otherwise; `known` seeds a resumed execution."""
    tracker = RunTracker(plan)
    for sid, status in (known or {}).items():
        if sid in tracker.steps:
            tracker.steps[sid].status = status
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveRunView(console, tracker)
    return LineRunView(console, tracker)
