"""Answer length in words: an adapter that learned the person's long explanations answers longer."""

from __future__ import annotations

from .answer import Answer


def mean_words(answers: list[Answer]) -> float | None:
    return sum(len(a.words) for a in answers) / len(answers) if answers else None
