"""Extractive summaries without a language model, deterministic for the same text.

Sentences are scored by how often their content words (stop words removed) occur in the whole
text, with a small bonus for coming early; the best ones are kept in their original order.
"""

from __future__ import annotations

import re
from collections import Counter

_ABBREVIATIONS_TEXT = "mr mrs ms dr prof sr jr st vs etc e.g i.e inc ltd co no fig approx dept est"
_STOP_WORDS_TEXT = """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself also may
    might must shall one two new like"""
_ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())
_STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())
_BOUNDARY = re.compile(r"[.!?]+[\"')\]]*(?=\s)|\n\s*\n")


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`; abbreviations ("Dr.", "e.g.") and initials do not end one."""
    sentences: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        before = text[start : m.start()].split()
        last = before[-1].lower().rstrip(".") if before else ""
        following = text[m.end() :].lstrip()
        if m.group(0).startswith(".") and (
            last in _ABBREVIATIONS or len(last) == 1 or following[:1].islower()
        ):
            continue
        sentences.append(text[start : m.end()])
        start = m.end()
    sentences.append(text[start:])
    return [" ".join(s.split()) for s in sentences if s.strip()]


def _content_words(sentence: str) -> list[str]:
    words = re.findall(r"[a-z0-9][a-z0-9'-]*", sentence.lower())
    return [w for w in words if w not in _STOP_WORDS and len(w) > 1]


def summarize(text: str, max_sentences: int) -> list[str]:
    """The `max_sentences` most representative sentences of `text`, in original order."""
    sentences = split_sentences(text)
    if len(sentences) <= max_sentences:
        return sentences
    words = [_content_words(s) for s in sentences]
    freq = Counter(w for ws in words for w in ws)
    top = max(freq.values(), default=1)
    n = len(sentences)
    scores: list[float] = []
    for i, ws in enumerate(words):
        density = sum(freq[w] / top for w in ws) / len(ws) if len(ws) >= 2 else 0.0
        # Early sentences tend to state the topic; the bonus breaks near-ties toward them.
        scores.append(density * (1.0 + 0.25 * (1 - i / n)))
    best = sorted(range(n), key=lambda i: (-scores[i], i))[:max_sentences]
    return [sentences[i] for i in sorted(best)]
