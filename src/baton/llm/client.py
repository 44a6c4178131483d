"""`ModelClient`: the one `TextModel`, pydantic-ai over Gemini, OpenAI-compatible and Anthropic.

A structured answer is asked for with pydantic-ai's structured output against the output
type's JSON schema. An answer that does not parse, or that the caller's check finds problems
in, goes back to the model with those problems (pydantic-ai's output retries), up to
``max_attempts`` answers; then `ModelOutputRejectedError` carries the last problems.

The run is driven request by request (``Agent.iter``) so that each model request, retries
after rejected answers included, is first checked against the scope's budget and then
recorded: a `ModelCall` added to ``scope.spent``, handed to the observers, and traced in a
span when a span factory is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol, cast

import httpx2
from pydantic import ValidationError
from pydantic_ai import Agent, ModelRetry
from pydantic_ai.exceptions import (
    ContentFilterError,
    ModelAPIError,
    ModelHTTPError,
    ToolRetryError,
    UnexpectedModelBehavior,
)
from pydantic_ai.messages import ModelResponse
from pydantic_ai.models import Model
from pydantic_core import ErrorDetails

from baton.errors import BatonError, ModelError, ModelOutputRejectedError
from baton.llm.config import LlmConfig
from baton.llm.prices import cost_usd
from baton.llm.protocol import CallScope, Check, Generated, OutputT
from baton.llm.transport import RETRY_STATUSES
from baton.llm.usage import ModelCall, check_budget

__all__ = ["ModelCallObserver", "ModelClient", "SpanFactory", "UsageRecorder"]

_HINT = "check the API key and BATON_LLM_BASE_URL, then run `baton llm check`"


class ModelCallObserver(Protocol):
    """Told of every model call as it is made (a store, metrics...)."""

    def on_call(self, call: ModelCall) -> None:
        """Take note of `call` (must not raise; must not block)."""
        ...


class UsageRecorder(Protocol):
    """What a model call's span is told (`baton.observability.tracing.ModelCall`)."""

    def record_usage(self, *, input_tokens: int, output_tokens: int) -> None:
        """Record the tokens the call used."""
        ...


SpanFactory = Callable[..., AbstractContextManager[UsageRecorder]]
"""Called as ``span(provider=..., model=..., operation="chat")`` around each model request
(`baton.observability.tracing.Tracing.model_call` is one)."""


class _NoSpan:
    def record_usage(self, *, input_tokens: int, output_tokens: int) -> None:
        del input_tokens, output_tokens


