"""The smart cache's key: stable for equal inputs, different for anything that matters."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from baton.agents import agent
from baton.agents.protocol import AgentSpec
from baton.core.caching import ResultCache, cache_key, canonical_json, schema_fingerprint
from baton.store.result_cache import MemoryResultCacheStore


class In(BaseModel):
    text: str
    n: int = 0


class InV2(BaseModel):
    text: str
    n: int = 0
    loud: bool = False


class Out(BaseModel):
    text: str


def spec(name: str = "text.up", input_model: type[BaseModel] = In) -> AgentSpec:
    return AgentSpec(
        name=name, description="", input_model=input_model, output_model=Out, cacheable=True
    )


def key(workspace: str = "default", s: AgentSpec | None = None, **inputs: object) -> str:
    made = ResultCache(MemoryResultCacheStore()).key(workspace, s or spec(), inputs)
    assert made is not None
    return made


def test_canonical_json_sorts_keys_at_every_depth_without_whitespace() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1, {"y": 2, "x": 1}], "c": None}}) == (
        '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}'
    )


def test_the_key_is_a_sha256_hex_and_does_not_depend_on_key_order() -> None:
    first = key(text="hi", n=2)
    second = ResultCache(MemoryResultCacheStore()).key("default", spec(), {"n": 2, "text": "hi"})

    assert first == second
    assert second is not None
    assert len(first) == 64
    assert int(first, 16) >= 0


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(lambda: key("ws_b", text="hi", n=2), id="workspace"),
        pytest.param(lambda: key(s=spec("text.down"), text="hi", n=2), id="agent"),
        pytest.param(lambda: key(text="hi", n=3), id="input value"),
        pytest.param(lambda: key(text="hi", n=2, extra=None), id="input field"),
        pytest.param(lambda: key(s=spec(input_model=InV2), text="hi", n=2), id="schema"),
    ],
)
def test_the_key_changes_with_whatever_could_change_the_output(other: object) -> None:
    assert callable(other)
    assert other() != key(text="hi", n=2)


def test_parts_cannot_run_into_each_other() -> None:
    fp = schema_fingerprint(In, Out)

    assert cache_key("ab", "c", fp, {}) != cache_key("a", "bc", fp, {})


def test_the_fingerprint_follows_the_output_schema_too() -> None:
    class Out2(BaseModel):
        text: str
        words: int

    assert schema_fingerprint(In, Out) != schema_fingerprint(In, Out2)
    assert schema_fingerprint(In, Out) == schema_fingerprint(In, Out)


def test_decorated_agents_get_distinct_keys_per_schema() -> None:
    @agent(name="a.one", description="x", cacheable=True)
    async def one(text: str) -> Out:
        return Out(text=text)

    @agent(name="a.one", description="x", cacheable=True)
    async def one_v2(text: str, loud: bool = False) -> Out:
        return Out(text=text)

    cache = ResultCache(MemoryResultCacheStore())
    assert cache.key("default", one.spec, {"text": "x"}) != cache.key(
        "default", one_v2.spec, {"text": "x"}
    )


def test_a_ttl_that_is_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match="ttl_s must be positive"):
        ResultCache(MemoryResultCacheStore(), ttl_s=0)


class Opaque:
    """A type pydantic cannot describe as a JSON schema."""


class OpaqueIn(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    thing: Opaque | None = None


def test_an_agent_whose_schema_cannot_be_made_gets_no_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = ResultCache(MemoryResultCacheStore())
    odd = spec("odd", input_model=OpaqueIn)

    assert cache.key("default", odd, {}) is None
    assert cache.key("default", odd, {}) is None
    assert caplog.text.count("odd's results cannot be cached") == 1  # said once
    assert cache.key("default", spec(), {"text": "x"}) is not None
