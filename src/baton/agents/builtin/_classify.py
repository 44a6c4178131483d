"""Classify text offline: which label's words (and the keywords given for it) the text uses.

Each label is scored by the occurrences of its cue words in the text: the label's own words
and any keywords given for it. Words are compared after light stemming ("invoices" and
"invoice", "billing" and "billed"), and a misspelt word still counts, a little less, when it is
close enough (rapidfuzz ratio). A cue phrase found whole ("not urgent") counts extra, and a
label is weighted by how many of its own words were found, so that "not urgent" beats "urgent"
on "this is not urgent" and loses to it on "urgent!". Deterministic for the same input.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_FUZZY_MIN_LEN = 5  # shorter words are too easily taken for another one
_FUZZY_CUTOFF = 85.0
_PHRASE_BONUS = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Classification:
    """The best label and how clearly it won."""

    label: str | None
    """None when the text uses none of any label's cue words."""
    confidence: float
    """The best label's share of all labels' scores (0 with no evidence)."""
    scores: dict[str, float]
    """Every label's score (0: no cue word found)."""


def _stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            return base + "y" if suffix == "ies" else base
    return word


def _words(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.casefold())]


class _Text:
    """The text to classify, as stemmed words, counted, for repeated lookups."""

    def __init__(self, text: str) -> None:
        self.words = _words(text)
        self.joined = f" {' '.join(self.words)} "
        self.counts = Counter(self.words)
        self.vocabulary = list(self.counts)

    def weight(self, word: str) -> float:
        """Occurrences of `word`, or of the closest misspelling of it (scaled by closeness)."""
        if word in self.counts:
            return float(self.counts[word])
        if len(word) < _FUZZY_MIN_LEN or not self.vocabulary:
            return 0.0
        found = process.extractOne(
            word, self.vocabulary, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF
        )
        if found is None:
            return 0.0
        close, ratio, _ = found
        return self.counts[close] * ratio / 100

    def has_phrase(self, words: Sequence[str]) -> bool:
        """Whether the words occur one after the other."""
        return len(words) > 1 and f" {' '.join(words)} " in self.joined


def _score(text: _Text, label: str, keywords: Sequence[str]) -> float:
    own = _words(label)
    score = 0.0
    for cue in (label, *keywords):
        words = _words(cue)
        score += sum(text.weight(w) for w in dict.fromkeys(words))
        if text.has_phrase(words):
            score += _PHRASE_BONUS
    if not own:
        return score
    # A label counts as far as its own words were found: "not urgent" is not "urgent".
    coverage = sum(1 for w in own if text.weight(w) > 0) / len(own)
    return score * coverage if coverage else score * 0.5


def classify(
    text: str, labels: Sequence[str], keywords: Mapping[str, Sequence[str]] | None = None
) -> Classification:
    """The label of `labels` that `text` points to most (ties go to the earlier label)."""
    body = _Text(text)
    cues = keywords or {}
    scores = {label: round(_score(body, label, cues.get(label, ())), 4) for label in labels}
    total = sum(scores.values())
    best = max(labels, key=lambda label: scores[label]) if labels else None
    if best is None or total <= 0:
        return Classification(label=None, confidence=0.0, scores=scores)
    return Classification(label=best, confidence=round(scores[best] / total, 4), scores=scores)