class ModelClient:
    """A configured model (`TextModel`): structured or text answers, counted and budgeted."""

    def __init__(
        self,
        config: LlmConfig,
        model: Model,
        *,
        http_client: httpx2.AsyncClient | None = None,
        observers: Sequence[ModelCallObserver] = (),
        span: SpanFactory | None = None,
    ) -> None:
        """Use `model` (built from `config` by `baton.llm.providers.build_model`).

        Args:
            config: The resolved configuration (provider, model, attempts).
            model: The pydantic-ai model.
            http_client: The HTTP client under `model`, closed by `aclose`.
            observers: Told of every call.
            span: Makes a span around each model request.
        """
        self.config = config
        self.provider: str = config.provider
        self.model_name: str = config.model
        self._model = model
        self._http_client = http_client
        self._observers = tuple(observers)
        self._span = span

    async def aclose(self) -> None:
        """Close the HTTP client (its connections)."""
        if self._http_client is not None:
            await self._http_client.aclose()

    async def generate(
        self,
        *,
        instructions: str,
        prompt: str,
        output_type: type[OutputT],
        scope: CallScope,
        check: Check[OutputT] | None = None,
        max_attempts: int | None = None,
    ) -> Generated[OutputT]:
        """Ask for a value of `output_type`; see `baton.llm.protocol.TextModel.generate`.

        `max_attempts` defaults to the configured ``BATON_LLM_MAX_ATTEMPTS``.
        """
        if max_attempts is None:
            max_attempts = self.config.max_attempts
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        problems: list[str] = []
        agent: Agent[None, OutputT] = Agent(
            self._model,
            output_type=output_type,
            instructions=instructions,
            retries={"output": max_attempts - 1, "tools": max_attempts - 1},
        )

        if check is not None:
            checker = check

            @agent.output_validator
            def _check(output: OutputT) -> OutputT:  # pyright: ignore[reportUnusedFunction]
                found = [str(p) for p in checker(output)]
                problems[:] = found
                if found:
                    raise ModelRetry(
                        "The answer has these problems; fix them and answer again:\n"
                        + "\n".join(f"- {p}" for p in found)
                    )
                return output

        return await self._run(agent, prompt, scope, problems)

    async def complete(self, *, instructions: str, prompt: str, scope: CallScope) -> str:
        """Ask for plain text; see `baton.llm.protocol.TextModel.complete`."""
        agent: Agent[None, str] = Agent(self._model, output_type=str, instructions=instructions)
        return (await self._run(agent, prompt, scope, [])).output

    async def _run(
        self, agent: Agent[None, Any], prompt: str, scope: CallScope, problems: list[str]
    ) -> Generated[Any]:
        calls: list[ModelCall] = []
        try:
            async with agent.iter(prompt) as run:
                node: Any = run.next_node
                while not Agent.is_end_node(node):
                    if Agent.is_model_request_node(node):
                        check_budget(scope.budget, scope.spent)
                        node = await self._request(run, node, scope, calls)
                    else:
                        node = await run.next(node)
                result = run.result
                assert result is not None
                return Generated(output=result.output, calls=tuple(calls), attempts=len(calls))
        except BatonError:
            raise
        except Exception as exc:
            raise self._error(exc, problems) from exc

    async def _request(self, run: Any, node: Any, scope: CallScope, calls: list[ModelCall]) -> Any:
        span = (
            self._span(provider=self.provider, model=self.model_name, operation="chat")
            if self._span is not None
            else nullcontext(_NoSpan())
        )
        with span as recorder:
            started = time.perf_counter()
            try:
                after = await run.next(node)
            except Exception as exc:
                self._record(scope, calls, started, error=_cause_name(exc))
                raise
            response: ModelResponse | None = getattr(after, "model_response", None)
            input_tokens = response.usage.input_tokens if response is not None else 0
            output_tokens = response.usage.output_tokens if response is not None else 0
            refused = response is not None and response.finish_reason == "content_filter"
            self._record(
                scope,
                calls,
                started,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                error="ModelRefusal" if refused else None,
            )
            recorder.record_usage(input_tokens=input_tokens, output_tokens=output_tokens)
            if refused:
                raise self._refused()
            return after

    def _record(
        self,
        scope: CallScope,
        calls: list[ModelCall],
        started: float,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        error: str | None = None,
    ) -> None:
        call = ModelCall(
            provider=self.provider,
            model=self.model_name,
            purpose=scope.purpose,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_s=time.perf_counter() - started,
            cost_usd=cost_usd(self.provider, self.model_name, input_tokens, output_tokens),
            execution_id=scope.execution_id,
            step_id=scope.step_id,
            error=error,
        )
        calls.append(call)
        scope.spent.add(call)
        for observer in self._observers:
            observer.on_call(call)

    def _where(self) -> str:
        where = f"the {self.provider} model {self.model_name}"
        if self.config.base_url:
            where += f" at {self.config.base_url}"
        return where

    def _refused(self) -> ModelError:
        return ModelError(
            f"{self._where()} refused to answer",
            hint="rephrase the request; the provider's safety filter declined it",
        )

    def _error(self, exc: Exception, problems: list[str]) -> BatonError:
        """The baton error for a failure pydantic-ai or the SDK raised."""
        if (inner := _baton_cause(exc)) is not None:
            return inner  # e.g. a cassette that does not match, raised inside the transport
        if isinstance(exc, ContentFilterError):
            return self._refused()
        if isinstance(exc, ModelHTTPError):
            status = exc.status_code
            retried = status in RETRY_STATUSES
            after = f" after {self.config.max_retries} retries" if retried else ""
            hint = _HINT
            if status in (401, 403) and self.config.key_variable is not None:
                hint = f"check {self.config.key_variable}, then run `baton llm check`"
            return ModelError(
                f"{self._where()} failed with HTTP {status}{after}: {_short(exc.body)}",
                hint=hint,
                retryable=retried,
                retry_after=_retry_after(exc.headers),
            )
        if isinstance(exc, ModelAPIError) and exc.message.startswith("Failed to decode"):
            return ModelError(
                f"{self._where()} sent a malformed response (not JSON): {_short(exc.message)}",
                hint="check BATON_LLM_BASE_URL points at the provider's API",
            )
        if isinstance(exc, ModelAPIError):
            return ModelError(
                f"could not reach {self._where()} after {self.config.max_retries} retries "
                f"({type(exc).__name__}: {_short(exc.message)})",
                hint=_HINT,
                retryable=True,
            )
        if isinstance(exc, UnexpectedModelBehavior):
            if exc.message.startswith("Exceeded maximum"):
                last = _validation_problems(exc) or problems or [exc.message]
                return ModelOutputRejectedError(
                    f"{self._where()} gave no acceptable answer: "
                    f"{len(last)} problem(s) remain in its last answer",
                    problems=last,
                    hint="the problems are listed; rephrase the request or use a stronger model",
                )
            return ModelError(
                f"{self._where()} sent a malformed answer: {_short(exc.message)}", hint=_HINT
            )
        return ModelError(
            f"{self._where()} failed: {type(exc).__name__}: {_short(str(exc))}", hint=_HINT
        )


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _baton_cause(exc: BaseException) -> BatonError | None:
    return next((e for e in _chain(exc) if isinstance(e, BatonError)), None)


def _cause_name(exc: BaseException) -> str:
    inner = _baton_cause(exc)
    return type(inner if inner is not None else exc).__name__


def _validation_problems(exc: BaseException) -> list[str]:
    """The schema errors of the last answer, when it did not even parse."""
    for e in _chain(exc):
        if isinstance(e, ValidationError):
            return [_problem(d["loc"], d["msg"]) for d in e.errors()]
        if isinstance(e, ToolRetryError) and isinstance(e.tool_retry.content, list):
            details = cast("list[ErrorDetails]", e.tool_retry.content)
            return [_problem(d["loc"], d["msg"]) for d in details]
    return []


def _problem(loc: Sequence[object], msg: str) -> str:
    where = ".".join(str(p) for p in loc)
    return f"{where}: {msg}" if where else msg


def _retry_after(headers: dict[str, str] | None) -> float | None:
    value = (headers or {}).get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _short(text: object, limit: int = 300) -> str:
    value = " ".join(str(text or "").split())
    return value if len(value) <= limit else value[: limit - 1] + "…"
