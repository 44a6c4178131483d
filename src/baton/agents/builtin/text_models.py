"""The text agents' inputs and outputs, and the written-date pattern they share."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DATE_RE",
    "ExtractInput",
    "ExtractKind",
    "ExtractOutput",
    "Operation",
    "SummarizeInput",
    "SummarizeOutput",
    "TemplateInput",
    "TextOutput",
    "TransformInput",
]

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|"
    r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
DATE_RE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?\b"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
    rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?\b",
    re.IGNORECASE,
)
"""Written dates: ISO, d/m/y or m/d/y, "March 3, 2025", "3rd of March 2025"."""

ExtractKind = Literal["emails", "urls", "numbers", "dates", "regex"]
Operation = Literal[
    "upper",
    "lower",
    "title",
    "capitalize",
    "strip",
    "collapse_whitespace",
    "replace",
    "truncate",
    "slugify",
]


class ExtractInput(BaseModel):
    """Inputs of ``text.extract``."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="Text to search.")
    kind: ExtractKind = Field(description="What to extract.")
    pattern: str | None = Field(
        default=None,
        max_length=1000,
        description="Regular expression for kind 'regex'; its first group is returned if any.",
    )


class ExtractOutput(BaseModel):
    """Output of ``text.extract``."""

    matches: list[str] = Field(description="Matches in order (emails and URLs without repeats).")
    count: int = Field(description="Number of matches.")
    engine: str = Field(description="What found them: `offline` or `model:<provider>/<model>`.")


class TransformInput(BaseModel):
    """Inputs of ``text.transform``."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="Text to transform.")
    operation: Operation = Field(description="What to do to the text.")
    find: str | None = Field(default=None, description="Text to find (operation 'replace').")
    replace: str = Field(default="", description="Replacement (operation 'replace').")
    max_chars: int | None = Field(
        default=None, ge=1, description="Longest result, ellipsis included ('truncate')."
    )


class TextOutput(BaseModel):
    """Output of ``text.transform`` and ``text.template``."""

    text: str = Field(description="The resulting text.")


class TemplateInput(BaseModel):
    """Inputs of ``text.template``."""

    model_config = ConfigDict(extra="forbid")
    template: str = Field(
        description="Text with {name} placeholders (format specs like {amount:.2f} allowed)."
    )
    values: dict[str, Any] = Field(default_factory=dict, description="Values of the placeholders.")


class SummarizeInput(BaseModel):
    """Inputs of ``text.summarize``."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="Text to summarize.")
    max_sentences: int = Field(default=3, ge=1, le=50, description="Most sentences to keep.")


class SummarizeOutput(BaseModel):
    """Output of ``text.summarize``."""

    summary: str = Field(description="The kept sentences joined into one text.")
    sentences: list[str] = Field(description="The kept sentences, in their original order.")
    engine: str = Field(description="What wrote it: `offline` or `model:<provider>/<model>`.")
