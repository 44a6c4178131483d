"""``baton logs search|tail|export|purge``: the log aggregator's records, on the local engine.

Search queries: words (all must occur, whole words, any case), ``prefix*``, ``"a phrase"``
(see `baton.store.logs`). Levels: debug, info, warning, error, critical (``--level`` means
that level or worse). Times (``--since``, ``--until``): ``30s``, ``15m``, ``2h``, ``3d``,
``1w`` ago, or ISO 8601 (UTC unless it says otherwise). Every mistake in these is a short
error with exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Literal

import anyio
import typer
from rich.table import Table
from rich.text import Text

from baton.app import Baton
from baton.cli.serialize import emit_json
from baton.cli.session import CliState, state_of
from baton.errors import UsageError
from baton.events import utcnow
from baton.observability.logs_format import export_lines, jsonl_lines, parse_since, record_json
from baton.store.logs import LogRecord, LogStore, parse_level, parse_query

app = typer.Typer(help="Search, follow and export the logs.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ExecutionOption = Annotated[
    str | None, typer.Option("--execution", "-e", metavar="ID", help="Only this execution's.")
]
LevelOption = Annotated[
    str | None,
    typer.Option(
        "--level", "-l", metavar="LEVEL", help="This level or worse: debug|info|warning|error."
    ),
]
SinceOption = Annotated[
    str | None,
    typer.Option("--since", metavar="TIME", help="Logged since: 15m, 2h, 3d or ISO 8601."),
]
WorkspaceOption = Annotated[
    str | None, typer.Option("--workspace", metavar="ID", help="Only this workspace's.")
]

POLL_S = 0.5
"""How often ``tail`` asks the store for new records."""
SETTLE_S = 2.0
"""How long ``tail --execution`` reads on, with nothing new, after the execution finished."""

_LEVEL_STYLES = {"debug": "dim", "warning": "yellow", "error": "red", "critical": "bold red"}


def _store(baton: Baton) -> LogStore:
    return baton.logs


def _level(text: str | None) -> int | None:
    return None if text is None else parse_level(text)


def _since(text: str | None, option: str = "--since") -> datetime | None:
    if text is None:
        return None
    try:
        return parse_since(text)
    except UsageError as exc:
        raise UsageError(f"{option}: {exc.message}", hint=exc.hint) from None


def _line(record: LogRecord) -> Text:
    name = record.level_name
    where = " ".join(x for x in (record.execution_id, record.step_id) if x)
    return Text.assemble(
        (f"{record.at:%Y-%m-%d %H:%M:%S.%f}"[:-3] + " ", "dim"),
        (f"{name.upper():<8}", _LEVEL_STYLES.get(name, "")),
        (f"{where} " if where else "", "cyan"),
        (f"{record.logger}: ", "dim"),
        record.message,
    )


def _table(records: list[LogRecord]) -> Table:
    table = Table(show_edge=False, pad_edge=False, expand=False)
    for column in ("id", "time (UTC)", "level", "execution", "step", "message"):
        table.add_column(column, overflow="fold")
    for r in records:
        name = r.level_name
        table.add_row(
            str(r.id),
            f"{r.at:%Y-%m-%d %H:%M:%S}",
            Text(name, _LEVEL_STYLES.get(name, "")),
            r.execution_id or "",
            r.step_id or "",
            r.message,
        )
    return table


@app.command("search")
def search(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(help='Words, prefix*, "a phrase" (empty: every record).')
    ] = "",
    execution_id: ExecutionOption = None,
    level: LevelOption = None,
    since: SinceOption = None,
    workspace_id: WorkspaceOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="At most N.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Log records matching a query, newest first."""
    state = state_of(ctx)
    parse_query(query)  # refuse a bad query before opening anything
    min_level, after = _level(level), _since(since)

    async def work(b: Baton) -> list[LogRecord]:
        return await _store(b).search(
            query,
            workspace_id=workspace_id,
            execution_id=execution_id,
            min_level=min_level,
            since=after,
            limit=limit,
        )

    records = state.with_baton(work)
    if as_json:
        emit_json([record_json(r) for r in records])
    elif records:
        state.out.print(_table(records))
    else:
        state.out.print(Text("no log records match", style="dim"))


