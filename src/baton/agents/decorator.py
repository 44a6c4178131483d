"""Turn a typed async function into an agent.

```python
@agent(description="Add two numbers.")
async def add(a: int, b: int = 0) -> int:
    return a + b
```

The input schema comes from the parameters (a single pydantic-model parameter is used as is),
the output schema from the return annotation (a pydantic model as is; anything else is wrapped
as ``{"result": value}``). A parameter annotated `AgentContext` receives the context.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast, get_type_hints

from pydantic import BaseModel, ConfigDict, create_model

from baton.agents.protocol import (
    AgentContext,
    AgentSpec,
    Extraction,
    ExtractionContext,
    InputExtractor,
    Risk,
)
from baton.errors import ErrorClass, Rung, UsageError

AgentFunction = Callable[..., Awaitable[Any]]


class FunctionAgent:
    """An agent backed by an async function (what `agent` returns)."""

    def __init__(
        self,
        fn: AgentFunction,
        spec: AgentSpec,
        *,
        ctx_param: str | None,
        unpack: bool,
        wrap_output: bool,
        extractor: InputExtractor | None,
    ) -> None:
        self._fn = fn
        self._spec = spec
        self._ctx_param = ctx_param
        self._unpack = unpack
        self._wrap_output = wrap_output
        self._extractor = extractor
        self._field_names = tuple(spec.input_model.model_fields)
        # Name of the one model-typed parameter when inputs are passed whole (unpack=False).
        self._model_param = next(
            (p for p in inspect.signature(fn).parameters if p != ctx_param), ""
        )
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    @property
    def spec(self) -> AgentSpec:
        """What the agent is and needs."""
        return self._spec

    async def run(self, inputs: BaseModel, ctx: AgentContext) -> BaseModel:
        """Call the function with the validated inputs and wrap its result."""
        kwargs: dict[str, Any] = {}
        if self._unpack:
            kwargs.update({name: getattr(inputs, name) for name in self._field_names})
        else:
            kwargs[self._model_param] = inputs
        if self._ctx_param is not None:
            kwargs[self._ctx_param] = ctx
        result = await self._fn(**kwargs)
        if self._wrap_output:
            return self._spec.output_model(result=result)
        if isinstance(result, BaseModel):
            return result
        return self._spec.output_model.model_validate(result)

    def extract_inputs(self, clause: str, ctx: ExtractionContext) -> Extraction:
        """Use the extractor given to the decorator; without one, understand nothing."""
        if self._extractor is None:
            return Extraction()
        return self._extractor(clause, ctx)

    def __repr__(self) -> str:
        return f"<agent {self._spec.name}>"


def _model_name(name: str, suffix: str) -> str:
    return "".join(part.capitalize() for part in name.replace(".", "_").split("_")) + suffix


def _build_schemas(
    fn: AgentFunction, name: str
) -> tuple[type[BaseModel], type[BaseModel], str | None, bool, bool]:
    if not inspect.iscoroutinefunction(fn):
        raise UsageError(
            f"agent {name!r}: {fn.__qualname__} is not an async function",
            hint="declare it with `async def`",
        )
    try:
        hints = get_type_hints(fn)
    except NameError as exc:
        raise UsageError(
            f"agent {name!r}: cannot resolve the type annotations of {fn.__qualname__} ({exc})",
            hint="define the types it uses at module level, not inside a function",
        ) from None
    params = inspect.signature(fn).parameters
    ctx_param = next((p for p in params if hints.get(p) is AgentContext), None)
    value_params = [p for p in params.values() if p.name != ctx_param]
    for p in value_params:
        if p.name not in hints:
            raise UsageError(
                f"agent {name!r}: parameter {p.name!r} has no type annotation",
                hint="annotate every parameter so baton can build the input schema",
            )
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise UsageError(f"agent {name!r}: *args and **kwargs are not supported")
    if "return" not in hints:
        raise UsageError(
            f"agent {name!r}: {fn.__qualname__} has no return annotation",
            hint="annotate the return type (a pydantic model, or any type to get {'result': ...})",
        )

    single = value_params[0] if len(value_params) == 1 else None
    single_type = hints.get(single.name) if single else None
    if isinstance(single_type, type) and issubclass(single_type, BaseModel):
        input_model: type[BaseModel] = single_type
        unpack = False
    else:
        fields: dict[str, Any] = {
            p.name: (hints[p.name], ... if p.default is p.empty else p.default)
            for p in value_params
        }
        input_model = create_model(
            _model_name(name, "Input"),
            __config__=ConfigDict(extra="forbid"),
            **fields,
        )
        unpack = True

    ret = hints["return"]
    if isinstance(ret, type) and issubclass(ret, BaseModel):
        return input_model, ret, ctx_param, unpack, False
    output_model = create_model(_model_name(name, "Output"), result=(ret, ...))
    return input_model, output_model, ctx_param, unpack, True


def agent(
    name: str | None = None,
    *,
    description: str | None = None,
    risk: Risk = Risk.READ,
    idempotent: bool = True,
    cacheable: bool = False,
    rate_limit_key: str | None = None,
    examples: Sequence[str] = (),
    tags: Sequence[str] = (),
    extract: InputExtractor | None = None,
    capability: str | None = None,
    recovery: Mapping[ErrorClass, Sequence[Rung]] | None = None,
    untrusted_output: bool = False,
) -> Callable[[AgentFunction], FunctionAgent]:
    """Make an agent of an async function; see the module docstring for the rules.

    Args:
        name: Capability name; defaults to the function's name.
        description: What it does; defaults to the first paragraph of the docstring.
        risk: What running it can do to the world.
        idempotent: Whether a repeat with the same idempotency key is harmless.
        cacheable: Whether its output depends only on its inputs.
        rate_limit_key: Quota shared with other agents of the same key.
        examples: Requests it serves, for the offline planner.
        tags: Free-form labels.
        extract: Reads this agent's inputs out of a sentence (for the offline planner).
        capability: Agents of the same capability stand in for each other on failure.
        recovery: This agent's recovery ladder per error class.
        untrusted_output: Its output comes from outside (fetched text, payloads).
    """

    def wrap(fn: AgentFunction) -> FunctionAgent:
        agent_name = name or fn.__name__
        doc = (inspect.getdoc(fn) or "").split("\n\n")[0].strip()
        desc = description or doc
        if not desc:
            raise UsageError(
                f"agent {agent_name!r} has no description",
                hint="pass description=... or give the function a docstring",
            )
        input_model, output_model, ctx_param, unpack, wrap_output = _build_schemas(fn, agent_name)
        spec = AgentSpec(
            name=agent_name,
            description=desc,
            input_model=input_model,
            output_model=output_model,
            risk=risk,
            idempotent=idempotent,
            cacheable=cacheable,
            rate_limit_key=rate_limit_key,
            examples=tuple(examples),
            tags=tuple(tags),
            capability=capability,
            recovery={k: tuple(v) for k, v in recovery.items()} if recovery else None,
            untrusted_output=untrusted_output,
        )
        return FunctionAgent(
            fn,
            spec,
            ctx_param=ctx_param,
            unpack=unpack,
            wrap_output=wrap_output,
            extractor=extract,
        )

    return cast("Callable[[AgentFunction], FunctionAgent]", wrap)
