"""distinct-n (Li et al. 2016): unique n-grams / all n-grams over all of a model's answers — low means the model
says the same few things; repetition rate: within one answer, the share of 4-grams that already occurred in it —
high means it loops."""

from __future__ import annotations

from .answer import Answer

LOOP_N = 4


def _ngrams(ws: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)]


def distinct(answers: list[Answer], n: int) -> float | None:
    grams = [g for a in answers for g in _ngrams(a.words, n)]
    return len(set(grams)) / len(grams) if grams else None


def distinct_1(answers: list[Answer]) -> float | None:
    return distinct(answers, 1)


def distinct_2(answers: list[Answer]) -> float | None:
    return distinct(answers, 2)


def answer_repetition(text_words: list[str], n: int = LOOP_N) -> float:
    grams = _ngrams(text_words, n)
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def repetition_rate(answers: list[Answer]) -> float | None:
    if not answers:
        return None
    return sum(answer_repetition(a.words) for a in answers) / len(answers)