@app.command("tail")
def tail(
    ctx: typer.Context,
    execution_id: ExecutionOption = None,
    level: LevelOption = None,
    workspace_id: WorkspaceOption = None,
    lines: Annotated[
        int, typer.Option("--lines", min=0, max=1000, help="Show the last N records first.")
    ] = 10,
    stop_after: Annotated[
        int | None,
        typer.Option("--stop-after", min=1, metavar="N", help="Exit after N new records."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Follow the logs as they are written (Ctrl-C to stop).

    With --execution, it stops by itself once that execution has finished and its last
    records have come in.
    """
    state = state_of(ctx)
    min_level = _level(level)

    async def work(b: Baton) -> None:
        store = _store(b)
        finished: Callable[[], Awaitable[bool]] | None = None
        if execution_id is not None:
            await b.store.get_execution(execution_id)  # an unknown id: say so, don't wait
            finished = partial(_has_finished, b, execution_id)
        recent = await store.search(
            workspace_id=workspace_id,
            execution_id=execution_id,
            min_level=min_level,
            limit=max(lines, 1),
        )
        after = recent[0].id if recent else 0
        for record in reversed(recent[:lines]):
            _show(state, record, as_json)
        shown = 0
        follow = _follow(store, after, workspace_id, execution_id, min_level, finished)
        async for record in follow:
            _show(state, record, as_json)
            shown += 1
            if stop_after is not None and shown >= stop_after:
                return

    state.with_baton(work)


async def _follow(
    store: LogStore,
    after: int,
    workspace_id: str | None,
    execution_id: str | None,
    min_level: int | None,
    finished: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[LogRecord]:
    """New records as they are stored; until `finished` says so and the stream has settled.

    A process's log aggregator writes in batches (every half second by default), so the
    last records of an execution can land after it is marked finished: keep reading for
    `SETTLE_S` of quiet after that before stopping.
    """
    quiet_since: float | None = None
    while True:
        batch = await store.tail(
            after, workspace_id=workspace_id, execution_id=execution_id, min_level=min_level
        )
        for record in batch:
            yield record
        if batch:
            after, quiet_since = batch[-1].id, None
            continue
        if finished is not None and await finished():
            now = anyio.current_time()
            if quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= SETTLE_S:
                return
        await anyio.sleep(POLL_S)


async def _has_finished(b: Baton, execution_id: str) -> bool:
    return (await b.store.get_execution(execution_id)).status.finished


def _show(state: CliState, record: LogRecord, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(jsonl_lines(record))
        sys.stdout.flush()
    else:
        state.out.print(_line(record), soft_wrap=True)


@app.command("export")
def export(
    ctx: typer.Context,
    fmt: Annotated[
        Literal["jsonl", "csv"], typer.Option("--format", "-f", help="jsonl or csv.")
    ] = "jsonl",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here (default: stdout)."),
    ] = None,
    query: Annotated[str, typer.Option("--query", "-q", help="Only records matching.")] = "",
    execution_id: ExecutionOption = None,
    level: LevelOption = None,
    since: SinceOption = None,
    until: Annotated[
        str | None, typer.Option("--until", metavar="TIME", help="Logged before this time.")
    ] = None,
    workspace_id: WorkspaceOption = None,
) -> None:
    """Every matching record, oldest first, as JSON lines or CSV."""
    state = state_of(ctx)
    parse_query(query)
    min_level, after, before = _level(level), _since(since), _since(until, "--until")

    async def work(b: Baton) -> int:
        count = 0

        async def records() -> AsyncIterator[LogRecord]:
            nonlocal count
            async for record in _store(b).export(
                query,
                workspace_id=workspace_id,
                execution_id=execution_id,
                min_level=min_level,
                since=after,
                until=before,
            ):
                count += 1
                yield record

        chunks = export_lines(records(), fmt)
        if output is None:
            async for chunk in chunks:
                sys.stdout.write(chunk)
            sys.stdout.flush()
        else:
            async with await anyio.open_file(output, "w", encoding="utf-8", newline="") as f:
                async for chunk in chunks:
                    await f.write(chunk)
        return count

    try:
        count = state.with_baton(work)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None
    where = f" to {output}" if output is not None else ""
    state.note(f"exported {count} log record(s){where}")


@app.command("purge")
def purge(
    ctx: typer.Context,
    older_than_days: Annotated[
        float | None,
        typer.Option(
            "--older-than-days",
            min=0,
            help="Records logged longer ago (default: BATON_LOG_RETENTION_DAYS).",
        ),
    ] = None,
) -> None:
    """Delete old log records (the server also does it every hour)."""
    state = state_of(ctx)
    days = older_than_days if older_than_days is not None else state.settings().log_retention_days
    if days is None:
        raise UsageError(
            "say which log records to purge",
            hint="pass --older-than-days N, or set BATON_LOG_RETENTION_DAYS",
        )
    cutoff = utcnow() - timedelta(days=days)

    async def work(b: Baton) -> int:
        return await _store(b).purge(cutoff)

    count = state.with_baton(work)
    state.out.print(f"purged {count} log record(s) logged before {cutoff:%Y-%m-%d %H:%M} UTC")
