"""The commands' work against a baton server (``BATON_URL``), through `baton.client`.

The wire shapes keep the field names of the store's records, so a remote execution is turned
back into `ExecutionRecord`, `StepRecord` and `StoredEvent` here and rendered by the very
same tables and live views as a local one. A run is followed over the server's event
stream (`BatonClient.stream`), which feeds the live view exactly as the local executor's
``on_event`` does; the command's part of a run ends when the execution finishes or waits for
a person (an approval), as a local run does.

With ``BATON_URL`` set, ``run``, ``executions list|show|events``, ``cancel``,
``approvals list``, ``approve``, ``reject`` and ``agents list|show`` work through the server
(`plan_remote` and `resume_remote` hold the work of ``plan`` and ``resume``). Every command
that opens the local engine otherwise refuses with a message saying so
(`CliState.with_baton`): ``recover``, ``resolve`` and ``executions compact`` act on the
server's database and belong on its machine. ``db`` and ``serve`` open no engine through
the CLI state and always work on the local configuration (``serve`` *is* a server).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from contextlib import aclosing
from datetime import datetime
from pathlib import PurePath
from typing import Any, cast

from pydantic import ValidationError
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from baton.cli.live import make_view
from baton.cli.render import budget_text, clip, fmt_duration, plan_tree, result_view
from baton.cli.serialize import emit_json
from baton.cli.session import CliState
from baton.cli.source import PlanSource
from baton.client import BatonClient
from baton.core.executor import ExecutionResult
from baton.core.plan import Plan
from baton.core.spending import ExecutionUsage, execution_usage
from baton.events import (
    EVENT_ADAPTER,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    ExecutionWaiting,
    StepStatus,
)
from baton.llm.usage import Budget, UsageTotals
from baton.store.approvals import Approval, ApprovalStatus, Impact
from baton.store.compaction import shown_in_show
from baton.store.records import ExecutionRecord, StepRecord, StoredEvent
from baton.wire import (
    AgentOut,
    ApprovalOut,
    EventOut,
    ExecutionDetail,
    ExecutionOut,
    PlanPreview,
    StepOut,
    UsageOut,
)

__all__ = [
    "agent_json",
    "agent_view",
    "agents_table",
    "all_events",
    "approval_record",
    "decide",
    "execution_record",
    "execution_result",
    "follow",
    "last_seq",
    "list_executions",
    "plan_remote",
    "preview",
    "resume_remote",
    "show_execution",
    "start",
    "step_record",
    "stored_event",
    "usage_record",
]

_PAGE = 200  # the server's largest page of executions
_EVENT_PAGE = 1000
_ERROR_STATUSES = frozenset({StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.IN_DOUBT})


# ---- wire shapes as the store's records ----------------------------------------------------


def execution_record(out: ExecutionOut) -> ExecutionRecord:
    """An execution as the store's record (the plan is empty unless `out` has one)."""
    plan = out.plan if isinstance(out, ExecutionDetail) else {}
    return ExecutionRecord(
        id=out.id,
        name=out.name,
        request=out.request,
        plan=plan,
        status=out.status,
        created_at=out.created_at,
        started_at=out.started_at,
        finished_at=out.finished_at,
        error=out.error,
        cancel_requested=out.cancel_requested,
        workspace_id=out.workspace_id,
    )


def step_record(out: StepOut) -> StepRecord:
    """A step as the store's record."""
    return StepRecord(**out.model_dump())


def stored_event(out: EventOut) -> StoredEvent:
    """An event of the log as the store keeps it: its seq and the typed event."""
    data = out.model_dump(mode="json", exclude={"seq"})
    return StoredEvent(seq=out.seq, event=EVENT_ADAPTER.validate_python(data))


def approval_record(out: ApprovalOut) -> Approval:
    """An approval request as the store's record (the binding hashes stay on the server)."""
    return Approval(
        id=out.id,
        workspace_id=out.workspace_id,
        execution_id=out.execution_id,
        step_id=out.step_id,
        agent=out.agent,
        plan_hash="",
        inputs_hash="",
        inputs=out.inputs,
        impact=cast("Impact", out.impact),
        reason=out.reason,
        status=ApprovalStatus(out.status),
        created_at=out.created_at,
        expires_at=out.expires_at,
        decided_at=out.decided_at,
        decided_by=out.decided_by,
        decision_reason=out.decision_reason,
        edited_inputs=out.edited_inputs,
    )


