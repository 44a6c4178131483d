"""The text agents' work done by a language model: versioned prompts, checked answers.

Prompts live in ``prompts/text.toml``. Every answer is checked before it is accepted (a summary
no longer than asked, extracted values that really occur in the text, a label that was
offered); an answer that fails goes back to the model with the problems (`TextModel.generate`).
Errors are not caught here: a `ModelError` fails the step (retryable when the provider said so)
and a `BudgetExceededError` stops it, so the recovery ladder decides, not a silent fallback.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pydantic import BaseModel, Field

from baton.agents.builtin._summarize import split_sentences
from baton.agents.protocol import AgentContext
from baton.llm.protocol import CallScope, TextModel

OFFLINE = "offline"
"""The `engine` of a step that ran without a model."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    """One task's prompt, as read from ``prompts/text.toml``."""

    name: str
    version: int
    instructions: str
    prompt: str
    """The user message, a `str.format` template."""
    extra: Mapping[str, Any]
    """Any other keys of the task's table (e.g. what each extraction kind means)."""

    @property
    def label(self) -> str:
        """``summarize/v1``: what a step's log says was used."""
        return f"{self.name}/v{self.version}"


@functools.cache
def load_prompts() -> dict[str, Prompt]:
    """The shipped prompts of the text agents, by task (read once)."""
    text = resources.files("baton.agents.builtin").joinpath("prompts/text.toml").read_text("utf-8")
    return parse_prompts(text)


def parse_prompts(text: str) -> dict[str, Prompt]:
    """Prompts from a TOML document of ``[task]`` tables with version, instructions, prompt.

    Raises:
        ValueError: a table lacks one of those keys.
    """
    prompts: dict[str, Prompt] = {}
    for name, table in tomllib.loads(text).items():
        try:
            prompts[name] = Prompt(
                name=name,
                version=int(table["version"]),
                instructions=str(table["instructions"]).strip(),
                prompt=str(table["prompt"]).strip(),
                extra={k: v for k, v in table.items() if k not in _PROMPT_KEYS},
            )
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"prompts: [{name}] needs version, instructions and prompt") from None
    return prompts


_PROMPT_KEYS = frozenset({"version", "instructions", "prompt"})


def engine_of(model: TextModel | None) -> str:
    """``offline``, or ``model:<provider>/<model>`` for the model that does the work."""
    return OFFLINE if model is None else f"model:{model.provider}/{model.model_name}"


def log_engine(ctx: AgentContext, task: str, engine: str, prompt: Prompt | None) -> None:
    """Say on the step's log which engine did `task` (and with which prompt version)."""
    if prompt is None:
        ctx.log(f"{task}: engine {engine}")
    else:
        ctx.log(f"{task}: engine {engine} (prompt {prompt.label})")


def scope_for(ctx: AgentContext) -> CallScope:
    """The step's call scope (it carries the budget), or a bare one for this step."""
    if ctx.model_scope is not None:
        return ctx.model_scope
    return CallScope(purpose="agent", execution_id=ctx.execution_id, step_id=ctx.step_id)


# --- summarize -----------------------------------------------------------------------------


class Sentences(BaseModel):
    """A summary, sentence by sentence."""

    sentences: list[str] = Field(description="The summary's sentences, in order.")


async def summarize_with(
    model: TextModel, prompt: Prompt, *, text: str, max_sentences: int, scope: CallScope
) -> list[str]:
    """At most `max_sentences` sentences summarizing `text`, written by `model`."""

    def check(answer: Sentences) -> list[str]:
        kept = [s for s in answer.sentences if s.strip()]
        if not kept:
            return ["the summary is empty: give at least one sentence"]
        count = sum(len(split_sentences(s)) or 1 for s in kept)
        if count > max_sentences:
            return [f"the summary has {count} sentences; give at most {max_sentences}"]
        return []

    generated = await model.generate(
        instructions=prompt.instructions,
        prompt=prompt.prompt.format(text=text, max_sentences=max_sentences),
        output_type=Sentences,
        scope=scope,
        check=check,
    )
    return [" ".join(s.split()) for s in generated.output.sentences if s.strip()]


# --- extract -------------------------------------------------------------------------------


class Matches(BaseModel):
    """Values found in a text."""

    matches: list[str] = Field(description="Each value exactly as written, in order.")


async def extract_with(
    model: TextModel, prompt: Prompt, *, text: str, kind: str, scope: CallScope
) -> list[str]:
    """The values of `kind` in `text`, found by `model`; each one occurs in the text."""
    meanings: Mapping[str, str] = prompt.extra.get("kinds", {})
    squeezed = " ".join(text.split())

    def check(answer: Matches) -> list[str]:
        # A value the text does not contain was made up (or reformatted): send it back.
        return [
            f"{m!r} is not in the text: copy each value exactly as written, or leave it out"
            for m in answer.matches
            if " ".join(m.split()) not in squeezed
        ]

    generated = await model.generate(
        instructions=prompt.instructions,
        prompt=prompt.prompt.format(text=text, kind=kind, meaning=meanings.get(kind, kind)),
        output_type=Matches,
        scope=scope,
        check=check,
    )
    return [m.strip() for m in generated.output.matches if m.strip()]


# --- classify ------------------------------------------------------------------------------


class Choice(BaseModel):
    """The label a model chose."""

    label: str = Field(description="Exactly one of the labels offered.")
    confidence: float = Field(ge=0, le=1, description="How sure, from 0 to 1.")


async def classify_with(
    model: TextModel,
    prompt: Prompt,
    *,
    text: str,
    labels: Sequence[str],
    keywords: Mapping[str, Sequence[str]],
    scope: CallScope,
) -> tuple[str, float]:
    """The label of `labels` that fits `text` best, and the model's confidence."""
    canonical = {label.casefold(): label for label in labels}

    def check(answer: Choice) -> list[str]:
        if answer.label.strip().casefold() in canonical:
            return []
        offered = ", ".join(repr(label) for label in labels)
        return [f"{answer.label!r} is not one of the labels offered: choose one of {offered}"]

    hints = "".join(
        f"Words that point to {label!r}: {', '.join(words)}.\n"
        for label, words in keywords.items()
        if words
    )
    generated = await model.generate(
        instructions=prompt.instructions,
        prompt=prompt.prompt.format(
            text=text, labels=", ".join(repr(label) for label in labels), hints=hints
        ),
        output_type=Choice,
        scope=scope,
        check=check,
    )
    choice = generated.output
    return canonical[choice.label.strip().casefold()], choice.confidence
