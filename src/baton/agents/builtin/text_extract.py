"""The offline planner's readers of the text agents' clauses (their ``extract=``).

Each turns a clause ("extract the email addresses from it", "truncate it to 100 characters")
into the agent's inputs, says what it understood, and which inputs come from the step
before.
"""

from __future__ import annotations

import re
from typing import Any

from baton.agents.builtin.text_models import ExtractKind, Operation
from baton.agents.parsing.text import count_before, find_quoted, refers_to_previous
from baton.agents.protocol import Extraction, ExtractionContext

__all__ = ["extract_extract", "extract_summarize", "extract_template", "extract_transform"]

_KIND_WORDS: tuple[tuple[str, ExtractKind], ...] = (
    (r"urls?|links?|web addresses", "urls"),
    (r"e-?mails?|addresses", "emails"),
    (r"dates?|days?", "dates"),
    (r"numbers?|amounts?|figures?|prices?|values?", "numbers"),
    (r"regex|regular expression|pattern|matching|matches", "regex"),
)
_OPERATION_WORDS: tuple[tuple[str, Operation], ...] = (
    (r"upper ?case|all caps|capitals", "upper"),
    (r"lower ?case", "lower"),
    (r"title ?case", "title"),
    (r"capitali[sz]e", "capitalize"),
    (r"collapse|normali[sz]e (?:the )?(?:whitespace|spaces)", "collapse_whitespace"),
    (r"strip|trim", "strip"),
    (r"replace|substitute|swap", "replace"),
    (r"truncate|shorten|cut|limit", "truncate"),
    (r"slug", "slugify"),
)


def _text_source(
    clause: str, ctx: ExtractionContext, literals: list[str], inputs: dict[str, Any]
) -> tuple[str, ...]:
    # A quoted literal is the text to work on; otherwise the text comes from the step before.
    if literals:
        inputs["text"] = literals[0]
        return ()
    return ("text",) if refers_to_previous(clause) or ctx.previous_agents else ()


def extract_extract(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read "extract the email addresses from it", "find the dates in the text"."""
    inputs: dict[str, Any] = {}
    quoted = find_quoted(clause)
    for words, kind in _KIND_WORDS:
        if re.search(rf"\b(?:{words})\b", clause, re.IGNORECASE):
            inputs["kind"] = kind
            break
    if inputs.get("kind") == "regex":
        slashed = re.search(r"/(.+)/", clause)
        pattern = quoted.pop(0) if quoted else (slashed.group(1) if slashed else None)
        if pattern:
            inputs["pattern"] = pattern
    from_previous = _text_source(clause, ctx, quoted, inputs)
    what = inputs.get("kind", "values")
    return Extraction(
        inputs=inputs, from_previous=from_previous, understood=f"extract {what} from the text"
    )


def extract_transform(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read "convert it to uppercase", "replace 'foo' with 'bar'", "truncate to 100 chars"."""
    inputs: dict[str, Any] = {}
    quoted = find_quoted(clause)
    for words, op in _OPERATION_WORDS:
        if re.search(rf"\b(?:{words})", clause, re.IGNORECASE):
            inputs["operation"] = op
            break
    if inputs.get("operation") == "replace" and len(quoted) >= 2:
        inputs["find"], inputs["replace"] = quoted.pop(0), quoted.pop(0)
    if inputs.get("operation") == "truncate":
        limit = count_before(clause, ("characters", "chars", "character", "letters"))
        if limit:
            inputs["max_chars"] = limit
    from_previous = _text_source(clause, ctx, quoted, inputs)
    op = str(inputs.get("operation", "change")).replace("_", " ")
    return Extraction(
        inputs=inputs, from_previous=from_previous, understood=f"transform the text: {op}"
    )


def extract_template(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read 'fill "Hello {name}" with name=Dana', "render the template with the result"."""
    inputs: dict[str, Any] = {}
    templates = [q for q in find_quoted(clause) if "{" in q]
    if templates:
        inputs["template"] = templates[0]
    pairs = re.findall(r"\b(\w+)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s,]+)", clause)
    from_previous: tuple[str, ...] = ()
    if pairs:
        inputs["values"] = {k: v.strip("\"'") for k, v in pairs}
    elif refers_to_previous(clause) or ctx.previous_agents:
        from_previous = ("values",)
    return Extraction(inputs=inputs, from_previous=from_previous, understood="fill a template")


def extract_summarize(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read "summarize it in 2 sentences", "give me a three-sentence summary"."""
    inputs: dict[str, Any] = {}
    n = count_before(clause, ("sentence", "sentences", "lines", "line"))
    if n:
        inputs["max_sentences"] = n
    # "in few sentences": a count was meant but cannot be read; say so rather than default to 3.
    vague = None if n else re.search(r"\b(?:in|to)\s+(\w+)\s+sentences?\b", clause, re.I)
    quoted = [q for q in find_quoted(clause) if len(q.split()) > 3]
    from_previous = _text_source(clause, ctx, quoted, inputs)
    size = f" in {n} sentence{'s' if n != 1 else ''}" if n else ""
    return Extraction(
        inputs=inputs,
        from_previous=from_previous,
        understood=f"summarize{size}",
        unparsed=(vague.group(1),) if vague else (),
    )
