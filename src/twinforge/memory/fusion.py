"""Reciprocal-rank fusion (Cormack et al., 2009): score(d) = sum over rankings of 1 / (k + rank(d)), rank from 1.

Ranks, not scores, are fused, so BM25's unbounded scores and cosines in [-1, 1] need no calibration. k = 60 is
the paper's constant: it keeps one ranking's top hit from drowning the others' consensus.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def rrf(rankings: Sequence[Sequence[Hashable]], k: int = 60, weights: Sequence[float] | None = None
        ) -> list[tuple[Hashable, float]]:
    """Fuse rankings (each a list of ids, best first) into one: (id, fused score), best first.

    Ties keep the order in which ids were first seen (earlier rankings first), so the result is deterministic.
    """
    if k <= 0:
        raise ValueError("rrf k must be positive")
    scores: dict[Hashable, float] = {}
    for j, ranking in enumerate(rankings):
        w = 1.0 if weights is None else weights[j]
        seen = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:  # a ranking that repeats an id counts it once, at its best rank
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + w / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))
