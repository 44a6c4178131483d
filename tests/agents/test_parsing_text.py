"""The generic sentence parsers in baton.agents.parsing.text."""

from __future__ import annotations

import pytest

from baton.agents import parsing
from baton.agents.parsing import text as p


def test_public_surface() -> None:
    assert parsing.__all__ == sorted(parsing.__all__)
    for name in parsing.__all__:
        assert getattr(parsing, name) is getattr(p, name)


def test_emails() -> None:
    assert p.find_emails("Mail dana@example.com, Ops@Example.co.uk. and dana@example.com") == [
        "dana@example.com",
        "Ops@Example.co.uk",
    ]
    assert p.find_emails("no @ here, nor user@localhost") == []


def test_urls_lose_sentence_punctuation() -> None:
    assert p.find_urls("See https://ex.com/a?b=1. Or (http://x.org/wiki/Foo_(bar)), ok?") == [
        "https://ex.com/a?b=1",
        "http://x.org/wiki/Foo_(bar)",
    ]
    assert p.find_urls("ftp://files.example.com and www.example.com") == []


@pytest.mark.parametrize(
    ("sentence", "paths"),
    [
        ("read notes.txt", ["notes.txt"]),
        ("read the file docs/plan.md.", ["docs/plan.md"]),
        ("write it to 'my notes.txt' and ./out/a", ["my notes.txt", "./out/a"]),
        ("list the files in reports/2024", ["reports/2024"]),
        ("go to example.com e.g. now", []),
        ("on 3/4/2025 version 1.2 costs 3.50 and/or more", []),
        ("email dana@example.com or see https://x.org/a.json", []),
        ('write "done. See log.txt" to out.txt', ["out.txt"]),
    ],
)
def test_paths(sentence: str, paths: list[str]) -> None:
    assert p.find_paths(sentence) == paths


def test_quoted_ignores_apostrophes_and_nesting() -> None:
    text = "don't say \"it's 'fine'\" or \u201ccurly\u201d or 'single' or `tick`"
    assert p.find_quoted(text) == ["it's 'fine'", "curly", "single", "tick"]
    assert "single" not in p.without_quoted(text)
    assert len(p.without_quoted(text)) == len(text)


def test_numbers() -> None:
    assert p.find_numbers("1,234.5 and -3, 7 items, mp3, 2nd, https://x.io/9 a@b9.com") == [
        1234.5,
        -3,
        7,
    ]


@pytest.mark.parametrize(
    ("sentence", "count"),
    [
        ("summarize it in 2 sentences", 2),
        ("in two short sentences", 2),
        ("a one-sentence summary", 1),
        ("write it as three sentences", 3),
        ("a couple of sentences", 2),
        ("in a single sentence", 1),
        ("summarize it in sentences", None),
        ("in few sentences", None),
    ],
)
def test_count_before(sentence: str, count: int | None) -> None:
    assert p.count_before(sentence, ("sentence", "sentences")) == count


def test_parse_count() -> None:
    assert [p.parse_count(w) for w in ("3", "Three", "twelve", "many")] == [3, 3, 12, None]


@pytest.mark.parametrize(
    ("clause", "refers"),
    [
        ("summarize it", True),
        ("filter the rows where a > 1", True),
        ("send the result to dana@example.com", True),
        ("notify ops that the build passed", False),
        ("read notes.txt", False),
        ("write 'it is done' to a.txt", False),
    ],
)
def test_refers_to_previous(clause: str, refers: bool) -> None:
    assert p.refers_to_previous(clause) is refers


def test_word_after_and_split_list() -> None:
    assert p.word_after("list the files in the reports folder", ["in"]) == "reports"
    assert p.word_after("list the files", ["in"]) is None
    assert p.split_list("the name, email and phone") == ["name", "email", "phone"]
    assert p.split_list("region & month") == ["region", "month"]
    assert p.split_list("x and , y") == ["x", "y"]


def test_emails_with_apostrophes_and_quotes() -> None:
    assert p.find_emails("ask o'brien@example.com and 'lee@x.io' (or \"kim@x.io\")") == [
        "o'brien@example.com",
        "lee@x.io",
        "kim@x.io",
    ]
    assert p.find_emails("'@x.io and ''a@x.io") == []  # no address, rather than half of one


def test_quotes_close_on_their_own_line() -> None:
    text = "say \u201cone \u201ctwo\u201d then \u201cthree\nfour\u201d"
    assert p.find_quoted(text) == ["one \u201ctwo"]
    assert p.without_quoted(text) == "say " + " " * 10 + " then \u201cthree\nfour\u201d"


MB = 1_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Runs that a pattern could rescan from each of their positions; each is 1 MB, with
        # one real value at the end that must still be found.
        (
            "a." * (MB // 2) + " x@y.io",
            {"emails": ["x@y.io"], "paths": ["a." * (MB // 2 - 1) + "a"]},
        ),
        ("%a" * (MB // 2) + " x@y.io", {"emails": ["x@y.io"]}),
        ("a''" * (MB // 3) + " x@y.io", {"emails": ["x@y.io"]}),
        ("x@" + "a-." * (MB // 3) + " x@y.io", {"emails": ["x@y.io"]}),
        ("see https://x.io/a" + ")" * MB, {"urls": ["https://x.io/a"]}),
        ("\u201c" * MB + ' "q"', {"quoted": ["q"]}),
        ("\u2018 " * (MB // 2) + " `q`", {"quoted": ["q"]}),
        ("'a' " * (MB // 4), {"quoted": ["a"] * (MB // 4), "paths": []}),
        ("x" + " " * MB + ", y", {"split": ["x", "y"]}),
        ("x" + " " * MB + "and y", {"split": ["x", "y"]}),
        ("1," * (MB // 2) + " 7", {"numbers": [1] * (MB // 2) + [7]}),
        ("a/" * (MB // 2) + "!", {"paths": ["a/" * (MB // 2)]}),
        ("in " * (MB // 3) + "reports", {"word_after": "reports"}),
        ("1 " * (MB // 2) + "lines", {"count": 1}),
    ],
    ids=lambda v: repr(v[:12]) if isinstance(v, str) else None,
)
def test_megabyte_inputs_are_read_in_linear_time(text: str, expected: dict[str, object]) -> None:
    # Only results are asserted: a super-linear pattern would run far past the test timeout.
    readers = {
        "emails": p.find_emails,
        "urls": p.find_urls,
        "quoted": p.find_quoted,
        "split": p.split_list,
        "numbers": p.find_numbers,
        "paths": p.find_paths,
        "word_after": lambda t: p.word_after(t, ["in"], skip=["in"]),
        "count": lambda t: p.count_before(t, ["lines"]),
    }
    for name, want in expected.items():
        assert readers[name](text) == want, name
