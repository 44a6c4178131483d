"""The ``--json`` shapes: plain lists and dicts whose keys are kept stable for scripts."""

from __future__ import annotations

import json
from typing import Any

import typer
from pydantic_core import to_jsonable_python

from baton.agents.registry import AgentStats, RegisteredAgent
from baton.core.spending import ExecutionUsage
from baton.events import EVENT_ADAPTER
from baton.llm.usage import UsageTotals
from baton.store.records import ExecutionRecord, StepRecord, StoredEvent


def emit_json(data: Any) -> None:
    """Print `data` as indented JSON on stdout (never through Rich, so nothing is wrapped)."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def execution_json(record: ExecutionRecord, *, with_plan: bool = False) -> dict[str, Any]:
    """An execution row; the plan is included only when asked (it can be large)."""
    data: dict[str, Any] = to_jsonable_python(record)
    if not with_plan:
        data.pop("plan", None)
    return data


def step_json(record: StepRecord) -> dict[str, Any]:
    """A step row, output included."""
    data: dict[str, Any] = to_jsonable_python(record)
    return data


def event_json(stored: StoredEvent) -> dict[str, Any]:
    """An event as serialised everywhere else (`EVENT_ADAPTER`), plus its log position."""
    return {"seq": stored.seq, **EVENT_ADAPTER.dump_python(stored.event, mode="json")}


def totals_json(totals: UsageTotals) -> dict[str, Any]:
    """Model-call totals (the keys of the API's ``UsageOut``)."""
    return {
        "calls": totals.calls,
        "input_tokens": totals.input_tokens,
        "output_tokens": totals.output_tokens,
        "cost_usd": totals.cost_usd,
        "unpriced_calls": totals.unpriced_calls,
    }


def usage_json(usage: ExecutionUsage) -> dict[str, Any]:
    """An execution's model usage: planning, each step, the total (as the API's)."""
    return {
        "planning": totals_json(usage.planning),
        "steps": {step_id: totals_json(t) for step_id, t in usage.steps.items()},
        "total": totals_json(usage.total),
    }


def stats_json(stats: AgentStats) -> dict[str, Any]:
    """Live stats of an agent."""
    return {
        "runs": stats.runs,
        "successes": stats.successes,
        "failures": stats.failures,
        "success_rate": stats.success_rate,
        "mean_duration_s": stats.mean_duration_s,
        "last_error": stats.last_error,
    }


def agent_json(entry: RegisteredAgent, stats: AgentStats, *, detail: bool) -> dict[str, Any]:
    """An agent's spec and stats; `detail` adds its schemas and examples."""
    spec = entry.agent.spec
    data: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description,
        "risk": spec.risk.value,
        "idempotent": spec.idempotent,
        "cacheable": spec.cacheable,
        "rate_limit_key": spec.rate_limit_key,
        "tags": list(spec.tags),
        "source": entry.source,
        "stats": stats_json(stats),
    }
    if detail:
        data["input_schema"] = spec.input_model.model_json_schema()
        data["output_schema"] = spec.output_model.model_json_schema()
        data["examples"] = list(spec.examples)
    return data
