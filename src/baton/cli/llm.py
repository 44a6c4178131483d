"""``baton llm check``: which language model is configured, and whether it answers."""

from __future__ import annotations

import time

import anyio
import typer
from rich.table import Table
from rich.text import Text

from baton.cli.session import state_of

app = typer.Typer(help="The language model baton plans with.", no_args_is_help=True)

OFFLINE = (
    "no language model is configured: baton uses the offline planner "
    "(set GEMINI_API_KEY, OPENAI_API_KEY, ANTHROPIC_API_KEY or BATON_LLM_BASE_URL to use one)"
)


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Show the configured provider and model, and make a one-token call to it.

    Exits 1 with the provider's error when the call fails; the API key is never shown.
    """
    from baton.llm.config import resolve_llm_config
    from baton.llm.factory import client_for
    from baton.llm.protocol import CallScope

    state = state_of(ctx)
    config = resolve_llm_config(state.settings())
    if config is None:
        state.out.print(OFFLINE, soft_wrap=True)
        return
    table = Table.grid(padding=(0, 2))
    table.add_row(Text("provider", style="bold"), config.provider)
    table.add_row(Text("model", style="bold"), config.model)
    table.add_row(Text("base URL", style="bold"), config.base_url or "(the provider's)")
    table.add_row(
        Text("key", style="bold"),
        f"from {config.key_variable}" if config.key_variable else "(none)",
    )
    if config.replay is not None:
        table.add_row(Text("replaying", style="bold"), str(config.replay))
    if config.record is not None:
        table.add_row(Text("recording", style="bold"), str(config.record))
    state.out.print(table)

    async def call() -> tuple[str, float, CallScope]:
        client = client_for(config)
        scope = CallScope(purpose="check")
        started = time.perf_counter()
        try:
            answer = await client.complete(
                instructions="Reply with the single word: ok.", prompt="ok?", scope=scope
            )
        finally:
            await client.aclose()
        return answer, time.perf_counter() - started, scope

    answer, latency_s, scope = anyio.run(call)
    spent = scope.spent
    cost = f", ${spent.cost_usd:.6f}" if spent.unpriced_calls == 0 else ""
    state.out.print(
        Text.assemble(
            ("ok", "bold green"),
            f": answered in {latency_s:.2f} s, {spent.input_tokens} tokens in, "
            f"{spent.output_tokens} out{cost} ({answer.strip()[:40]!r})",
        ),
        soft_wrap=True,
    )
