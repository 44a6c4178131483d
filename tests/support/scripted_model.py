"""A `TextModel` that answers from a script of recorded responses, for tests without a network.

It behaves like `baton.llm.client.ModelClient` where callers can tell: the budget is checked
before every call, every call is counted into ``scope.spent`` and returned in
`Generated.calls`, an answer that does not parse or that ``check`` finds problems in is asked
again with those problems, and after ``max_attempts`` answers `ModelOutputRejectedError`
carries the last problems. Each prompt it was given is recorded (`ScriptedTextModel.calls`).

Script entries: a dict (validated into the output type), a pydantic model, a JSON string, a
plain string (for `complete`), or an exception instance (raised as that call's failure).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from baton.errors import ModelOutputRejectedError
from baton.llm.protocol import CallScope, Check, Generated, OutputT
from baton.llm.usage import ModelCall, check_budget

RETRY_PREFIX = "The answer has these problems; fix them and answer again:"
"""How a re-ask starts (the same words as the real client's)."""


class ScriptExhaustedError(AssertionError):
    """The code under test asked the model more often than the test scripted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptedCall:
    """One request the scripted model received."""

    instructions: str
    prompt: str
    """What the model was asked: the prompt, and on a re-ask the problems after it."""
    problems: tuple[str, ...]
    """The problems it was asked to fix (empty on a first attempt)."""
    purpose: str
    output_type: type[Any] | None
    """The structured output asked for (None for `complete`)."""


class ScriptedTextModel:
    """Answers from `responses`, in order.

    Args:
        responses: The answers, one per call.
        input_tokens: Input tokens counted per call.
        output_tokens: Output tokens counted per call.
        cost_usd: Cost counted per call (None: unpriced).
    """

    def __init__(
        self,
        responses: Iterable[Any],
        *,
        provider: str = "scripted",
        model_name: str = "scripted-1",
        input_tokens: int = 100,
        output_tokens: int = 40,
        cost_usd: float | None = 0.001,
    ) -> None:
        self.provider = provider
        self.model_name = model_name
        self._responses = list(responses)
        self._input_tokens = input_tokens
        self._output_tokens = output_tokens
        self._cost_usd = cost_usd
        self.calls: list[ScriptedCall] = []

    @property
    def prompts(self) -> list[str]:
        """Every prompt given, in order."""
        return [c.prompt for c in self.calls]

    @property
    def remaining(self) -> int:
        """Scripted answers not used yet."""
        return len(self._responses)

    async def generate(
        self,
        *,
        instructions: str,
        prompt: str,
        output_type: type[OutputT],
        scope: CallScope,
        check: Check[OutputT] | None = None,
        max_attempts: int = 3,
    ) -> Generated[OutputT]:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        problems: list[str] = []
        made: list[ModelCall] = []
        for attempt in range(1, max_attempts + 1):
            answer = self._call(instructions, prompt, problems, scope, made, output_type)
            try:
                output = _parse(answer, output_type)
            except ValidationError as exc:
                problems = [_error_text(e) for e in exc.errors()]
                continue
            problems = [str(p) for p in check(output)] if check is not None else []
            if not problems:
                return Generated(output=output, calls=tuple(made), attempts=attempt)
        raise ModelOutputRejectedError(
            f"the model's answer still had {len(problems)} problem(s) after {max_attempts} "
            "attempt(s)",
            problems=problems,
        )

    async def complete(self, *, instructions: str, prompt: str, scope: CallScope) -> str:
        answer = self._call(instructions, prompt, [], scope, [], None)
        if not isinstance(answer, str):
            raise AssertionError(f"complete() was scripted a {type(answer).__name__}, not text")
        return answer

    def _call(
        self,
        instructions: str,
        prompt: str,
        problems: Sequence[str],
        scope: CallScope,
        made: list[ModelCall],
        output_type: type[Any] | None,
    ) -> Any:
        check_budget(scope.budget, scope.spent)
        asked = prompt
        if problems:
            asked = f"{prompt}\n\n{RETRY_PREFIX}\n" + "\n".join(f"- {p}" for p in problems)
        self.calls.append(
            ScriptedCall(
                instructions=instructions,
                prompt=asked,
                problems=tuple(problems),
                purpose=scope.purpose,
                output_type=output_type,
            )
        )
        if not self._responses:
            raise ScriptExhaustedError(f"no scripted answer left for call {len(self.calls)}")
        answer = self._responses.pop(0)
        failed = isinstance(answer, BaseException)
        call = ModelCall(
            provider=self.provider,
            model=self.model_name,
            purpose=scope.purpose,
            input_tokens=self._input_tokens,
            output_tokens=0 if failed else self._output_tokens,
            cost_usd=self._cost_usd,
            execution_id=scope.execution_id,
            step_id=scope.step_id,
            error=type(answer).__name__ if failed else None,
        )
        scope.spent.add(call)
        made.append(call)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def _parse(answer: Any, output_type: type[OutputT]) -> OutputT:
    if isinstance(answer, output_type):
        return answer
    if isinstance(answer, str):
        return output_type.model_validate_json(answer)
    if isinstance(answer, BaseModel):
        return output_type.model_validate(answer.model_dump())
    return output_type.model_validate(answer)


def _error_text(error: Any) -> str:
    loc = ".".join(str(p) for p in error["loc"]) or "the answer"
    return f"{loc}: {error['msg']}"
