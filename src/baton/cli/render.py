"""Rich renderables for plans, results and events (pure: nothing here prints)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from rich.tree import Tree

from baton.core.estimate import DEFAULT_STEP_S, Estimate
from baton.core.executor import ExecutionResult
from baton.core.graph import Dag
from baton.core.plan import Plan, Step
from baton.events import (
    ApprovalRequested,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    ExecutionWaiting,
    PlanRevised,
    RunEvent,
    StepCancelled,
    StepFailed,
    StepInDoubt,
    StepLog,
    StepPartial,
    StepProgress,
    StepRecovery,
    StepReset,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepStatus,
    StepSucceeded,
)
from baton.llm.usage import Budget, UsageTotals

_MAX_INPUTS = 4  # inputs shown per step in a plan tree; the rest are counted
_MAX_VALUE_CHARS = 60  # one input value in a plan tree
_RESULT_STR_CHARS = 400  # one string inside a result
_RESULT_ITEMS = 10  # list items / mapping keys shown inside a result
_RESULT_LINES = 30  # lines of one step's result

STATUS_STYLE: Mapping[StepStatus, tuple[str, str]] = {
    StepStatus.PENDING: ("○", "dim"),
    StepStatus.RUNNING: ("●", "yellow"),
    StepStatus.SUCCEEDED: ("✓", "green"),
    StepStatus.FAILED: ("✗", "red"),
    StepStatus.SKIPPED: ("↷", "dim"),
    StepStatus.CANCELLED: ("■", "magenta"),
    StepStatus.IN_DOUBT: ("?", "bold yellow"),
    StepStatus.AWAITING_APPROVAL: ("⏸", "bold cyan"),
}
"""Icon and style of each step status."""


def fmt_duration(seconds: float | None) -> str:
    """``85 ms``, ``1.2 s``, ``2 m 05 s``, ``1 h 02 m``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def fmt_tokens(totals: UsageTotals) -> str:
    """``1,234``; ``-`` when no call was made."""
    return f"{totals.tokens:,}" if totals.calls or totals.tokens else "-"


def fmt_cost(totals: UsageTotals) -> str:
    """``$0.0123``; ``$0.0123+`` when some calls had no known price; ``?`` when none had."""
    if not totals.calls:
        return "-"
    if totals.unpriced_calls >= totals.calls:
        return "?"
    return f"${totals.cost_usd:.4f}" + ("+" if totals.unpriced_calls else "")


def usage_text(totals: UsageTotals) -> str:
    """``1,234 tokens (1,000 in, 234 out), $0.0123, 3 calls``, saying what has no price."""
    calls = f"{totals.calls} call{'s' if totals.calls != 1 else ''}"
    text = (
        f"{totals.tokens:,} tokens ({totals.input_tokens:,} in, {totals.output_tokens:,} out), "
        f"{fmt_cost(totals)}, {calls}"
    )
    if totals.unpriced_calls:
        text += f" ({totals.unpriced_calls} without a known price)"
    return text


def budget_text(budget: Budget) -> str:
    """``20,000 tokens, $0.5``: the limits a budget sets."""
    parts: list[str] = []
    if budget.max_tokens is not None:
        parts.append(f"{budget.max_tokens:,} tokens")
    if budget.max_cost_usd is not None:
        parts.append(f"${budget.max_cost_usd:g}")
    return ", ".join(parts) or "no limit"


