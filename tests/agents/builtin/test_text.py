"""text.extract / text.transform / text.template / text.summarize."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from baton.agents.builtin import text, text_extract
from baton.agents.builtin._summarize import split_sentences, summarize
from baton.agents.builtin.resources import AgentResources
from baton.agents.protocol import Agent, AgentContext, ExtractionContext
from baton.errors import AgentInputError

pytestmark = pytest.mark.anyio


@pytest.fixture
def by_name(tmp_path: Path) -> dict[str, Agent]:
    resources = AgentResources(workspace=tmp_path, calendar=cast("Any", object()))
    return {a.spec.name: a for a in text.agents(resources)}


async def call(agent: Agent, **inputs: Any) -> dict[str, Any]:
    model = agent.spec.input_model.model_validate(inputs)
    return (await agent.run(model, AgentContext(execution_id="e", step_id="s"))).model_dump()


SAMPLE = (
    "Write to dana@example.com or ops@example.org. (Dana again: dana@example.com.) "
    "Docs at https://example.com/docs, and http://x.org/a?b=1. "
    "We sold 1,234 units at 3.5 each, -2 returns, on 2025-03-04 and March 7, 2025."
)


@pytest.mark.parametrize(
    ("kind", "matches"),
    [
        ("emails", ["dana@example.com", "ops@example.org"]),
        ("urls", ["https://example.com/docs", "http://x.org/a?b=1"]),
        ("numbers", ["1,234", "3.5", "-2"]),
        ("dates", ["2025-03-04", "March 7, 2025"]),
    ],
)
async def test_extract_kinds(by_name: dict[str, Agent], kind: str, matches: list[str]) -> None:
    out = await call(by_name["text.extract"], text=SAMPLE, kind=kind)
    assert out == {"matches": matches, "count": len(matches), "engine": "offline"}


async def test_extract_regex_returns_first_group(by_name: dict[str, Agent]) -> None:
    out = await call(
        by_name["text.extract"], text="order-12, order-7", kind="regex", pattern=r"order-(\d+)"
    )
    assert out["matches"] == ["12", "7"]


async def test_extract_regex_refusals(by_name: dict[str, Agent]) -> None:
    with pytest.raises(AgentInputError, match="needs a pattern"):
        await call(by_name["text.extract"], text="x", kind="regex")
    with pytest.raises(AgentInputError, match=r"not a valid regular expression.*position"):
        await call(by_name["text.extract"], text="x", kind="regex", pattern="(a")


@pytest.mark.parametrize(
    ("inputs", "result"),
    [
        ({"operation": "upper"}, "  HELLO   WORLD  "),
        ({"operation": "title"}, "  Hello   World  "),
        ({"operation": "strip"}, "hello   world"),
        ({"operation": "collapse_whitespace"}, "hello world"),
        ({"operation": "slugify"}, "hello-world"),
        ({"operation": "replace", "find": "world", "replace": "there"}, "  hello   there  "),
    ],
)
async def test_transform(by_name: dict[str, Agent], inputs: dict[str, Any], result: str) -> None:
    out = await call(by_name["text.transform"], text="  hello   world  ", **inputs)
    assert out == {"text": result}


async def test_truncate_respects_max_chars(by_name: dict[str, Agent]) -> None:
    sentence = "The quick brown fox jumps over the lazy dog"
    out = await call(by_name["text.transform"], text=sentence, operation="truncate", max_chars=20)
    assert out["text"] == "The quick brown fox\u2026"
    assert len(out["text"]) <= 20
    short = await call(by_name["text.transform"], text="short", operation="truncate", max_chars=20)
    assert short["text"] == "short"


async def test_transform_missing_arguments(by_name: dict[str, Agent]) -> None:
    with pytest.raises(AgentInputError, match="needs a non-empty `find`"):
        await call(by_name["text.transform"], text="x", operation="replace")
    with pytest.raises(AgentInputError, match="needs `max_chars`"):
        await call(by_name["text.transform"], text="x", operation="truncate")


async def test_template_fills_values(by_name: dict[str, Agent]) -> None:
    out = await call(
        by_name["text.template"],
        template="Hi {name}, total {amount:.2f} {{literal}}",
        values={"name": "Dana", "amount": 3.14159},
    )
    assert out == {"text": "Hi Dana, total 3.14 {literal}"}


async def test_template_names_every_missing_value(by_name: dict[str, Agent]) -> None:
    with pytest.raises(AgentInputError, match=r"no value for \{name\}, \{date\}"):
        await call(by_name["text.template"], template="{name} on {date}", values={})


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{user.__class__}", "not allowed"),
        ("{items[0]}", "not allowed"),
        ("{}", "not allowed"),
        ("{0}", "not allowed"),
        ("{name", "malformed"),
        ("{name:>99999999}", "too wide"),
        ("{name:{width}}", "too wide"),
    ],
)
async def test_template_refuses_unsafe_or_broken(
    by_name: dict[str, Agent], template: str, message: str
) -> None:
    values = {"user": "u", "items": [1], "name": "n", "width": 5000}
    with pytest.raises(AgentInputError, match=message):
        await call(by_name["text.template"], template=template, values=values)


ARTICLE = (
    "Solar power capacity grew quickly this year. "
    "Dr. Lee said the weather was mild. "
    "Solar panels got cheaper, so solar power installations doubled. "
    "The cafeteria served soup on Tuesday. "
    "Analysts expect solar capacity to keep growing as panels get cheaper."
)


def test_split_sentences_keeps_abbreviations() -> None:
    assert split_sentences("Dr. Lee met Mr. Smith, e.g. at noon. Then they left!  OK?") == [
        "Dr. Lee met Mr. Smith, e.g. at noon.",
        "Then they left!",
        "OK?",
    ]


def test_summarize_keeps_topical_sentences_in_order() -> None:
    kept = summarize(ARTICLE, 2)
    assert kept == [
        "Solar power capacity grew quickly this year.",
        "Solar panels got cheaper, so solar power installations doubled.",
    ]
    assert summarize(ARTICLE, 2) == kept  # deterministic


async def test_summarize_agent(by_name: dict[str, Agent]) -> None:
    out = await call(by_name["text.summarize"], text=ARTICLE, max_sentences=3)
    assert len(out["sentences"]) == 3
    assert out["summary"] == " ".join(out["sentences"])
    assert "cafeteria" not in out["summary"]
    short = await call(by_name["text.summarize"], text="Just one.", max_sentences=3)
    assert short == {"summary": "Just one.", "sentences": ["Just one."], "engine": "offline"}


NOW = ExtractionContext(now=datetime(2026, 1, 5, tzinfo=UTC))
AFTER = ExtractionContext(now=datetime(2026, 1, 5, tzinfo=UTC), previous_agents=("files.read",))


@pytest.mark.parametrize(
    ("clause", "inputs", "previous"),
    [
        ("summarize it in 2 sentences", {"max_sentences": 2}, ("text",)),
        ("give me a three-sentence summary", {"max_sentences": 3}, ("text",)),
        ("summarize the text", {}, ("text",)),
    ],
)
def test_extract_summarize(clause: str, inputs: dict[str, Any], previous: tuple[str, ...]) -> None:
    e = text_extract.extract_summarize(clause, AFTER)
    assert (e.inputs, e.from_previous) == (inputs, previous)


def test_extract_summarize_vague_count_and_nothing_before() -> None:
    assert text_extract.extract_summarize("summarize it in few sentences", AFTER).unparsed == (
        "few",
    )
    assert text_extract.extract_summarize("summarize the meeting", NOW).from_previous == ()


def test_extract_extract() -> None:
    e = text_extract.extract_extract("extract the email addresses from it", NOW)
    assert (e.inputs, e.from_previous) == ({"kind": "emails"}, ("text",))
    e = text_extract.extract_extract("find the links in 'see https://a.io/x'", NOW)
    assert (e.inputs, e.from_previous) == ({"kind": "urls", "text": "see https://a.io/x"}, ())
    e = text_extract.extract_extract(r"find the matches of /order-\d+/ in the text", NOW)
    assert e.inputs == {"kind": "regex", "pattern": r"order-\d+"}


def test_extract_transform() -> None:
    assert text_extract.extract_transform("convert it to uppercase", NOW).inputs == {
        "operation": "upper"
    }
    e = text_extract.extract_transform("replace 'foo' with 'bar' in it", NOW)
    assert e.inputs == {"operation": "replace", "find": "foo", "replace": "bar"}
    assert e.from_previous == ("text",)
    e = text_extract.extract_transform("truncate it to 100 characters", NOW)
    assert e.inputs == {"operation": "truncate", "max_chars": 100}


def test_extract_template() -> None:
    e = text_extract.extract_template('fill the template "Hello {name}" with name=Dana', NOW)
    assert e.inputs == {"template": "Hello {name}", "values": {"name": "Dana"}}
