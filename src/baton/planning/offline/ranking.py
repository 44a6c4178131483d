# pyright: strict
"""Rank agents against a clause by what their names, descriptions and examples say.

Ranking is BM25 (the `bm25s` library) over one document per agent. Clause and documents go
through the same normalisation, so arguments become word classes: a URL becomes ``<url>``,
``sales.csv`` becomes ``<file> <csv>``, ``ops@example.com`` becomes ``<email>``. That way the
example "read notes.txt" matches "read report.md", and "fetch https://..." leans towards the HTTP
agent without any agent-specific rule here. BM25's IDF does what fuzzy string ratios cannot: a word
that only one agent uses ("summarize", "uppercase") outweighs words every agent uses ("file").

A misspelt word ("sumarize") is mapped to the closest vocabulary word with rapidfuzz first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import bm25s  # pyright: ignore[reportMissingTypeStubs]
from rapidfuzz import fuzz, process

from baton.agents.protocol import AgentSpec

# As in `clauses`, values start only where a run of word characters starts, so that scanning
# stays linear in the length of the text.
_TOKEN = re.compile(
    r"""
      (?P<url>(?<![\w+.-])[a-z][a-z0-9+.-]*://\S+)
    | (?P<email>(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
    | (?P<quoted>"[^"]*"|(?<![\w'])'[^']+'(?!\w)|\u201c[^\u201d]*\u201d|\u2018[^\u2019]*\u2019)
    | (?P<file>(?<![\w~./-])(?:[\w~.-]*/)*[\w-]+\.(?P<ext>[a-z][a-z0-9]{0,7})\b)
    | (?P<folder>(?<![\w~./-])(?:[\w~.-]+/)+[\w.-]*)
    | (?P<number>\d+(?:[.:]\d+)*)
    | (?P<word>[a-z]+)
    """,
    re.VERBOSE | re.IGNORECASE,
)

_STOPWORDS = frozenset(
    str.split(
        """
    a an the this that these those it its them they their there here me my mine us our we you
    your i he she him her his is are was were be been being am do does did doing have has had
    of to in on at by for with from into onto as about and or but if so than too very just
    please can could would should will shall may might must some any all each every
    what which who whom whose when where why how up out over again also only then now
    """
    )
)

_VARIANTS = {"summarise": "summarize", "summarised": "summarize", "tldr": "summary"}
_TYPO_MIN_LEN = 5  # shorter words are too easily "corrected" into another word
_TYPO_MAX_LEN = 30  # no word is longer; a 10,000-letter "word" would cost seconds to compare
_TYPO_CUTOFF = 85.0
_CLASS = "<"  # prefix of word-class tokens


def tokens(text: str) -> list[str]:
    """Normalised words of `text`: arguments as word classes, no stop words, no plurals."""
    out: list[str] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "file":
            out += ["<file>", f"<{m.group('ext').lower()}>"]
        elif kind in ("url", "email", "folder"):
            out.append(f"<{kind}>")
        elif kind == "word":
            word = _stem(m.group(0).lower())
            if word not in _STOPWORDS:
                out.append(word)
        # quoted text and numbers are values, not words about the action: left out
    return out


def _stem(word: str) -> str:
    word = _VARIANTS.get(word, word)
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


class _Bm25(Protocol):
    """The part of `bm25s.BM25` used here (the library ships no type information)."""

    def index(self, corpus: list[list[str]], *, show_progress: bool) -> None: ...

    def get_scores(self, query_tokens_single: list[str]) -> Iterable[float]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Ranked:
    """One agent's match with a clause."""

    agent: str
    """The agent's name."""
    score: float
    """BM25 score relative to the best agent for this clause (1.0 for the best)."""
    coverage: float
    """Share of the clause's words (arguments left out) that the agent's texts use."""
    verb_known: bool
    """Whether the agent's texts use the clause's first word (usually its verb)."""


class AgentRanker:
    """Scores clauses against a fixed set of agents; build one per planning call.

    Args:
        specs: The agents to rank.
    """

    def __init__(self, specs: Sequence[AgentSpec]) -> None:
        self._names = [s.name for s in specs]
        docs = [[t for text in _texts(s) for t in tokens(text)] for s in specs]
        self._vocabs = [frozenset(d) for d in docs]
        self._known = frozenset[str]().union(*self._vocabs)
        self._vocab = sorted(self._known)  # sorted: typo correction must be deterministic
        self._index = cast("_Bm25", bm25s.BM25())
        if any(docs):
            self._index.index(docs, show_progress=False)

    def rank(self, clause: str) -> list[Ranked]:
        """Agents that share a word with `clause`, best first (ties by name)."""
        query = [self._correct(t) for t in tokens(clause)]
        known = [t for t in query if t in self._known]
        if not known:
            return []
        raw = [float(s) for s in self._index.get_scores(known)]
        top = max(raw)
        words = [t for t in query if not t.startswith(_CLASS)]
        # A clause of bare values ("notes.txt", a URL) says nothing about what to do with them:
        # it covers nothing, so no agent serves it on the strength of the values alone.
        found = [
            Ranked(
                agent=name,
                score=s / top,
                coverage=sum(w in vocab for w in words) / len(words) if words else 0.0,
                verb_known=bool(words) and words[0] in vocab,
            )
            for name, vocab, s in zip(self._names, self._vocabs, raw, strict=True)
            if s > 0
        ]
        return sorted(found, key=lambda r: (-r.score, r.agent))

    def _correct(self, token: str) -> str:
        if (
            token in self._known
            or token.startswith(_CLASS)
            or not (_TYPO_MIN_LEN <= len(token) <= _TYPO_MAX_LEN)
        ):
            return token
        match = process.extractOne(token, self._vocab, scorer=fuzz.ratio, score_cutoff=_TYPO_CUTOFF)
        return match[0] if match else token


def _texts(spec: AgentSpec) -> list[str]:
    name_words = re.sub(r"[._-]+", " ", spec.name)
    return [name_words, spec.description, *spec.examples]


__all__ = ["AgentRanker", "Ranked", "tokens"]
