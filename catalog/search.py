"""Search's typo correction: the catalog's words in memory, ranked by edit distance.

A misspelt word is replaced by the catalog word fewest edits away (Damerau-Levenshtein:
swapping two neighbouring letters is one edit, so "paepr" is one edit from "paper" and three
from "pan"); between equally close words, the one as long as the typed word, then the
commoner one (more products name it). The
distance is rapidfuzz's (C++, a few thousand words in well under a millisecond); the words
and their counts are SearchTerm rows, held per process for the catalog's version like the
category tree. The same code runs on PostgreSQL and SQLite.
"""

import re
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from catalog import cache
from catalog.models import SearchTerm

#: At most this many unknown words of a query are corrected (each is a scan of the words).
MAX_CORRECTED_WORDS = 3
#: Words as a query is cut into them: "t-sihrt" is "t" and "sihrt", the hyphen kept.
_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Vocabulary:
    words: tuple[str, ...]
    #: Word -> how many products name it.
    counts: dict[str, int]


def vocabulary() -> Vocabulary:
    return cache.shared("search-vocabulary", _build_vocabulary)


def _build_vocabulary() -> Vocabulary:
    rows = SearchTerm.objects.order_by("word").values_list("word", "product_count")
    counts = dict(rows)
    return Vocabulary(words=tuple(counts), counts=counts)


def max_edits(word: str) -> int:
    """How far a correction may be: one edit for short words (more would turn "tent" into
    any four-letter word), two from five letters on."""
    return 1 if len(word) <= 4 else 2


def closest_word(word: str, words: Vocabulary) -> str | None:
    """The catalog word nearest `word` (lower case), or None when none is near enough."""
    found = process.extract(
        word,
        words.words,
        scorer=DamerauLevenshtein.distance,
        score_cutoff=max_edits(word),
        limit=None,
    )
    if not found:
        return None
    # Equally close: the word as long as the typed one first (a swapped or wrong letter keeps
    # the length: "pihone" is "iphone", not "phone"), then the commoner word.
    best = min(
        found,
        key=lambda match: (
            match[1],
            abs(len(match[0]) - len(word)),
            -words.counts[match[0]],
            match[0],
        ),
    )
    return best[0]


def corrected_query(query: str) -> str | None:
    """`query` (lower-cased) with its unknown words replaced by the closest catalog words,
    or None if nothing changed. Separators stay: "T-sihrt" becomes "t-shirt"."""
    words = vocabulary()
    lowered = query.lower()
    corrections: dict[str, str] = {}
    unknown = [
        token
        for token in dict.fromkeys(_TOKEN.findall(lowered))
        if 3 <= len(token) <= 40 and not token.isdigit() and token not in words.counts
    ]
    for token in unknown[:MAX_CORRECTED_WORDS]:
        match = closest_word(token, words)
        if match:
            corrections[token] = match
    if not corrections:
        return None
    return _TOKEN.sub(lambda m: corrections.get(m.group(), m.group()), lowered)
