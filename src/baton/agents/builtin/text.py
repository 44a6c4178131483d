"""Text agents: extract values, transform, fill templates, summarize, classify.

`text.summarize`, `text.extract` and `text.classify` use the configured language model when
there is one (`AgentResources.model`) and work offline otherwise; the output's `engine` says
which ran. `text.transform` and `text.template` are always offline: they must be exact.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from baton.agents.builtin._summarize import summarize
from baton.agents.builtin._text_model import (
    OFFLINE,
    engine_of,
    extract_with,
    load_prompts,
    log_engine,
    scope_for,
    summarize_with,
)
from baton.agents.builtin.resources import AgentResources
from baton.agents.builtin.text_classify import classify_agent
from baton.agents.decorator import agent
from baton.agents.parsing.text import (
    EMAIL_RE,
    NUMBER_RE,
    URL_RE,
    count_before,
    find_emails,
    find_quoted,
    find_urls,
    mask,
    refers_to_previous,
)
from baton.agents.protocol import Agent, AgentContext, Extraction, ExtractionContext, Risk
from baton.errors import AgentInputError

_TAGS = ("builtin", "text")
_MAX_FORMAT_NUMBER = 1000  # widths/precisions above this are a memory bomb, not formatting

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


# --- extract -------------------------------------------------------------------------------


def extract_matches(inputs: ExtractInput) -> list[str]:
    """Find what `inputs.kind` asks for in `inputs.text`."""
    text = inputs.text
    if inputs.kind == "emails":
        return find_emails(text)
    if inputs.kind == "urls":
        return find_urls(text)
    if inputs.kind == "numbers":
        # The digits of a date, a URL or an address are not numbers of the text.
        masked = mask(text, URL_RE, EMAIL_RE, DATE_RE)
        return [m.group(0) for m in NUMBER_RE.finditer(masked)]
    if inputs.kind == "dates":
        return [m.group(0) for m in DATE_RE.finditer(text)]
    if not inputs.pattern:
        raise AgentInputError("kind 'regex' needs a pattern", hint="pass pattern='...'")
    try:
        compiled = re.compile(inputs.pattern)
    except re.error as exc:
        raise AgentInputError(
            f"pattern {inputs.pattern!r} is not a valid regular expression: {exc.msg} "
            f"at position {exc.pos}"
        ) from None
    group = 1 if compiled.groups else 0
    return [m.group(group) or "" for m in compiled.finditer(text)]


# --- transform -----------------------------------------------------------------------------


def transform(inputs: TransformInput) -> str:
    """Apply `inputs.operation` to `inputs.text`."""
    text, op = inputs.text, inputs.operation
    simple = {
        "upper": str.upper,
        "lower": str.lower,
        "title": str.title,
        "capitalize": str.capitalize,
        "strip": str.strip,
    }
    if op in simple:
        return simple[op](text)
    if op == "collapse_whitespace":
        return " ".join(text.split())
    if op == "slugify":
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if op == "replace":
        if not inputs.find:
            raise AgentInputError("operation 'replace' needs a non-empty `find`")
        return text.replace(inputs.find, inputs.replace)
    if inputs.max_chars is None:
        raise AgentInputError("operation 'truncate' needs `max_chars`")
    return truncate(text, inputs.max_chars)


def truncate(text: str, max_chars: int) -> str:
    """At most `max_chars` characters, cut at a word boundary when one is near, with "…"."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    at_boundary = text[max_chars - 1].isspace()
    if not at_boundary and space >= max_chars * 0.6:  # back up only when little is lost
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "\u2026"


# --- template ------------------------------------------------------------------------------


