from __future__ import annotations

import pytest
from pydantic import BaseModel

from baton.agents import AgentContext, AgentRegistry, Risk, agent
from baton.errors import UnknownAgentError, UsageError

pytestmark = pytest.mark.anyio


async def test_schemas_come_from_the_signature() -> None:
    @agent(risk=Risk.WRITE, idempotent=False)
    async def add(a: int, b: int = 2) -> int:
        """Add two numbers.

        More text that is not part of the description.
        """
        return a + b

    spec = add.spec
    assert spec.name == "add"
    assert spec.description == "Add two numbers."
    assert (spec.risk, spec.idempotent) == (Risk.WRITE, False)
    schema = spec.input_model.model_json_schema()
    assert schema["required"] == ["a"]
    assert schema["properties"]["b"]["default"] == 2
    assert spec.output_model.model_json_schema()["required"] == ["result"]
    out = await add.run(spec.input_model(a=1), AgentContext(execution_id="e", step_id="s"))
    assert out.model_dump() == {"result": 3}


class In(BaseModel):
    text: str


class Out(BaseModel):
    text: str
    step: str


async def test_model_parameters_and_context_are_passed_through() -> None:
    @agent("tag.step", description="Tag text with the step id.")
    async def tag(inputs: In, ctx: AgentContext) -> Out:
        return Out(text=inputs.text, step=ctx.step_id)

    assert tag.spec.input_model is In
    out = await tag.run(In(text="x"), AgentContext(execution_id="e", step_id="s7"))
    assert out == Out(text="x", step="s7")


def test_mistakes_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="not an async function"):
        agent(description="x")(lambda: 1)  # type: ignore[arg-type, return-value]

    async def untyped(a) -> int:  # type: ignore[no-untyped-def]
        return 1

    with pytest.raises(UsageError, match="no type annotation"):
        agent(description="x")(untyped)

    async def nodoc(a: int) -> int:
        return a

    with pytest.raises(UsageError, match="no description"):
        agent()(nodoc)


def test_unresolvable_annotations_are_explained() -> None:
    async def local(x: NotDefinedAnywhere) -> int:  # type: ignore[name-defined]  # noqa: F821
        return 1

    with pytest.raises(UsageError, match="cannot resolve the type annotations"):
        agent(description="x")(local)


def test_registry_refuses_duplicates_and_suggests_names() -> None:
    @agent(description="x")
    async def files_read() -> int:
        return 1

    registry = AgentRegistry()
    registry.register(files_read)
    with pytest.raises(UsageError, match="already registered"):
        registry.register(files_read)
    with pytest.raises(UnknownAgentError) as info:
        registry.get("files_raed")
    assert "did you mean 'files_read'" in str(info.value)
    with pytest.raises(UsageError, match="not an agent"):
        registry.register(object())  # type: ignore[arg-type]


def test_stats_accumulate() -> None:
    @agent(description="x")
    async def thing() -> int:
        return 1

    registry = AgentRegistry()
    registry.register(thing)
    registry.seed("thing", successes=2, failures=1, mean_duration_s=1.5)
    registry.record("thing", ok=False, duration_s=3.0, error="boom")
    stats = registry.stats("thing")
    assert (stats.runs, stats.successes, stats.failures) == (4, 2, 2)
    assert stats.mean_duration_s == 1.5
    assert stats.success_rate == 0.5
    assert stats.last_error == "boom"
