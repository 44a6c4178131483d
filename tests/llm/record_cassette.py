"""Re-record ``cassettes/gemini_weather.jsonl`` against the fake server.

Run from the repository root: ``.venv/bin/python tests/llm/record_cassette.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))


from baton.llm.protocol import CallScope  # noqa: E402
from support.fake_llm import Weather, client, fake_llm, status, value  # noqa: E402


async def main() -> None:
    """Record a 429, a rejected answer and an accepted one."""
    cassette = HERE / "cassettes" / "gemini_weather.jsonl"
    cassette.unlink(missing_ok=True)
    script = (
        status(429, retry_after="0"),
        value({"city": "Rome", "celsius": 3}, input_tokens=52, output_tokens=9),
        value({"city": "Rome", "celsius": 21}, input_tokens=75, output_tokens=9),
    )
    async with fake_llm(*script) as fake:
        model = client(fake, "gemini", record=cassette)
        await model.generate(
            instructions="Answer with the weather.",
            prompt="weather in Rome?",
            output_type=Weather,
            scope=CallScope(purpose="plan"),
            check=lambda w: [] if w.celsius > 10 else ["too cold"],
        )
        await model.aclose()


if __name__ == "__main__":
    anyio.run(main)
