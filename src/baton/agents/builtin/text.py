"""Text agents: extract values, transform, fill templates, summarize, classify.

`text.summarize`, `text.extract` and `text.classify` use the configured language model when
there is one (`AgentResources.model`) and work offline otherwise; the output's `engine` says
which ran. `text.transform` and `text.template` are always offline: they must be exact.
Their inputs and outputs are in `text_models`, the offline work in `text_ops`, and the
offline planner's readers of their clauses in `text_extract`.
"""

from __future__ import annotations

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
from baton.agents.builtin.text_extract import (
    extract_extract,
    extract_summarize,
    extract_template,
    extract_transform,
)
from baton.agents.builtin.text_models import (
    ExtractInput,
    ExtractOutput,
    SummarizeInput,
    SummarizeOutput,
    TemplateInput,
    TextOutput,
    TransformInput,
)
from baton.agents.builtin.text_ops import extract_matches, render_template, transform
from baton.agents.decorator import agent
from baton.agents.protocol import Agent, AgentContext, Risk

__all__ = ["agents"]

_TAGS = ("builtin", "text")


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
