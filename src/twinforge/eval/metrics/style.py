"""Style similarity: cosine between the centroid of a model's answers and the centroid of the person's own
writing, in the multilingual sentence-embedding space (twinforge.text.embed). It moves when answers start to sound
like the person (topics, register, language) — coarse, but model-free and cheap."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def centroid(texts: Sequence[str]) -> np.ndarray | None:
    from ...text.embed import embed

    texts = [t for t in texts if t.strip()]
    if not texts:
        return None
    c = embed(texts).mean(axis=0)
    n = float(np.linalg.norm(c))
    return c / n if n else None


def style_similarity(answers: Sequence[str], person: np.ndarray | None) -> float | None:
    if person is None:
        return None
    c = centroid(answers)
    return None if c is None else float(c @ person)
