"""``baton db upgrade|status``: the database's schema revision.

These open the database on their own, without `Baton.open`, which refuses a schema it
cannot use: ``upgrade`` is how an outdated one gets fixed, and ``status`` reports any state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio
import typer
from rich.table import Table
from rich.text import Text

from baton.cli.serialize import emit_json
from baton.cli.session import state_of
from baton.settings import Settings

if TYPE_CHECKING:
    from baton.store.sql.database import Database
    from baton.store.sql.migrate import SchemaState

T = TypeVar("T")

app = typer.Typer(help="The database: schema revision and upgrades.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Open the configured database (creating the data folder), run `work`, close it."""
    from baton.store.sql.database import open_database

    if settings.database_url is None:
        settings.prepare_data_dir()
    url = settings.resolved_database_url

    async def main() -> T:
        db = open_database(url, busy_timeout_s=settings.database_busy_timeout_s)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return anyio.run(main)


@app.command("upgrade")
def upgrade_database(ctx: typer.Context) -> None:
    """Migrate the schema to the revision this baton needs (safe to run again)."""
    from baton.store.sql.migrate import Upgrade, upgrade

    state = state_of(ctx)

    async def work(db: Database) -> tuple[str, Upgrade]:
        return db.label, await upgrade(db)

    label, done = _with_database(state.settings(), work)
    if done.changed:
        state.out.print(
            f"upgraded the database schema from {done.before or '(empty)'} to {done.after} "
            f"({label})",
            soft_wrap=True,
        )
    else:
        state.out.print(
            f"the database schema is up to date at {done.after} ({label})", soft_wrap=True
        )


@app.command("status")
def database_status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The schema revision of the database, the one this baton needs, and what to do."""
    from baton.store.sql.migrate import schema_state

    state = state_of(ctx)

    async def work(db: Database) -> tuple[str, SchemaState]:
        return db.label, await schema_state(db)

    label, schema = _with_database(state.settings(), work)
    if as_json:
        emit_json(_status_json(label, schema))
        return
    table = Table.grid(padding=(0, 2))
    table.add_row(Text("database", style="bold"), label)
    table.add_row(Text("revision", style="bold"), schema.current or "(none)")
    table.add_row(Text("needed", style="bold"), schema.head)
    table.add_row(Text("state", style="bold"), _verdict(schema))
    state.out.print(table)


def _status_json(label: str, schema: SchemaState) -> dict[str, Any]:
    return {
        "database": label,
        "current": schema.current,
        "head": schema.head,
        "up_to_date": schema.up_to_date,
        "empty": schema.empty,
        "known": schema.known,
        "pending": list(schema.pending),
    }


def _verdict(schema: SchemaState) -> Text:
    if schema.up_to_date:
        return Text("up to date", style="green")
    if schema.empty:
        return Text("empty: baton creates the schema when it first opens it")
    if schema.current is None:
        return Text("baton tables without a revision: move the database away", style="red")
    if not schema.known:
        return Text("upgraded by a newer baton: upgrade baton", style="red")
    pending = ", ".join(schema.pending)
    return Text(f"outdated: run `baton db upgrade` (applies {pending})", style="yellow")
