from __future__ import annotations

import pytest

from baton.planning.offline.clauses import split_clauses


def texts(request: str) -> list[tuple[str, bool]]:
    return [(c.text, c.ordered) for c in split_clauses(request)]


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        pytest.param(
            "read notes.txt and summarize it in 2 sentences",
            [("read notes.txt", False), ("summarize it in 2 sentences", False)],
            id="and-before-verb",
        ),
        pytest.param(
            "fetch https://api.example.com/items?a=1&b=2 then save it to items.json",
            [
                ("fetch https://api.example.com/items?a=1&b=2", False),
                ("save it to items.json", True),
            ],
            id="then",
        ),
        pytest.param(
            "load sales.csv, keep the rows where amount > 100, then total amount by region",
            [
                ("load sales.csv", False),
                ("keep the rows where amount > 100", False),
                ("total amount by region", True),
            ],
            id="comma-before-verb",
        ),
        pytest.param(
            "read a.txt and then summarize it",
            [("read a.txt", False), ("summarize it", True)],
            id="and-then",
        ),
        pytest.param(
            "read a.txt. After that, summarize it; afterwards email it to x@y.com",
            [("read a.txt", False), ("summarize it", True), ("email it to x@y.com", True)],
            id="after-that-afterwards",
        ),
        pytest.param(
            "First, read a.txt. Next, summarize it. Finally email it to x@y.com.",
            [("read a.txt", False), ("summarize it", True), ("email it to x@y.com", True)],
            id="first-next-finally",
        ),
        pytest.param(
            "read a.txt; read b.txt",
            [("read a.txt", False), ("read b.txt", False)],
            id="semicolon",
        ),
        pytest.param(
            "1. read a.txt\n2. summarize it",
            [("read a.txt", False), ("summarize it", True)],
            id="numbered-lines",
        ),
        pytest.param(
            "Please read notes.txt, and email it to ops@example.com",
            [("read notes.txt", False), ("email it to ops@example.com", False)],
            id="comma-and",
        ),
    ],
)
def test_splits_on_connectives(request_text: str, expected: list[tuple[str, bool]]) -> None:
    assert texts(request_text) == expected


@pytest.mark.parametrize(
    "request_text",
    [
        "schedule a call with alice@x.com and bob@x.com tomorrow",
        "select the name and email columns",
        "book 'Fish and chips, then dessert' at 3pm",
        'create an event "Plan and then review" tomorrow',
        "read docs/then/and/notes.txt",
        "fetch https://example.com/search?q=this+and+that",
        "list the files and folders in reports",
    ],
)
def test_does_not_split_inside_values_or_noun_lists(request_text: str) -> None:
    assert texts(request_text) == [(request_text, False)]


def test_sentence_end_is_not_a_file_extension() -> None:
    assert texts("Read notes.txt. Summarize it.") == [
        ("Read notes.txt", False),
        ("Summarize it", True),
    ]


def test_first_clause_is_never_ordered() -> None:
    assert texts("then read notes.txt") == [("read notes.txt", False)]


def test_extra_verbs_come_from_the_caller() -> None:
    request = "read a.txt and frobnicate in place"
    assert len(split_clauses(request)) == 1
    assert [c.text for c in split_clauses(request, {"read", "frobnicate"})] == [
        "read a.txt",
        "frobnicate in place",
    ]


def test_unknown_verb_before_an_object_still_splits() -> None:
    # Otherwise "water the plants" would be swallowed by "load sales.csv" and never reported.
    assert texts("load sales.csv and water the plants") == [
        ("load sales.csv", False),
        ("water the plants", False),
    ]


def test_blank_request_has_no_clauses() -> None:
    assert split_clauses("  ,. ;  ") == []


def test_mask_markers_in_the_request_are_harmless() -> None:
    assert texts("read \ue0007\ue001 notes.txt") == [("read 7 notes.txt", False)]


def test_long_runs_split_in_linear_time() -> None:
    # Quadratic masking would take seconds here; the planner accepts requests this long.
    assert len(split_clauses("a." * 5000 + " and read it")) == 2
