"""Language models: one client over the providers users run, with usage, cost and budgets.

`TextModel` is what planners and agents ask for; `baton.llm.client.ModelClient` is the one
implementation (pydantic-ai over Gemini, OpenAI-compatible endpoints and Anthropic). Every
call is counted (`ModelCall`), priced from one table, and checked against the execution's
`Budget` before it is made.
"""

from baton.llm.protocol import CallScope as CallScope
from baton.llm.protocol import Generated as Generated
from baton.llm.protocol import TextModel as TextModel
from baton.llm.usage import Budget as Budget
from baton.llm.usage import ModelCall as ModelCall
from baton.llm.usage import UsageTotals as UsageTotals

__all__ = ["Budget", "CallScope", "Generated", "ModelCall", "TextModel", "UsageTotals"]
