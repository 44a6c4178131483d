"""``baton cache stats|clear|purge``: look after the smart cache kept in the database.

Like ``baton stats``, these read the database directly, without opening the engine (no agents
are discovered and nothing runs), so they work whether or not ``BATON_CACHE_ENABLED`` is on;
with ``BATON_URL`` set they refuse, since a server's cache lives in its own database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio
import typer
from rich.table import Table
from rich.text import Text

from baton.cli.serialize import emit_json
from baton.cli.session import CliState, state_of
from baton.errors import UsageError
from baton.store.result_cache import CacheStats

if TYPE_CHECKING:
    from baton.store.result_cache import ResultCacheStore

T = TypeVar("T")

app = typer.Typer(help="The smart cache: reused outputs of cacheable agents' steps.")

WorkspaceOption = Annotated[
    str, typer.Option("--workspace", metavar="ID", help="The workspace whose cache it is.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _with_store(
    state: CliState, command: str, work: Callable[[ResultCacheStore], Awaitable[T]]
) -> T:
    """Open the configured database (schema made or checked as the engine does), run `work`."""
    from baton.store.sql.database import open_database
    from baton.store.sql.result_cache import SqlResultCacheStore
    from baton.store.sql.schema import create_schema

    settings = state.settings()
    if settings.url:
        raise UsageError(
            f"`baton cache {command}` works on the local database, and BATON_URL is set "
            f"({settings.url})",
            hint="run it on the server's machine, or unset BATON_URL "
            f"(`env -u BATON_URL baton cache {command}`)",
        )
    if settings.database_url is None:
        settings.prepare_data_dir()
    url = settings.resolved_database_url

    async def main() -> T:
        db = open_database(url, busy_timeout_s=settings.database_busy_timeout_s)
        try:
            await create_schema(db)
            return await work(SqlResultCacheStore(db))
        finally:
            await db.dispose()

    return anyio.run(main)


def _check_workspace(workspace: str) -> None:
    if not workspace.strip():
        raise UsageError("--workspace must not be empty", hint="the default is 'default'")


def stats_json(workspace: str, stats: CacheStats) -> dict[str, Any]:
    """The ``--json`` shape of ``baton cache stats`` (keys kept stable for scripts)."""
    return {
        "workspace": workspace,
        "entries": stats.entries,
        "hits": stats.hits,
        "agents": {a: {"entries": s.entries, "hits": s.hits} for a, s in stats.by_agent.items()},
    }


@app.command("stats")
def cache_stats(
    ctx: typer.Context, workspace: WorkspaceOption = "default", as_json: JsonOption = False
) -> None:
    """Entries and hits of the workspace's cache, in all and per agent.

    Entries past their TTL count until `baton cache purge` removes them.
    """
    state = state_of(ctx)
    _check_workspace(workspace)
    found = _with_store(state, "stats", lambda store: store.stats(workspace))
    if as_json:
        emit_json(stats_json(workspace, found))
        return
    state.out.print(
        Text.assemble(
            ("cache of workspace ", ""),
            (workspace, "bold"),
            f": {found.entries} entr{'y' if found.entries == 1 else 'ies'}, {found.hits} hit(s)",
        )
    )
    if not found.by_agent:
        state.out.print(Text("nothing cached yet", style="dim"))
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("agent", "entries", "hits"):
        table.add_column(column, justify="left" if column == "agent" else "right")
    for agent, s in found.by_agent.items():
        table.add_row(Text(agent), str(s.entries), str(s.hits))
    state.out.print(table)


@app.command("clear")
def cache_clear(
    ctx: typer.Context,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent", metavar="NAME", help="Only this agent's entries (e.g. text.upper)."
        ),
    ] = None,
    workspace: WorkspaceOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Drop the workspace's cached outputs (only one agent's with --agent)."""
    state = state_of(ctx)
    _check_workspace(workspace)
    if agent is not None and not agent.strip():
        raise UsageError(
            "--agent needs an agent's name", hint="see `baton cache stats` for cached agents"
        )
    removed = _with_store(state, "clear", lambda store: store.clear(workspace, agent))
    if as_json:
        emit_json({"workspace": workspace, "agent": agent, "removed": removed})
        return
    whose = f"agent {agent}'s" if agent is not None else "all"
    state.out.print(f"removed {removed} cached output(s): {whose} in workspace {workspace}")


@app.command("purge")
def cache_purge(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Drop every expired entry, in every workspace (expired ones are never used anyway)."""
    state = state_of(ctx)
    now = datetime.now(UTC)
    removed = _with_store(state, "purge", lambda store: store.purge_expired(now))
    if as_json:
        emit_json({"removed": removed})
        return
    state.out.print(f"purged {removed} expired cached output(s)")
