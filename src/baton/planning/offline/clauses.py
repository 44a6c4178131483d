# pyright: strict
"""Split a request into clauses, one action each, keeping the order words between them.

"read notes.txt and summarize it, then email it to ops@example.com" has three clauses; the
first two are joined by "and" (no order implied), the third comes after the second ("then").
Quoted text, URLs, e-mail addresses and paths are masked before splitting, so the "and" in
``'Q3 and Q4'`` or the dot in ``notes.txt`` never splits anything. "and" splits only when a
verb phrase follows it, so noun lists ("the name and email columns") stay whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Spans that are never split; order matters (a URL contains a path, a quote may contain both).
# Values start only where a run of word characters starts ((?<![...])): trying every position
# inside "a.a.a.a..." would make masking quadratic in the request's length.
_PROTECTED = re.compile(
    r"""
      "[^"\n]*"                                   # "double quoted"
    | (?<![\w'])'[^'\n]+'(?![\w])                 # 'single quoted', not an apostrophe
    | \u201c[^\u201d\n]*\u201d                     # typographic double quotes
    | \u2018[^\u2019\n]*\u2019                     # typographic single quotes
    | `[^`\n]*`                                   # back quotes
    | (?<![\w+.-])[a-z][a-z0-9+.-]*://[^\s"'<>]*[^\s"'<>.,;:!?)]   # URLs, no trailing punctuation
    | (?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+    # e-mail addresses
    | (?<![\w.~/-])(?:~|\.{1,2})?/?(?:[\w.-]+/)+[\w.-]*[\w-]   # paths with a slash
    | (?<![\w.-])[\w-]+(?:\.[A-Za-z0-9]{1,8})+\b   # file names with an extension, decimals
    """,
    re.VERBOSE | re.IGNORECASE,
)
_MASK = re.compile("\ue000(\\d+)\ue001")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")

# Words that say "after the previous clause" and are dropped from the clause text.
_ORDERED = re.compile(
    r"(?:\s*,\s*|\s+|^)(?:and\s+)?"
    r"(?:then|after\s+that|afterwards|after\s+which|finally|lastly|next\s*,)"
    r"(?:\s*,)?(?:\s+|$)",
    re.IGNORECASE,
)
# Candidate "no order" joins; kept only when a verb phrase follows (see `_starts_verb_phrase`).
_UNORDERED = re.compile(r"\s*;\s*|\s*,\s*(?:and\s+|also\s+)?|\s+and\s+(?:also\s+)?", re.IGNORECASE)
_LEADING_FILLER = re.compile(
    r"^(?:(?:please|also|and|first|firstly|now|then|kindly|can you|could you|would you)\b[\s,]*)+",
    re.IGNORECASE,
)
_EDGE_PUNCT = " \t,;:.!?-"

# After a verb, these words show a verb phrase ("email it", "summarize the text") rather than a
# noun that happens to be a verb ("the name and email columns").
_OBJECT_STARTERS = frozenset(
    str.split(
        """
    a an the this that these those my our your its their his her all every each some any no
    it them me us him everyone everything something
    """
    )
)
_PHRASE_STARTERS = _OBJECT_STARTERS | frozenset(
    str.split(
        """
    to into in on onto from with by for as at about up out down over back off
    only just again also now both
    """
    )
)

BASE_VERBS = frozenset(
    str.split(
        """
    read open load fetch get download request call post put query check ping
    write save store put append export import create make add book schedule plan reschedule
    list show find search look locate scan browse count
    summarize summarise extract pull grab parse convert transform format render fill replace
    uppercase lowercase trim split join merge combine clean translate
    filter keep drop remove select pick choose sort group aggregate total sum average compute
    calculate tally
    send email mail notify tell message alert inform remind ping text
    delete copy move rename upload
    """
    )
)
"""Imperative verbs that start a clause; the planner adds the first words of agent examples."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Clause:
    """One action of a request."""

    text: str
    """The clause, with its connective words removed and quoted text restored."""
    ordered: bool
    """It must run after the previous clause ("then", a new sentence); false for "and"."""


def split_clauses(request: str, verbs: Iterable[str] = BASE_VERBS) -> list[Clause]:
    """Split `request` into clauses, in order.

    Args:
        request: The plain-language request.
        verbs: Lower-case words that may start a clause (decides whether "and" splits).

    Returns:
        The non-empty clauses; the first is never ``ordered``.
    """
    verb_set = frozenset(v.lower() for v in verbs)
    # The mask markers are private-use characters; a request carrying them would unmask wrongly.
    masked, spans = _mask(request.replace("\ue000", "").replace("\ue001", ""))
    clauses: list[Clause] = []
    for sentence_no, sentence in enumerate(_sentences(masked)):
        for part_no, (part, ordered) in enumerate(_split_sentence(sentence, verb_set)):
            text = _clean(_unmask(part, spans))
            if text:
                # A new sentence is ordered after the previous one: narration order is the
                # safe reading when no "and" says the two are independent.
                ordered_here = ordered or (part_no == 0 and sentence_no > 0)
                clauses.append(Clause(text=text, ordered=ordered_here and bool(clauses)))
    return clauses


def find_sources(text: str) -> list[str]:
    """URLs and file paths named in `text`, in order: where data can be read from."""
    found: list[str] = []
    for m in _PROTECTED.finditer(text):
        value = m.group(0)
        quoted = value[0] in "\"'`\u201c\u2018"
        if not quoted and "@" not in value and not value.replace(".", "").isdigit():
            found.append(value)
    return found


def _mask(text: str) -> tuple[str, list[str]]:
    spans: list[str] = []

    def keep(m: re.Match[str]) -> str:
        spans.append(m.group(0))
        return f"\ue000{len(spans) - 1}\ue001"

    return _PROTECTED.sub(keep, text), spans


def _unmask(text: str, spans: Sequence[str]) -> str:
    return _MASK.sub(lambda m: spans[int(m.group(1))], text)


def _sentences(masked: str) -> list[str]:
    # Lines first, so "1. read a.txt" loses its list number before "1." can end a sentence.
    lines = (_BULLET.sub("", line) for line in masked.splitlines())
    return [s for line in lines for s in _SENTENCE_END.split(line) if s.strip()]


def _split_sentence(sentence: str, verbs: frozenset[str]) -> list[tuple[str, bool]]:
    """Split on order words first, then on "and" / "," / ";" before a verb phrase."""
    parts: list[tuple[str, bool]] = []
    start = 0
    ordered = False
    for m in _ORDERED.finditer(sentence):
        parts += _split_unordered(sentence[start : m.start()], ordered, verbs)
        start, ordered = m.end(), True
    parts += _split_unordered(sentence[start:], ordered, verbs)
    return parts


def _split_unordered(text: str, ordered: bool, verbs: frozenset[str]) -> list[tuple[str, bool]]:
    if not text.strip():
        # "then" at the very start: the order carries over to the next clause of the sentence.
        return [("", ordered)] if ordered else []
    parts: list[tuple[str, bool]] = []
    start = 0
    for m in _UNORDERED.finditer(text):
        if m.start() <= start or not (
            ";" in m.group(0) or _starts_verb_phrase(text[m.end() :], verbs)
        ):
            continue
        parts.append((text[start : m.start()], ordered if not parts else False))
        start = m.end()
    parts.append((text[start:], ordered if not parts else False))
    return _carry_order(parts)


def _carry_order(parts: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    # An empty part (e.g. from "then, and ...") passes its order on to the next real clause.
    out: list[tuple[str, bool]] = []
    pending = False
    for text, ordered in parts:
        if not _clean(text):
            pending = pending or ordered
            continue
        out.append((text, ordered or pending))
        pending = False
    if pending:
        out.append(("", True))
    return out


def _starts_verb_phrase(rest: str, verbs: frozenset[str]) -> bool:
    words = rest.split()
    if not words:
        return False
    first = words[0].lower()
    second = words[1].lower().strip(",.;:") if len(words) > 1 else ""
    if first not in verbs:
        # An unknown word before an article is still an action ("and water the plants"): split,
        # so it is reported as not understood instead of being swallowed by the clause before.
        return first.isalpha() and second in _OBJECT_STARTERS
    if not second:
        return True
    return (
        second in _PHRASE_STARTERS
        or "\ue000" in second
        or second[0].isdigit()
        or second.startswith(("$", "#"))
    )


def _clean(text: str) -> str:
    text = text.strip(_EDGE_PUNCT)
    text = _LEADING_FILLER.sub("", text)
    return " ".join(text.split()).strip(_EDGE_PUNCT)
