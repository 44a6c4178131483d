from __future__ import annotations

import anyio
import pytest
from pydantic import BaseModel

from baton.agents import AgentRegistry, agent
from baton.errors import AgentError


class Text(BaseModel):
    text: str


@agent(description="Return the given text.")
async def echo(text: str) -> Text:
    return Text(text=text)


@agent(description="Upper-case a text.")
async def shout(text: str) -> Text:
    return Text(text=text.upper())


@agent(description="Sleep for a while, then return how long.")
async def nap(seconds: float = 0.0) -> float:
    await anyio.sleep(seconds)
    return seconds


@agent(description="Always fails, not retryable.")
async def broken(text: str = "") -> Text:
    raise AgentError("broken on purpose")


@pytest.fixture
def registry() -> AgentRegistry:
    r = AgentRegistry()
    for a in (echo, shout, nap, broken):
        r.register(a)
    return r
