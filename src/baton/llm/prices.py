"""The price table (``prices.toml``, shipped in the package): what a model call costs."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["Price", "cost_usd", "load_prices", "price_of"]

_PER = 1_000_000


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """What `input_tokens` in and `output_tokens` out cost, in US dollars."""
        return (input_tokens * self.input + output_tokens * self.output) / _PER


def parse_prices(text: str) -> dict[tuple[str, str], Price]:
    """The prices in a TOML table of ``[provider."model"]`` with ``input`` and ``output``.

    Raises:
        ValueError: the text is not such a table.
    """
    data: dict[str, Any] = tomllib.loads(text)
    table: dict[tuple[str, str], Price] = {}
    for provider, models in data.items():
        if not isinstance(models, dict):
            raise ValueError(f"prices: [{provider}] must be a table of models")
        for model, entry in models.items():  # pyright: ignore[reportUnknownVariableType]
            try:
                table[provider, str(model)] = Price(  # pyright: ignore[reportUnknownArgumentType]
                    input=float(entry["input"]), output=float(entry["output"])
                )
            except (KeyError, TypeError, ValueError):
                raise ValueError(
                    f"prices: {provider}.{model} needs numbers `input` and `output`"
                ) from None
    return table


@functools.cache
def load_prices() -> dict[tuple[str, str], Price]:
    """The shipped price table, by ``(provider, model)`` (read once)."""
    text = resources.files("baton.llm").joinpath("prices.toml").read_text(encoding="utf-8")
    return parse_prices(text)


def price_of(provider: str, model: str) -> Price | None:
    """The model's price, or None when the table does not have it."""
    return load_prices().get((provider, model))


def cost_usd(provider: str, model: str, input_tokens: int, output_tokens: int) -> float | None:
    """What a call cost in US dollars, or None when the model has no price in the table."""
    price = price_of(provider, model)
    return None if price is None else price.cost(input_tokens, output_tokens)
