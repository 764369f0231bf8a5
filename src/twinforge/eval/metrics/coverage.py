"""Concept coverage: of the module concepts a probe is about, the share its answer mentions.

A concept counts as mentioned when at least half of its content words appear in the answer by stem (Snowball,
Russian and English), so «инверсии» in an answer covers the concept «инверсия»."""

from __future__ import annotations

from functools import cache

from .answer import Answer, words

MIN_WORD = 3  # shorter words are function words ("of", "и", "в")


@cache
def _stemmers():
    import snowballstemmer

    return snowballstemmer.stemmer("russian"), snowballstemmer.stemmer("english")


def stem(word: str) -> str:
    ru, en = _stemmers()
    return (ru if any("а" <= ch <= "я" or ch == "ё" for ch in word) else en).stemWord(word)


def stems(text: str) -> set[str]:
    return {stem(w) for w in words(text) if len(w) >= MIN_WORD}


def covered(concept: str, answer_stems: set[str]) -> bool:
    need = stems(concept)
    if not need:
        return False
    return sum(s in answer_stems for s in need) * 2 >= len(need)


def answer_coverage(answer: Answer) -> float | None:
    if not answer.concepts:
        return None
    got = stems(answer.text)
    return sum(covered(c, got) for c in answer.concepts) / len(answer.concepts)


def concept_coverage(answers: list[Answer]) -> float | None:
    scores = [s for s in map(answer_coverage, answers) if s is not None]
    return sum(scores) / len(scores) if scores else None
