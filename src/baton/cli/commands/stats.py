"""``baton stats``: the seed's six key metrics for a time window, read from the database.

It opens the local engine (nothing runs: the registry is needed to know which agents are
cacheable) and reads its database with a few aggregate queries (see
`baton.observability.key_metrics` and `baton.observability.key_usage`). It is an operator's
view of the local database, every workspace by default; with ``BATON_URL`` set it refuses,
since the figures of a server live in its own database (scrape its ``/metrics`` instead).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from baton.cli.render import fmt_duration
from baton.cli.serialize import emit_json
from baton.cli.session import state_of
from baton.errors import UsageError
from baton.events import ExecutionStatus
from baton.observability.key_metrics import KeyMetrics, TokenUsage, parse_since

if TYPE_CHECKING:
    from baton.app import Baton

NO_TOKENS = "n/a (no model calls recorded)"
NO_CACHE = "n/a (no step of a cacheable agent succeeded)"


def stats(
    ctx: typer.Context,
    since: Annotated[
        str,
        typer.Option(
            "--since",
            help="Window start: a span back from now (30m, 24h, 7d, 2w) or an ISO date or "
            "time (in BATON_TIMEZONE unless it has an offset).",
        ),
    ] = "24h",
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", metavar="ID", help="Only this workspace (default: all)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Key metrics of the executions created since --since (all workspaces by default).

    Execution count, success rate, average duration, token usage, cache hit rate and error
    rate, read from the database.
    """
    state = state_of(ctx)
    settings = state.settings()
    if settings.url:
        raise UsageError(
            f"`baton stats` reads the local database, and BATON_URL is set ({settings.url})",
            hint="run it on the server's machine, scrape the server's /metrics, or unset "
            "BATON_URL (`env -u BATON_URL baton stats`)",
        )
    now = datetime.now(UTC)
    start = parse_since(since, now=now, timezone=settings.timezone)

    async def work(b: Baton) -> KeyMetrics:
        return await b.key_metrics(since=start, until=now, workspace_id=workspace)

    found = state.with_baton(work)
    if as_json:
        emit_json(stats_json(found))
        return
    state.out.print(_view(found, since))


def stats_json(m: KeyMetrics) -> dict[str, Any]:
    """The ``--json`` shape (keys kept stable for scripts)."""
    return {
        "since": m.since.isoformat(),
        "until": m.until.isoformat(),
        "workspace": m.workspace_id,
        "executions": {
            "total": m.execution_count,
            "by_status": {s.value: n for s, n in m.executions.items()},
        },
        "success_rate": m.success_rate,
        "finished": m.finished,
        "average_duration_s": m.average_duration_s,
        "tokens": None
        if m.tokens is None
        else {
            "input": m.tokens.input_tokens,
            "output": m.tokens.output_tokens,
            "total": m.tokens.total,
            "cost_usd": m.tokens.cost_usd,
            "calls": m.tokens.calls,
            "unpriced_calls": m.tokens.unpriced_calls,
        },
        "cache_hit_rate": m.cache_hit_rate,
        "error_rate": m.error_rate,
        "steps": {"succeeded": m.steps_succeeded, "failed": m.steps_failed},
        "errors_per_minute": m.errors_per_minute,
    }


def _view(m: KeyMetrics, since: str) -> Group:
    where = f"workspace {m.workspace_id}" if m.workspace_id else "every workspace"
    title = f"executions created since {m.since:%Y-%m-%d %H:%M} UTC ({since}), {where}"
    table = Table.grid(padding=(0, 2))
    counts = ", ".join(f"{s.value} {n}" for s, n in m.executions.items() if n)
    table.add_row(_key("executions"), f"{m.execution_count}" + (f" ({counts})" if counts else ""))
    if m.success_rate is None:
        table.add_row(_key("success rate"), "n/a (none finished)")
    else:
        succeeded = m.executions[ExecutionStatus.SUCCEEDED]
        table.add_row(
            _key("success rate"), f"{_pct(m.success_rate)} ({succeeded} of {m.finished} finished)"
        )
    table.add_row(
        _key("average duration"),
        "n/a (none finished)"
        if m.average_duration_s is None
        else f"{fmt_duration(m.average_duration_s)} (finished executions)",
    )
    tokens = m.tokens
    table.add_row(_key("token usage"), NO_TOKENS if tokens is None else _tokens(tokens))
    rate, cache = m.cache_hit_rate, m.cache
    table.add_row(
        _key("cache hit rate"),
        NO_CACHE
        if rate is None or cache is None
        else f"{_pct(rate)} ({cache.hits} of {cache.hits + cache.misses} cacheable steps)",
    )
    ran = m.steps_succeeded + m.steps_failed
    table.add_row(
        _key("error rate"),
        "n/a (no step ran)"
        if m.error_rate is None
        else f"{_pct(m.error_rate)} of steps ({m.steps_failed} of {ran} failed), "
        f"{m.errors_per_minute:.3g} errors/min",
    )
    return Group(Text(title), table)


def _tokens(t: TokenUsage) -> str:
    text = f"{t.total} ({t.input_tokens} in, {t.output_tokens} out"
    if t.cost_usd is not None:
        text += f", ${t.cost_usd:.4f}"
    if t.unpriced_calls:
        text += f"; {t.unpriced_calls} of {t.calls} calls unpriced"
    return text + ")"


def _key(name: str) -> Text:
    return Text(name, style="bold")


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.1f}%"
