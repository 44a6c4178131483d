from __future__ import annotations

from baton.agents import AgentRegistry
from baton.planning.offline.ranking import AgentRanker, tokens


def ranker(registry: AgentRegistry) -> AgentRanker:
    return AgentRanker(registry.specs())


def test_tokens_turn_arguments_into_word_classes() -> None:
    assert tokens(
        "Load the Sales.CSV from https://x.org/a?b=1 and mail a.b@x.com 'Quoted Words' 42"
    ) == [
        "load",
        "<file>",
        "<csv>",
        "<url>",
        "mail",
        "<email>",
    ]
    assert tokens("summarise the files in docs/old/") == ["summarize", "file", "<folder>"]


def test_distinctive_words_decide(registry: AgentRegistry) -> None:
    ranked = ranker(registry).rank("summarize the text")
    assert ranked[0].agent == "text.summarize"
    assert ranked[0].score == 1.0
    assert all(r.score < 1.0 for r in ranked[1:])


def test_argument_classes_point_to_the_agent(registry: AgentRegistry) -> None:
    # "open" is in both the files.read and data.load examples; the .csv decides.
    assert ranker(registry).rank("open customers.csv")[0].agent == "data.load"
    assert ranker(registry).rank("open notes.txt")[0].agent == "files.read"


def test_misspelt_words_are_corrected(registry: AgentRegistry) -> None:
    assert ranker(registry).rank("sumarize it")[0].agent == "text.summarize"


def test_no_shared_word_ranks_nothing(registry: AgentRegistry) -> None:
    assert ranker(registry).rank("asdf qwerty zxcv") == []
    assert ranker(registry).rank("it, the, and") == []
    assert AgentRanker([]).rank("read notes.txt") == []


def test_coverage_and_verb(registry: AgentRegistry) -> None:
    best = ranker(registry).rank("summarize the sandwich")[0]
    assert best.agent == "text.summarize"
    assert best.coverage == 0.5
    assert best.verb_known
    other = next(r for r in ranker(registry).rank("read the summary") if r.agent == "files.read")
    assert other.verb_known
    assert other.coverage == 0.5


def test_ties_are_ordered_by_name(registry: AgentRegistry) -> None:
    first = ranker(registry).rank("rows")
    assert first == ranker(registry).rank("rows")
    scores = [(r.score, r.agent) for r in first]
    assert scores == sorted(scores, key=lambda s: (-s[0], s[1]))
