"""``text.classify``: which of the given labels a text is (with the model, or offline)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from baton.agents.builtin._classify import classify
from baton.agents.builtin._text_model import (
    OFFLINE,
    Prompt,
    classify_with,
    engine_of,
    log_engine,
    scope_for,
)
from baton.agents.decorator import agent
from baton.agents.parsing.text import quoted_spans, refers_to_previous, split_list
from baton.agents.protocol import Agent, AgentContext, Extraction, ExtractionContext, Risk
from baton.llm.protocol import TextModel

Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

_MAX_LABELS = 50
# "as a or b", "into a, b or c", "with the labels a and b": the list of labels follows.
_LABELS_AFTER = re.compile(
    r"\b(?:as|into|among|between|(?:with|using)\s+(?:the\s+)?(?:labels?|categories|classes))\s+"
    r"(?:(?:one\s+of|either|the\s+labels?|the\s+categories)\s+)?(?P<list>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_TRAILING_NOUN = re.compile(r"\s+(?:categories|category|labels?|classes|groups?)$", re.I)
_PLACEHOLDER = re.compile(r"^\x00(\d+)\x00$")


class ClassifyInput(BaseModel):
    """Inputs of ``text.classify``."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="Text to classify.")
    labels: list[Label] = Field(
        min_length=2, max_length=_MAX_LABELS, description="The labels to choose from."
    )
    keywords: dict[str, list[str]] = Field(
        default_factory=dict[str, list[str]],
        description="Words that point to a label, by label (e.g. {'billing': ['invoice']}).",
    )

    @model_validator(mode="after")
    def _labels_distinct(self) -> Self:
        folded = [label.casefold() for label in self.labels]
        repeated = sorted({label for label in folded if folded.count(label) > 1})
        if repeated:
            raise ValueError(f"labels must differ (ignoring case): {', '.join(repeated)} repeat")
        unknown = sorted(set(self.keywords) - set(self.labels))
        if unknown:
            raise ValueError(f"keywords given for labels not offered: {', '.join(unknown)}")
        return self


class ClassifyOutput(BaseModel):
    """Output of ``text.classify``."""

    label: str | None = Field(
        description="The label that fits best; None when offline found no sign of any."
    )
    confidence: float = Field(
        description="0 to 1: the model's confidence, or offline the "
        "best label's share of the evidence."
    )
    engine: str = Field(description="What chose it: `offline` or `model:<provider>/<model>`.")


def extract_classify(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read "classify it as urgent or not urgent", 'categorize "..." into billing or sales'."""
    inputs: dict[str, Any] = {}
    spans = quoted_spans(clause)
    # Quoted strings become placeholders, so that words inside them are not read as syntax.
    masked, last = [], 0
    for i, (_, start, end) in enumerate(spans):
        masked += [clause[last:start], f"\x00{i}\x00"]
        last = end
    masked.append(clause[last:])
    used: set[int] = set()
    found = _LABELS_AFTER.search("".join(masked))
    if found:
        labels: list[str] = []
        for item in split_list(_TRAILING_NOUN.sub("", found.group("list").strip(" .!?"))):
            placeholder = _PLACEHOLDER.match(item)
            if placeholder:
                used.add(int(placeholder.group(1)))
                item = spans[int(placeholder.group(1))][0]
            if item and item.casefold() not in {x.casefold() for x in labels}:
                labels.append(item)
        if len(labels) >= 2:
            inputs["labels"] = labels
    texts = [value for i, (value, _, _) in enumerate(spans) if i not in used]
    from_previous: tuple[str, ...] = ()
    if texts:
        inputs["text"] = texts[0]
    elif refers_to_previous(clause) or ctx.previous_agents:
        from_previous = ("text",)
    labels_said = " or ".join(inputs.get("labels", ())) or "one of its labels"
    return Extraction(
        inputs=inputs, from_previous=from_previous, understood=f"classify the text as {labels_said}"
    )


def classify_agent(model: TextModel | None, prompt: Prompt | None, *, tags: Sequence[str]) -> Agent:
    """The ``text.classify`` agent, using `model` (with `prompt`) when there is one."""
    engine = engine_of(model)

    @agent(
        "text.classify",
        description=(
            "Classify text as one of the labels given (e.g. urgent or not urgent; billing, "
            "support or sales), with the configured language model or offline by keywords."
        ),
        risk=Risk.READ,
        cacheable=model is None,
        examples=(
            "classify it as urgent or not urgent",
            "classify the message as positive, negative or neutral",
            "categorize the email into billing, support or sales",
            "categorise the feedback as bug report or feature request",
        ),
        tags=tuple(tags),
        extract=extract_classify,
    )
    async def classify_text(inputs: ClassifyInput, ctx: AgentContext) -> ClassifyOutput:
        if model is None or prompt is None:
            log_engine(ctx, "classify", OFFLINE, None)
            found = classify(inputs.text, inputs.labels, inputs.keywords)
            return ClassifyOutput(label=found.label, confidence=found.confidence, engine=OFFLINE)
        log_engine(ctx, "classify", engine, prompt)
        label, confidence = await classify_with(
            model,
            prompt,
            text=inputs.text,
            labels=inputs.labels,
            keywords=inputs.keywords,
            scope=scope_for(ctx),
        )
        return ClassifyOutput(label=label, confidence=confidence, engine=engine)

    return classify_text