def clip(text: str, limit: int) -> str:
    """One line of at most `limit` characters (newlines folded, an ellipsis when cut)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def ordered_steps(plan: Plan) -> list[Step]:
    """Steps in dependency order (stable in plan order); steps in a cycle come last."""
    order = Dag.of(plan).topological()
    placed = set(order)
    by_id = {s.id: s for s in plan.steps}
    return [by_id[i] for i in order] + [s for s in plan.steps if s.id not in placed]


def plan_tree(plan: Plan) -> Tree:
    """The plan as a tree: each step with its agent, key inputs and what it waits for."""
    dag = Dag.of(plan)
    tree = Tree(Text(plan.name or "plan", style="bold"), guide_style="dim")
    for step in ordered_steps(plan):
        node = tree.add(Text.assemble((step.id, "bold"), "  ", (step.agent, "cyan")))
        if step.description:
            node.add(Text(clip(step.description, 80), style="italic"))
        items = list(step.inputs.items())
        for key, value in items[:_MAX_INPUTS]:
            node.add(Text.assemble((f"{key} = ", "dim"), _show_value(value)))
        if len(items) > _MAX_INPUTS:
            node.add(Text(f"… {len(items) - _MAX_INPUTS} more input(s)", style="dim"))
        deps = dag.deps.get(step.id, ())
        if deps:
            node.add(Text.assemble(("after ", "dim"), ", ".join(deps)))
    return tree


def _show_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return clip(text, _MAX_VALUE_CHARS)


def estimate_text(est: Estimate) -> Text:
    """``critical path: a -> b`` and ``estimate: ~2.0 s (...)`` on two lines."""
    text = Text.assemble(("critical path: ", "bold"), " -> ".join(est.path), "\n")
    text.append("estimate: ", style="bold")
    if est.steps_with_history == 0:
        text.append(
            f"no history (assuming {fmt_duration(DEFAULT_STEP_S)} per step): "
            f"~{fmt_duration(est.total_s)}"
        )
    elif est.steps_with_history < est.steps:
        missing = est.steps - est.steps_with_history
        text.append(
            f"~{fmt_duration(est.total_s)} ({missing} of {est.steps} step(s) have no history; "
            f"{fmt_duration(DEFAULT_STEP_S)} assumed for those)"
        )
    else:
        text.append(f"~{fmt_duration(est.total_s)} (from past runs)")
    return text


def shorten(value: Any, *, str_chars: int = _RESULT_STR_CHARS, items: int = _RESULT_ITEMS) -> Any:
    """A copy of a JSON value with long strings, lists and mappings cut, saying how much."""
    if isinstance(value, str):
        extra = len(value) - str_chars
        return value if extra <= 0 else f"{value[:str_chars]}… (+{extra:,} chars)"
    if isinstance(value, list):
        seq: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
        out = [shorten(v, str_chars=str_chars, items=items) for v in seq[:items]]
        if len(seq) > items:
            out.append(f"… (+{len(seq) - items:,} items)")
        return out
    if isinstance(value, dict):
        mapping: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
        keys = list(mapping)
        short = {k: shorten(mapping[k], str_chars=str_chars, items=items) for k in keys[:items]}
        if len(keys) > items:
            short["…"] = f"+{len(keys) - items:,} keys"
        return short
    return value


def format_output(output: Mapping[str, Any], *, max_lines: int = _RESULT_LINES) -> str:
    """A step's output for people: a lone string as is, anything else as indented JSON."""
    short = shorten(dict(output))
    if len(short) == 1 and isinstance(next(iter(short.values())), str):
        text = str(next(iter(short.values())))
    else:
        text = json.dumps(short, indent=2, ensure_ascii=False, default=str)
    lines = text.splitlines()
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"… (+{len(lines) - max_lines} lines)"]
    return "\n".join(lines)


def result_view(plan: Plan, result: ExecutionResult) -> RenderableType:
    """Outputs of the final steps (those no step depends on), failures, and the summary line."""
    dag = Dag.of(plan)
    parts: list[RenderableType] = []
    for step in plan.steps:
        if dag.dependents.get(step.id) or step.id not in result.outputs:
            continue
        parts.append(Text(f"{step.id}:", style="bold"))
        parts.append(Text("  " + format_output(result.outputs[step.id]).replace("\n", "\n  ")))
    for sid, error in result.errors.items():
        status = result.steps.get(sid, StepStatus.FAILED)
        icon, style = STATUS_STYLE[status]
        parts.append(Text.assemble((f"{icon} {sid} {status.value}: ", style), clip(error, 300)))
    icon, style = STATUS_STYLE[_as_step_status(result)]
    parts.append(
        Text.assemble(
            (f"{icon} {result.status.value}", f"bold {style}"),
            f" in {fmt_duration(result.duration_s)} · execution ",
            (result.execution_id, "bold"),
        )
    )
    return Group(*parts)


def _as_step_status(result: ExecutionResult) -> StepStatus:
    if result.status is ExecutionStatus.WAITING:
        return StepStatus.IN_DOUBT
    return StepStatus(result.status.value) if result.status.finished else StepStatus.RUNNING


_Describer = Callable[[Any], str]

_DESCRIBE: dict[type, _Describer] = {
    ExecutionStarted: lambda e: f"{e.step_count} step(s)",
    ExecutionFinished: lambda e: e.status.value + (f": {e.error}" if e.error else ""),
    StepStarted: lambda e: f"{e.agent}, attempt {e.attempt}",
    StepSucceeded: lambda e: f"in {fmt_duration(e.duration_s)}" + (", cached" if e.cached else ""),
    StepRetrying: lambda e: (
        f"attempt {e.attempt} failed: {e.error}; retrying in {fmt_duration(e.delay_s)}"
    ),
    StepFailed: lambda e: f"after {e.attempts} attempt(s): {e.error}",
    StepSkipped: lambda e: e.reason,
    StepInDoubt: lambda e: e.reason,
    ApprovalRequested: lambda e: f"approval {e.approval_id} needed: {e.reason}",
    StepRecovery: lambda e: f"{e.rung} after a {e.error_class} error of {e.agent}: {e.detail}",
    StepReset: lambda e: e.reason,
    ExecutionWaiting: lambda e: e.reason,
    StepCancelled: lambda e: "",
    StepProgress: lambda e: " ".join(
        p for p in (f"{e.fraction:.0%}" if e.fraction is not None else "", e.message) if p
    ),
    StepLog: lambda e: f"{e.level}: {e.message}",
    StepPartial: lambda e: "fields " + ", ".join(e.data),
    PlanRevised: lambda e: (
        f"plan version {e.version} because {e.reason}"
        + (f"; added {', '.join(e.added)}" if e.added else "")
        + (f"; removed {', '.join(e.removed)}" if e.removed else "")
    ),
}


def describe_event(event: RunEvent, *, limit: int = 200) -> str:
    """What an event says, in one line (its kind and step are shown beside it)."""
    describe = _DESCRIBE.get(type(event))
    return clip(describe(event), limit) if describe else ""
