"""Language models: one client over the providers users run, with usage, cost and budgets.

`TextModel` is what planners and agents ask for; `baton.llm.client.ModelClient` is the one
implementation (pydantic-ai over Gemini, OpenAI-compatible endpoints and Anthropic). Every
call is counted (`ModelCall`), priced from one table, and checked against the execution's
`Budget` before it is made.

- `baton.llm.config`: the provider, model and key resolved from settings and environment.
- `baton.llm.factory`: `build_model_client(settings)` (None: no provider, plan offline).
- `baton.llm.client`: `ModelClient`, `ModelCallObserver`, the span factory it takes.
- `baton.llm.providers`, `baton.llm.transport`: the pydantic-ai model per provider, over one
  HTTP client with bounded retries; `baton.llm.replay`: record and replay cassettes.
- `baton.llm.prices` (``prices.toml``): what calls cost; `baton.llm.recording`: calls of
  executions go to the `ModelCallStore`.

Only `protocol` and `usage` are imported here: the rest loads pydantic-ai and the SDKs.
"""

from baton.llm.protocol import CallScope as CallScope
from baton.llm.protocol import Generated as Generated
from baton.llm.protocol import TextModel as TextModel
from baton.llm.usage import Budget as Budget
from baton.llm.usage import ModelCall as ModelCall
from baton.llm.usage import UsageTotals as UsageTotals

__all__ = ["Budget", "CallScope", "Generated", "ModelCall", "TextModel", "UsageTotals"]
