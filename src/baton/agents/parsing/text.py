"""Generic sentence parsers that any agent's input extractor can reuse.

They find the concrete values a request names (email addresses, URLs, file paths, quoted strings,
numbers) and answer a few questions about phrasing ("does this clause refer to earlier data?").
All are pure functions over a string, return values in order of appearance, and never guess:
a value that is not written in the text is not returned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Linear on any input: the lookbehinds let a match start only at the start of a run of address
# characters (or just after a quote opening it), so no run is scanned from each of its positions.
# An apostrophe may sit inside the local part ("o'brien@x.io") but not open or close it, so a
# quoted address ('dana@x.io') is read without its quotes.
EMAIL_RE = re.compile(
    r"(?<![\w.%+-])(?<![\w.%+'-]')"
    r"[A-Za-z0-9._%+-](?:[A-Za-z0-9._%+'-]*[A-Za-z0-9._%+-])?"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
URL_RE = re.compile(r"\bhttps?://[^\s<>\"'`{}|\\^]+", re.IGNORECASE)
# Grouped thousands ("1,234.5") first so they are not cut at the comma; digits glued to letters
# ("mp3", "2nd") are not numbers of the sentence.
NUMBER_RE = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w]|\.\d)")

_QUOTE_PAIRS = (('"', '"'), ("\u201c", "\u201d"), ("\u2018", "\u2019"), ("`", "`"))
# A single quote only opens at a word boundary and closes before one, so apostrophes
# ("don't", "the team's") are not read as quotes.
_SINGLE_QUOTED = re.compile(r"(?<!\w)'([^'\n]+?)'(?!\w)")
# A separator starts where its whitespace starts ((?<!\s)), or a long run of spaces would be
# scanned again from each of its positions.
_LIST_SEPARATOR = re.compile(r"(?:(?<!\s)\s+)?,\s*(?:and\s+|or\s+)?|(?<!\s)\s+(?:and|or|&)\s+")
_TRAILING_PUNCT = ".,;:!?)]}'\""
_LEADING_PUNCT = "([{'\"<"

# Tokens with a dot that are not file names: abbreviations, and domain names whose "extension"
# is a top-level domain ("example.com").
_NOT_EXTENSIONS = frozenset({"com", "org", "net", "io", "dev", "ai", "co", "gov", "edu", "uk"})
_NOT_PATHS = frozenset({"e.g", "i.e", "etc", "vs", "and/or", "either/or", "n/a", "w/o", "i/o"})
_FILE_NAME = re.compile(r"^[\w.~\-/]*\w\.(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{1,8}$")
_WITH_SLASH = re.compile(r"^(?:~|\.{1,2})?/?[\w.\-]+(?:/[\w.\-]*)+$")

NUMBER_WORDS: dict[str, int] = {
    "a": 1,
    "an": 1,
    "single": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "couple": 2,
}
"""Words read as counts ("in two sentences", "a couple of lines")."""

_PREVIOUS_RE = re.compile(
    # Not "that": it is far more often a conjunction ("notify ops that the build passed").
    r"\b(?:it|them|this|these|those|its|their|"
    r"the (?:result|results|output|outputs|above|same|data|rows|records|text|content|contents|"
    r"summary|response|list|items|table|matches|values|answer|page|body|json))\b",
    re.IGNORECASE,
)
ARTICLES = frozenset({"the", "a", "an", "my", "our", "this", "that", "those", "these", "all"})
"""Words skipped when looking for the noun after a keyword."""


def find_emails(text: str) -> list[str]:
    """Email addresses in `text`, in order, without repeats."""
    return _unique(m.group(0).rstrip(".") for m in EMAIL_RE.finditer(text))


def find_urls(text: str) -> list[str]:
    """``http``/``https`` URLs in `text`, without trailing sentence punctuation."""
    return _unique(_strip_url(m.group(0)) for m in URL_RE.finditer(text))


def _strip_url(url: str) -> str:
    url = url.rstrip(".,;:!?'\"")
    # A closing parenthesis belongs to the URL only when it opened one ("wiki/Foo_(bar)").
    # Counted once and cut by index, so a URL ending in many ")" stays linear.
    opened, closed, end = url.count("("), url.count(")"), len(url)
    while end and url[end - 1] == ")" and opened < closed:
        end -= 1
        closed -= 1
        while end and url[end - 1] in ".,;:!?":
            end -= 1
    return url[:end]


def find_quoted(text: str) -> list[str]:
    """Strings between quotes (straight, curly or backticks), in order of appearance."""
    return [value for value, _, _ in quoted_spans(text)]


def quoted_spans(text: str) -> list[tuple[str, int, int]]:
    """Quoted strings with the ``(start, end)`` of each, quotes included, in order."""
    spans: list[tuple[str, int, int]] = []
    for opening, closing in _QUOTE_PAIRS:
        spans += _paired(text, opening, closing)
    spans += [(m.group(1), m.start(), m.end()) for m in _SINGLE_QUOTED.finditer(text)]
    spans.sort(key=lambda s: s[1])
    # Drop spans nested in an earlier one (a 'word' inside a "double-quoted sentence").
    kept: list[tuple[str, int, int]] = []
    for span in spans:
        if not kept or span[1] >= kept[-1][2]:
            kept.append(span)
    return kept


def _paired(text: str, opening: str, closing: str) -> list[tuple[str, int, int]]:
    """Each `opening` with the first `closing` after it on the same line, left to right.

    A scan rather than a regex: a pattern like ``“[^”]*”`` is tried again from every opener of
    a line with no closer, which is quadratic on a long line of openers.
    """
    spans: list[tuple[str, int, int]] = []
    pos, line_end = 0, -1
    while (start := text.find(opening, pos)) != -1:
        if start >= line_end:
            line_end = text.find("\n", start)
            if line_end == -1:
                line_end = len(text)
        end = text.find(closing, start + 1, line_end)
        if end == -1:  # no opener left on this line has a closer either
            pos = line_end
            continue
        spans.append((text[start + 1 : end], start, end + 1))
        pos = end + 1
    return spans


def without_quoted(text: str) -> str:
    """`text` with quoted strings blanked out, so their contents are not read as arguments."""
    parts: list[str] = []
    done = 0
    for _, start, end in quoted_spans(text):
        parts += [text[done:start], " " * (end - start)]
        done = end
    parts.append(text[done:])
    return "".join(parts)


def looks_like_path(token: str) -> bool:
    """Whether `token` reads as a file path: it has a slash or a file extension.

    URLs, email addresses, numbers, dates like ``3/4/2025`` and abbreviations are not paths.
    """
    if not token or "://" in token or "@" in token or token.lower() in _NOT_PATHS:
        return False
    if re.fullmatch(r"[\d/.\-]+", token):
        return False
    if _WITH_SLASH.match(token):
        return True
    if _FILE_NAME.match(token):
        return token.rsplit(".", 1)[1].lower() not in _NOT_EXTENSIONS
    return False


def find_paths(text: str) -> list[str]:
    """File paths in `text`: quoted strings that look like paths, then bare tokens that do."""
    found = [q.strip() for q in find_quoted(text) if _quoted_path(q.strip())]
    for token in without_quoted(text).split():
        cleaned = clean_token(token)
        if looks_like_path(cleaned):
            found.append(cleaned)
    return _unique(found)


def _quoted_path(value: str) -> bool:
    # Quotes are how people write names with spaces ('my notes.txt'); a quoted sentence that
    # merely mentions a file ("done. See log.txt") is a message, not a path.
    if ". " in value or value.count(" ") > 3:
        return False
    return looks_like_path(value.replace(" ", "_"))


def clean_token(token: str) -> str:
    """`token` without the punctuation that sentences put around words."""
    return token.lstrip(_LEADING_PUNCT).rstrip(_TRAILING_PUNCT)


def mask(text: str, *patterns: re.Pattern[str]) -> str:
    """`text` with every match of `patterns` blanked out (positions are kept)."""
    for pattern in patterns:
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return text


def find_numbers(text: str) -> list[int | float]:
    """Numbers written with digits, as ints or floats ("1,234.5" -> 1234.5).

    Digits inside URLs and email addresses are not numbers of the sentence.
    """
    values: list[int | float] = []
    for m in NUMBER_RE.finditer(mask(text, URL_RE, EMAIL_RE)):
        raw = m.group(0).replace(",", "")
        values.append(float(raw) if "." in raw else int(raw))
    return values


def parse_count(word: str) -> int | None:
    """A count written as digits or a word ("3", "three", "a"); None if it is neither."""
    word = word.strip().lower()
    if word.isdigit():
        return int(word)
    return NUMBER_WORDS.get(word)


def count_before(text: str, nouns: Iterable[str]) -> int | None:
    """The count written just before one of `nouns`: "in 2 sentences", "three short lines".

    One adjective may sit between the count and the noun; "one-sentence" works too.
    """
    alternatives = "|".join(re.escape(n) for n in nouns)
    counts = "|".join(NUMBER_WORDS)
    pattern = rf"\b(\d+|{counts})[\s-]+(?:[a-z]+\s+)?(?:{alternatives})\b"
    m = re.search(pattern, text, re.IGNORECASE)
    return parse_count(m.group(1)) if m else None


def refers_to_previous(text: str) -> bool:
    """Whether the clause points at earlier data: "summarize it", "filter the rows"."""
    return _PREVIOUS_RE.search(without_quoted(text)) is not None


def word_after(text: str, keywords: Iterable[str], *, skip: Iterable[str] = ARTICLES) -> str | None:
    """The first word after any of `keywords`, skipping articles; None if there is none.

    ``word_after("list the files in the reports folder", ["in"])`` is ``"reports"``.
    """
    skipped = {s.lower() for s in skip}
    wanted = {k.lower() for k in keywords}
    tokens = without_quoted(text).split()
    for i, token in enumerate(tokens):
        if clean_token(token).lower() not in wanted:
            continue
        for following in tokens[i + 1 :]:
            word = clean_token(following)
            if word and word.lower() not in skipped:
                return word
    return None


def split_list(text: str) -> list[str]:
    """Items of a written list: "name, email and phone" -> ``["name", "email", "phone"]``."""
    parts = _LIST_SEPARATOR.split(text.strip())
    items: list[str] = []
    for part in parts:
        words = [w for w in part.split() if w.lower() not in ARTICLES]
        if words:
            items.append(clean_token(" ".join(words)))
    return [i for i in items if i]


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


__all__ = [
    "ARTICLES",
    "EMAIL_RE",
    "NUMBER_RE",
    "NUMBER_WORDS",
    "URL_RE",
    "clean_token",
    "count_before",
    "find_emails",
    "find_numbers",
    "find_paths",
    "find_quoted",
    "find_urls",
    "looks_like_path",
    "mask",
    "parse_count",
    "quoted_spans",
    "refers_to_previous",
    "split_list",
    "without_quoted",
    "word_after",
]
