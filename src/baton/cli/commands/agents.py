"""``baton agents list|show``."""

from __future__ import annotations

from typing import Annotated

import typer

from baton.agents.registry import AgentStats, RegisteredAgent
from baton.app import Baton
from baton.cli import remote
from baton.cli.serialize import agent_json, emit_json
from baton.cli.session import state_of
from baton.cli.tables import agent_view, agents_table

app = typer.Typer(help="The agents baton can use.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.command("list")
def list_agents(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every agent found: name, risk, idempotent, source, description, live stats."""
    state = state_of(ctx)

    async def work(b: Baton) -> list[tuple[RegisteredAgent, AgentStats]]:
        return [(b.registry.entry(n), b.registry.stats(n)) for n in b.registry.names()]

    if state.remote:
        found = state.with_client(lambda c: c.agents())
        if as_json:
            emit_json([remote.agent_json(a, detail=False) for a in found])
        else:
            state.out.print(remote.agents_table(found))
        return
    entries = state.with_baton(work)
    if as_json:
        emit_json([agent_json(e, s, detail=False) for e, s in entries])
    else:
        state.out.print(agents_table(entries))


@app.command("show")
def show_agent(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Agent name, e.g. files.read.")],
    as_json: JsonOption = False,
) -> None:
    """One agent: spec, input and output JSON schemas, examples and stats."""
    state = state_of(ctx)

    async def work(b: Baton) -> tuple[RegisteredAgent, AgentStats]:
        return b.registry.entry(name), b.registry.stats(name)

    if state.remote:
        found = state.with_client(lambda c: c.agent(name))
        if as_json:
            emit_json(remote.agent_json(found, detail=True))
        else:
            state.out.print(remote.agent_view(found))
        return
    entry, stats = state.with_baton(work)
    if as_json:
        emit_json(agent_json(entry, stats, detail=True))
    else:
        state.out.print(agent_view(entry, stats))