def execution_result(
    record: ExecutionRecord, steps: Sequence[StepRecord], duration_s: float
) -> ExecutionResult:
    """How a run ended, as the local executor reports it, from the stored rows."""
    return ExecutionResult(
        execution_id=record.id,
        status=record.status,
        outputs={
            s.step_id: s.output
            for s in steps
            if s.status is StepStatus.SUCCEEDED and s.output is not None
        },
        steps={s.step_id: s.status for s in steps},
        errors={s.step_id: s.error for s in steps if s.status in _ERROR_STATUSES and s.error},
        duration_s=duration_s,
    )


# ---- reading --------------------------------------------------------------------------------


async def list_executions(
    client: BatonClient, status: ExecutionStatus | None, limit: int
) -> list[ExecutionRecord]:
    """The `limit` newest executions (in `status`), over as many pages as it takes."""
    records: list[ExecutionRecord] = []
    cursor: str | None = None
    while len(records) < limit:
        page = await client.list_executions(
            status=status, limit=min(limit - len(records), _PAGE), cursor=cursor
        )
        records += [execution_record(e) for e in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return records


async def all_events(client: BatonClient, execution_id: str) -> list[StoredEvent]:
    """An execution's whole event log, oldest first.

    Events of a kind this client does not know (a newer server's) are left out rather than
    failing the whole listing.
    """
    events: list[StoredEvent] = []
    after = 0
    while True:
        page = await client.events(execution_id, after=after, limit=_EVENT_PAGE)
        events += [e for e in map(_readable_event, page) if e is not None]
        if page:
            after = page[-1].seq
        if len(page) < _EVENT_PAGE:
            return events


def _readable_event(out: EventOut) -> StoredEvent | None:
    try:
        return stored_event(out)
    except ValidationError:
        return None


async def last_seq(client: BatonClient, execution_id: str) -> int:
    """Seq of the last event of an execution's log (0 if none): a stream resumes after it."""
    last = 0
    while True:
        page = await client.events(execution_id, after=last, limit=_EVENT_PAGE)
        if page:
            last = page[-1].seq
        if len(page) < _EVENT_PAGE:
            return last


def usage_record(detail: ExecutionDetail) -> ExecutionUsage:
    """An execution's model usage as the server reports it, with its plan's version and origin.

    A server that does not report usage leaves only the planning cost in the plan's provenance.
    """
    usage = execution_usage(Plan.model_validate(detail.plan), {})
    if detail.usage is None:
        return usage
    return dataclasses.replace(
        usage,
        planning=_totals(detail.usage.planning),
        steps={step_id: _totals(t) for step_id, t in detail.usage.steps.items()},
    )


def _totals(out: UsageOut) -> UsageTotals:
    return UsageTotals(
        calls=out.calls,
        input_tokens=out.input_tokens,
        output_tokens=out.output_tokens,
        cost_usd=out.cost_usd,
        unpriced_calls=out.unpriced_calls,
    )


async def show_execution(
    client: BatonClient, execution_id: str
) -> tuple[ExecutionRecord, list[StepRecord], list[StoredEvent], ExecutionUsage]:
    """An execution with its plan, its steps, the recovery rungs its log shows, its usage."""
    detail = await client.get_execution(execution_id)
    record = execution_record(detail)
    steps = [step_record(s) for s in await client.steps(execution_id)]
    events = await all_events(client, execution_id)
    recovery = [e for e in events if shown_in_show(e.event)]
    return record, steps, recovery, usage_record(detail)


# ---- running --------------------------------------------------------------------------------


def _plan_document(plan: Plan) -> dict[str, Any]:
    data: dict[str, Any] = plan.model_dump(mode="json", exclude_defaults=True)
    return data


async def preview(client: BatonClient, source: PlanSource) -> PlanPreview:
    """Plan the request (or validate the plan file) on the server, running nothing."""
    limits = source.budget or Budget()
    tokens, cost = limits.max_tokens, limits.max_cost_usd
    if source.plan is not None:
        answer = await client.orchestrate(
            plan=_plan_document(source.plan), dry_run=True, max_tokens=tokens, max_cost_usd=cost
        )
    else:
        answer = await client.orchestrate(
            source.request or "", dry_run=True, max_tokens=tokens, max_cost_usd=cost
        )
    assert answer.preview is not None, "a dry run answers with a preview"
    return answer.preview


async def start(
    client: BatonClient, state: CliState, source: PlanSource, plan: Plan | None
) -> tuple[str, Plan]:
    """Start an execution on the server; its id and its plan.

    It runs `plan` if given (the one shown and confirmed), else the source's plan file, else
    the source's request, planned by the server (the plan is then shown here).
    """
    limits = source.budget or Budget()
    tokens, cost = limits.max_tokens, limits.max_cost_usd
    if plan is not None:
        # The confirmed plan runs; the request it came from is kept on the record.
        answer = await client.orchestrate(
            source.request, plan=_plan_document(plan), max_tokens=tokens, max_cost_usd=cost
        )
    elif source.plan is not None:
        answer = await client.orchestrate(
            plan=_plan_document(source.plan), max_tokens=tokens, max_cost_usd=cost
        )
    else:
        answer = await client.orchestrate(
            source.request or "", max_tokens=tokens, max_cost_usd=cost
        )
    assert answer.execution is not None, "a run answers with its execution"
    execution_id = answer.execution.id
    if plan is None:
        plan = Plan.model_validate((await client.get_execution(execution_id)).plan)
        state.out.print(plan_tree(plan))
    return execution_id, plan


async def follow(
    client: BatonClient,
    state: CliState,
    execution_id: str,
    plan: Plan,
    *,
    after: int | None = None,
    known: dict[str, StepStatus] | None = None,
) -> ExecutionResult:
    """Show a run live from the server's stream (events after `after`), then its result.

    The run is over for this command when the execution finishes or waits for a person.
    """
    began: datetime | None = None
    ended: datetime | None = None
    with make_view(state.out, plan, known) as view:
        async with aclosing(client.stream(execution_id, last_event_id=after)) as events:
            async for _, event in events:
                view.on_event(event)
                if isinstance(event, ExecutionStarted):
                    began = event.at
                if isinstance(event, ExecutionFinished | ExecutionWaiting):
                    ended = event.at
                    break
    record = execution_record(await client.get_execution(execution_id))
    steps = [step_record(s) for s in await client.steps(execution_id)]
    took = (ended - began).total_seconds() if began and ended else 0.0
    result = execution_result(record, steps, took)
    state.out.print()
    state.out.print(result_view(plan, result))
    return result


async def resume_remote(client: BatonClient, state: CliState, execution_id: str) -> ExecutionResult:
    """``baton resume`` on the server: continue the execution, follow it, show the result."""
    record = await client.get_execution(execution_id)
    plan = Plan.model_validate(record.plan)
    known = {s.step_id: s.status for s in await client.steps(execution_id)}
    after = await last_seq(client, execution_id)
    state.note(f"resuming execution {execution_id} ({record.status.value})")
    await client.resume(execution_id)
    result = await follow(client, state, execution_id, plan, after=after, known=known)
    if result.status is ExecutionStatus.WAITING:
        state.note(
            "decide about each step awaiting approval with `baton approve ID` or `baton reject "
            "ID --reason ...`; steps in doubt are resolved on the server's machine "
            f"(`baton resolve {execution_id} STEP ...`)"
        )
    return result


async def decide(
    client: BatonClient,
    state: CliState,
    approval_id: str,
    *,
    reject_reason: str | None = None,
    edited_inputs: dict[str, Any] | None = None,
    resume: bool = True,
) -> ExecutionResult | None:
    """Approve (or, with `reject_reason`, reject) a gated step on the server.

    With `resume`, the server continues the execution if it waits on this decision, and the
    run is followed here like ``baton resume`` does; None when nothing was followed.
    """
    asked = await client.approval(approval_id)
    execution = await client.get_execution(asked.execution_id)
    waiting = resume and execution.status is ExecutionStatus.WAITING
    after = await last_seq(client, execution.id) if waiting else None
    known = {s.step_id: s.status for s in await client.steps(execution.id)} if waiting else None
    if reject_reason is None:
        approval = await client.approve(approval_id, edited_inputs=edited_inputs, resume=resume)
        edited_note = " with edited inputs" if approval.edited_inputs is not None else ""
        state.out.print(
            f"approved {approval.id}{edited_note}: step {approval.step_id!r} of "
            f"{approval.execution_id}"
        )
    else:
        approval = await client.reject(approval_id, reject_reason, resume=resume)
        state.out.print(
            f"rejected {approval.id}: step {approval.step_id!r} of {approval.execution_id}"
        )
    if not waiting:
        return None
    state.note(f"resuming execution {execution.id} ({execution.status.value})")
    plan = Plan.model_validate(execution.plan)
    return await follow(client, state, execution.id, plan, after=after, known=known)


async def plan_remote(
    client: BatonClient, state: CliState, source: PlanSource, *, as_json: bool
) -> None:
    """``baton plan`` on the server: the plan, its critical path and the server's estimate."""
    answer = await preview(client, source)
    planned = Plan.model_validate(answer.plan)
    if as_json:
        emit_json(_plan_document(planned))
        return
    state.out.print(plan_tree(planned))
    text = Text.assemble(("critical path: ", "bold"), " -> ".join(answer.critical_path), "\n")
    text.append("estimate: ", style="bold")
    if answer.estimated_duration_s is None:
        text.append("unknown")
    else:
        text.append(f"~{fmt_duration(answer.estimated_duration_s)} (the server's estimate)")
    if planned.budget is not None:
        text.append("\nbudget: ", style="bold")
        text.append(budget_text(planned.budget))
    state.out.print(text)


# ---- agents ---------------------------------------------------------------------------------


def agent_json(out: AgentOut, *, detail: bool) -> dict[str, Any]:
    """An agent as ``--json`` prints it (the keys of a local agent's)."""
    exclude = None if detail else {"input_schema", "output_schema", "examples"}
    data: dict[str, Any] = out.model_dump(mode="json", exclude=exclude)
    return data


def agents_table(agents: Sequence[AgentOut]) -> Table:
    """Every agent of the server: name and description, risk, idempotent, source, stats."""
    table = Table(box=None, header_style="bold", pad_edge=False, expand=True)
    table.add_column("agent", overflow="fold", ratio=1)
    table.add_column("risk", no_wrap=True)
    table.add_column("idem.", no_wrap=True)
    table.add_column("source", overflow="fold", max_width=24)
    table.add_column("runs", no_wrap=True, justify="right")
    table.add_column("mean", no_wrap=True, justify="right")
    for a in agents:
        kind, _, where = a.source.partition(":")
        # ``plugin:/long/path/x.py`` -> ``plugin:x.py`` (the full path is in `agents show`).
        source = f"{kind}:{PurePath(where).name}" if kind == "plugin" and where else a.source
        table.add_row(
            Text.assemble((a.name, "cyan"), "\n", (clip(a.description, 160), "dim")),
            a.risk,
            "yes" if a.idempotent else "no",
            Text(source),
            str(a.stats.runs),
            fmt_duration(a.stats.mean_duration_s),
        )
    return table


def agent_view(out: AgentOut) -> RenderableType:
    """One agent of the server: its spec, input and output schemas, examples and stats."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    head.add_row("agent", Text(out.name, style="cyan"))
    head.add_row("description", Text(out.description))
    head.add_row("risk", out.risk)
    head.add_row("idempotent", "yes" if out.idempotent else "no")
    head.add_row("cacheable", "yes" if out.cacheable else "no")
    if out.rate_limit_key:
        head.add_row("rate limit key", Text(out.rate_limit_key))
    if out.tags:
        head.add_row("tags", Text(", ".join(out.tags)))
    head.add_row("source", Text(out.source))
    stats = out.stats
    if stats.runs:
        rate = stats.success_rate or 0.0
        summary = f"{stats.runs} run(s), {rate:.0%} ok, ~{fmt_duration(stats.mean_duration_s)}"
    else:
        summary = "no runs yet"
    head.add_row("stats", summary)
    parts: list[RenderableType] = [head]
    for title, schema in (("inputs", out.input_schema), ("output", out.output_schema)):
        if schema is not None:
            text = json.dumps(schema, indent=2, ensure_ascii=False)
            parts += [Text(f"\n{title} (JSON schema)", style="bold"), Text(text)]
    if out.examples:
        parts.append(Text("\nexamples", style="bold"))
        parts += [Text(f"  {example}") for example in out.examples]
    return Group(*parts)
