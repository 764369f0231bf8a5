"""BM25 over the stemmed items: SQLite FTS5 (external content on memory_items, kept in step by triggers).

The query is stemmed exactly as the items were (stemming.py), de-duplicated, and sent as an OR of quoted terms,
so any word can match and FTS5's bm25() ranks by how many and how rare. The query's language picks the
stemmers for its words, as an item's language does for its own.
"""

from __future__ import annotations

from ..store import Store, memory_reads
from ..text.language import detect
from ..text.stemming import stems

MAX_TERMS = 32  # FTS5 cost grows with terms; a question rarely needs more


def match_expression(query: str, language: str | None = None, extra: list[str] | None = None) -> str | None:
    """FTS5 MATCH for `query` (plus already-stemmed `extra` terms), or None when nothing searchable is left."""
    terms = list(dict.fromkeys(stems(query, language or detect(query)) + (extra or [])))[:MAX_TERMS]
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def search(store: Store, query: str, k: int, extra_terms: list[str] | None = None) -> list[tuple[int, float]]:
    """(rowid, score) best first; score = -bm25 (higher is better)."""
    expr = match_expression(query, extra=extra_terms)
    if expr is None:
        return []
    return [(rowid, -score) for rowid, score in memory_reads.bm25(store, expr, k)]
