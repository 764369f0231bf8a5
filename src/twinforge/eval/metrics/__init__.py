"""One module per metric. Those over generated answers share one signature and are looked up by name:
`fn(answers: list[Answer]) -> float | None` (None: the metric does not apply to these probes)."""

from __future__ import annotations

from collections.abc import Callable

from .answer import Answer
from .coverage import concept_coverage
from .diversity import distinct_1, distinct_2, repetition_rate
from .language import language_consistency
from .length import mean_words

ANSWER_METRICS: dict[str, Callable[[list[Answer]], float | None]] = {
    "distinct_1": distinct_1,
    "distinct_2": distinct_2,
    "repetition_rate": repetition_rate,
    "length_words": mean_words,
    "language_consistency": language_consistency,
    "concept_coverage": concept_coverage,
}

# which way is better, for compare and the report's colouring (+1: higher is better, -1: lower, 0: neither)
DIRECTION: dict[str, int] = {
    "ppl_heldout": -1, "ppl_own": -1, "ppl_train": -1, "ppl_control": -1, "overfit_gap": -1,
    "style_similarity": 1, "concept_coverage": 1, "distinct_1": 1, "distinct_2": 1, "repetition_rate": -1,
    "length_words": 0, "language_consistency": 1, "judge_win_rate": 1, "generations_per_second": 1,
}

__all__ = ["ANSWER_METRICS", "DIRECTION", "Answer"]
