"""Rich tables for the read commands: executions, steps, events and agents."""

from __future__ import annotations

import json
from collections.abc import Sequence, Set
from datetime import datetime
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from baton.agents.registry import AgentStats, RegisteredAgent
from baton.cli.render import (
    STATUS_STYLE,
    budget_text,
    clip,
    describe_event,
    fmt_cost,
    fmt_duration,
    fmt_tokens,
    usage_text,
)
from baton.core.spending import ExecutionUsage
from baton.events import ExecutionStatus, StepStatus
from baton.llm.usage import UsageTotals
from baton.store.compaction import is_cache_hit
from baton.store.records import ExecutionRecord, StepRecord, StoredEvent

_EXECUTION_STYLE = {
    ExecutionStatus.PENDING: "dim",
    ExecutionStatus.RUNNING: "yellow",
    ExecutionStatus.SUCCEEDED: "green",
    ExecutionStatus.FAILED: "red",
    ExecutionStatus.CANCELLED: "magenta",
}


def _when(at: datetime | None, *, seconds: bool = True) -> str:
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return at.astimezone().strftime(fmt) if at else "-"


def _took(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def _status(status: ExecutionStatus) -> Text:
    return Text(status.value, style=_EXECUTION_STYLE[status])


def executions_table(records: Sequence[ExecutionRecord]) -> Table:
    """Recent executions, newest first."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("id", "status", "created", "took"):
        table.add_column(column, no_wrap=True)
    table.add_column("name", no_wrap=True, overflow="ellipsis")
    for r in records:
        table.add_row(
            r.id,
            _status(r.status),
            _when(r.created_at, seconds=False),
            fmt_duration(_took(r.started_at, r.finished_at)),
            Text(clip(r.name, 60)),
        )
    return table


def recovery_table(events: Sequence[StoredEvent]) -> Table:
    """Every rung of the recovery ladder taken: retries, alternatives, questions to people."""
    table = Table(box=None, header_style="bold", pad_edge=False, title_justify="left")
    for column in ("#", "step", "rung", "detail"):
        table.add_column(column, no_wrap=column != "detail", overflow="fold")
    for stored in events:
        e = stored.event
        rung = {
            "step_retrying": "retry",
            "step_in_doubt": "ask",
            "step_reset": "reset",
            "plan_revised": "replan",
        }.get(e.kind, str(getattr(e, "rung", "")))
        table.add_row(
            str(stored.seq),
            getattr(e, "step_id", ""),
            rung,
            Text(clip(describe_event(e), 300)),
        )
    return table


def execution_view(
    record: ExecutionRecord,
    steps: Sequence[StepRecord],
    recovery: Sequence[StoredEvent] = (),
    usage: ExecutionUsage | None = None,
) -> RenderableType:
    """An execution's header, its step table, and the recovery rungs taken.

    With `usage`, the header says the plan's version (and why it was replanned), its budget
    and, when a model was used, what planning and the whole execution cost; the step table
    then has each step's tokens and cost.
    """
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    head.add_row("execution", record.id)
    head.add_row("name", Text(record.name or "-"))
    head.add_row("status", _status(record.status))
    if record.request:
        head.add_row("request", Text(clip(record.request, 200)))
    head.add_row("created", _when(record.created_at))
    head.add_row("started", _when(record.started_at))
    head.add_row("finished", _when(record.finished_at))
    head.add_row("took", fmt_duration(_took(record.started_at, record.finished_at)))
    if record.cancel_requested and not record.status.finished:
        head.add_row("cancel", Text("requested", style="magenta"))
    if record.error:
        head.add_row("error", Text(clip(record.error, 300), style="red"))
    if usage is not None:
        _usage_rows(head, usage)
    shown = usage if usage is not None and usage.used_model else None
    # Cache hits come with the recovery events; they mark their steps rather than list rungs.
    cached = {getattr(e.event, "step_id", "") for e in recovery if is_cache_hit(e.event)}
    recovery = [e for e in recovery if not is_cache_hit(e.event)]
    parts: list[RenderableType] = [head, Text(), steps_table(steps, shown, cached=cached)]
    if recovery:
        parts += [Text(), Text("recovery", style="bold"), recovery_table(recovery)]
    return Group(*parts)


def _usage_rows(head: Table, usage: ExecutionUsage) -> None:
    """The plan's version and origin, the budget, and the model usage, as header rows."""
    plan = f"version {usage.plan_version}"
    if usage.planner:
        plan += f", planned by {usage.planner}" + (f" ({usage.model})" if usage.model else "")
    if usage.plan_version > 1:
        plan += f"; replanned: {usage.revised_because or 'no reason recorded'}"
    head.add_row("plan", Text(clip(plan, 300)))
    if usage.budget is not None:
        head.add_row("budget", budget_text(usage.budget))
    if usage.used_model:
        head.add_row("models", usage_text(usage.total))
        if usage.planning.calls or usage.planning.tokens:
            head.add_row("planning", usage_text(usage.planning))


def steps_table(
    steps: Sequence[StepRecord],
    usage: ExecutionUsage | None = None,
    *,
    cached: Set[str] = frozenset(),
) -> Table:
    """Steps with status, attempts, duration and error; with `usage`, tokens and cost too.

    Steps in `cached` were answered by the smart cache: their status says so.
    """
    table = Table(box=None, header_style="bold", pad_edge=False)
    columns = ["step", "agent", "status", "attempts", "took"]
    if usage is not None:
        columns += ["tokens", "cost"]
    for column in (*columns, "error"):
        justify = "right" if column in ("tokens", "cost") else "left"
        table.add_column(column, no_wrap=column != "error", overflow="fold", justify=justify)
    for s in steps:
        icon, style = STATUS_STYLE[s.status]
        took = s.duration_s if s.duration_s is not None else _took(s.started_at, s.finished_at)
        cells: list[RenderableType] = [
            Text(s.step_id),
            Text(s.agent),
            Text(
                f"{icon} {s.status.value}" + (" (cached)" if s.step_id in cached else ""),
                style=style,
            ),
            str(s.attempts),
            fmt_duration(took) if s.status is not StepStatus.PENDING else "-",
        ]
        if usage is not None:
            spent = usage.steps.get(s.step_id, UsageTotals())
            cells += [fmt_tokens(spent), fmt_cost(spent)]
        table.add_row(*cells, Text(clip(s.error or "", 160)))
    return table


def events_table(events: Sequence[StoredEvent]) -> Table:
    """The event log: position, time, kind, step and what it says."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("seq", "time", "kind", "step", "detail"):
        table.add_column(column, no_wrap=column != "detail", overflow="fold")
    for stored in events:
        e = stored.event
        table.add_row(
            str(stored.seq),
            e.at.astimezone().strftime("%H:%M:%S.%f")[:-3],
            e.kind,
            Text(getattr(e, "step_id", "") or ""),
            Text(describe_event(e)),
        )
    return table


def _short_source(source: str) -> str:
    """``plugin:/long/path/x.py`` -> ``plugin:x.py`` (the full path is in `agents show`)."""
    kind, _, where = source.partition(":")
    return f"{kind}:{Path(where).name}" if kind == "plugin" and where else source


def _stats_text(stats: AgentStats) -> str:
    if not stats.runs:
        return "no runs yet"
    rate = stats.success_rate or 0.0
    return f"{stats.runs} run(s), {rate:.0%} ok, ~{fmt_duration(stats.mean_duration_s)}"


def agents_table(entries: Sequence[tuple[RegisteredAgent, AgentStats]]) -> Table:
    """Every agent: name and description, risk, idempotent, source and live stats."""
    table = Table(box=None, header_style="bold", pad_edge=False, expand=True)
    # The description sits under the name so the table still reads at 80 columns.
    table.add_column("agent", overflow="fold", ratio=1)
    table.add_column("risk", no_wrap=True)
    table.add_column("idem.", no_wrap=True)
    table.add_column("source", overflow="fold", max_width=24)
    table.add_column("runs", no_wrap=True, justify="right")
    table.add_column("mean", no_wrap=True, justify="right")
    for entry, stats in entries:
        spec = entry.agent.spec
        table.add_row(
            Text.assemble((spec.name, "cyan"), "\n", (clip(spec.description, 160), "dim")),
            spec.risk.value,
            "yes" if spec.idempotent else "no",
            Text(_short_source(entry.source)),
            str(stats.runs),
            fmt_duration(stats.mean_duration_s),
        )
    return table


def agent_view(entry: RegisteredAgent, stats: AgentStats) -> RenderableType:
    """One agent: its spec, input and output schemas, examples and stats."""
    spec = entry.agent.spec
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    head.add_row("agent", Text(spec.name, style="cyan"))
    head.add_row("description", Text(spec.description))
    head.add_row("risk", spec.risk.value)
    head.add_row("idempotent", "yes" if spec.idempotent else "no")
    head.add_row("cacheable", "yes" if spec.cacheable else "no")
    if spec.rate_limit_key:
        head.add_row("rate limit key", Text(spec.rate_limit_key))
    if spec.tags:
        head.add_row("tags", Text(", ".join(spec.tags)))
    head.add_row("source", Text(entry.source))
    head.add_row("stats", _stats_text(stats))
    parts: list[RenderableType] = [head]
    for title, model in (("inputs", spec.input_model), ("output", spec.output_model)):
        schema = json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False)
        parts += [Text(f"\n{title} (JSON schema)", style="bold"), Text(schema)]
    if spec.examples:
        parts.append(Text("\nexamples", style="bold"))
        parts += [Text(f"  {example}") for example in spec.examples]
    return Group(*parts)