class _SafeFormatter(string.Formatter):
    """`str.format_map` without attribute or index access (``{x.__class__}``, ``{x[0]}``)."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        return kwargs[field_name], field_name

    def format_field(self, value: Any, format_spec: str) -> Any:
        if any(int(n) > _MAX_FORMAT_NUMBER for n in re.findall(r"\d+", format_spec)):
            raise AgentInputError(f"format spec {format_spec!r} asks for too wide a field")
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError) as exc:
            raise AgentInputError(f"cannot format {value!r} with {format_spec!r}: {exc}") from None


def template_fields(template: str) -> list[str]:
    """Placeholder names in `template`, nested format specs included, in order.

    Raises:
        AgentInputError: Braces are unbalanced, a placeholder is empty or positional, or it
            uses attribute or index access.
    """
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise AgentInputError(
            f"template is malformed: {exc}", hint="write literal braces as {{ and }}"
        ) from None
    for _, field, spec, _ in parsed:
        if field is None:
            continue
        if not field.isidentifier():
            raise AgentInputError(
                f"placeholder {{{field}}} is not allowed: use a plain name like {{total}}",
                hint="attribute access, indexing and positional {} are refused",
            )
        names.append(field)
        if spec and "{" in spec:
            names += template_fields(spec)
    return list(dict.fromkeys(names))


def render_template(template: str, values: Mapping[str, Any]) -> str:
    """Fill `template` from `values`, refusing unsafe placeholders and naming missing ones."""
    missing = [n for n in template_fields(template) if n not in values]
    if missing:
        raise AgentInputError(
            "no value for " + ", ".join(f"{{{n}}}" for n in missing),
            hint="add them to `values`: " + ", ".join(repr(n) for n in missing),
        )
    return _SafeFormatter().vformat(template, (), values)


# --- extractors (offline planner) ----------------------------------------------------------

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


def agents(resources: AgentResources) -> list[Agent]:
    """The text agents; summarize, extract and classify use `resources.model` if set."""
    model = resources.model
    engine = engine_of(model)
    prompts = load_prompts() if model is not None else {}
    # A model's answer is not a function of the inputs alone: do not cache it.
    offline = model is None

    @agent(
        "text.extract",
        description=(
            "Extract email addresses, URLs, numbers, dates or regular-expression matches from text."
        ),
        risk=Risk.READ,
        cacheable=offline,
        examples=(
            "extract the email addresses from it",
            "find all the links in the page",
            "pull out the numbers from the text",
            "get the dates mentioned in it",
            "find the matches of /order-\\d+/ in the text",
        ),
        tags=_TAGS,
        extract=extract_extract,
    )
    async def extract(inputs: ExtractInput, ctx: AgentContext) -> ExtractOutput:
        # A regular expression means exactly what it says: no model second-guesses it.
        if model is None or inputs.kind == "regex":
            log_engine(ctx, "extract", OFFLINE, None)
            matches = extract_matches(inputs)
            return ExtractOutput(matches=matches, count=len(matches), engine=OFFLINE)
        prompt = prompts["extract"]
        log_engine(ctx, "extract", engine, prompt)
        found = await extract_with(
            model, prompt, text=inputs.text, kind=inputs.kind, scope=scope_for(ctx)
        )
        if inputs.kind in ("emails", "urls"):  # as offline: each address once
            found = list(dict.fromkeys(found))
        return ExtractOutput(matches=found, count=len(found), engine=engine)

    @agent(
        "text.transform",
        description=(
            "Change text: upper/lower/title case, strip or collapse whitespace, "
            "find-and-replace, truncate, or make a slug."
        ),
        risk=Risk.READ,
        cacheable=True,
        examples=(
            "convert it to uppercase",
            "make the text lowercase",
            "replace 'foo' with 'bar' in it",
            "truncate it to 100 characters",
            "trim the whitespace",
        ),
        tags=_TAGS,
        extract=extract_transform,
    )
    async def transform_text(inputs: TransformInput) -> TextOutput:
        return TextOutput(text=transform(inputs))

    @agent(
        "text.template",
        description="Fill a text template's {name} placeholders from a dictionary of values.",
        risk=Risk.READ,
        cacheable=True,
        examples=(
            'fill the template "Hello {name}" with name=Dana',
            "render the message template with the result",
            "format 'Total: {total}' with the totals",
        ),
        tags=_TAGS,
        extract=extract_template,
    )
    async def template(inputs: TemplateInput) -> TextOutput:
        return TextOutput(text=render_template(inputs.template, inputs.values))

    @agent(
        "text.summarize",
        description=(
            "Summarize text in a few sentences (with the configured language model, or "
            "offline by picking its most representative sentences)."
        ),
        risk=Risk.READ,
        cacheable=offline,
        examples=(
            "summarize it in 2 sentences",
            "summarize the text",
            "give me a short summary of the page",
            "condense the report into three sentences",
            "tl;dr of it",
        ),
        tags=_TAGS,
        extract=extract_summarize,
    )
    async def summarize_text(inputs: SummarizeInput, ctx: AgentContext) -> SummarizeOutput:
        if model is None:
            log_engine(ctx, "summarize", OFFLINE, None)
            kept = summarize(inputs.text, inputs.max_sentences)
        else:
            prompt = prompts["summarize"]
            log_engine(ctx, "summarize", engine, prompt)
            kept = await summarize_with(
                model,
                prompt,
                text=inputs.text,
                max_sentences=inputs.max_sentences,
                scope=scope_for(ctx),
            )
        return SummarizeOutput(summary=" ".join(kept), sentences=kept, engine=engine)

    classify = classify_agent(model, prompts.get("classify"), tags=_TAGS)
    return [extract, transform_text, template, summarize_text, classify]
