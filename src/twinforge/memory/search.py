"""`search`: BM25, dense, or both fused by reciprocal rank; optionally widened through the concept graph.

Each ranking looks deeper than `k` (POOL) so the fusion has something to agree on. Passages of one message
collapse into its best one, so a long message cannot fill the results with itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigError, TwinforgeError
from ..store import Store, memory_reads
from . import dense, index
from .fusion import rrf

MODES = ("hybrid", "bm25", "dense")
MAX_QUERY_CHARS = 4000


@dataclass
class Hit:
    kind: str  # module / paper / message
    item_id: str
    conversation_id: str
    message_id: str | None
    title: str
    date: float | None  # epoch seconds
    text: str
    score: float  # fused RRF score (hybrid), -bm25 (bm25) or cosine (dense); higher is better
    module_id: str | None = None
    language: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _pool(k: int) -> int:
    return max(4 * k, 40)


def check_built(store: Store) -> str:
    """The embedder the memory was built with; a TwinforgeError when it was never built."""
    embedder = store.memory_embedder()
    if embedder is None:
        raise TwinforgeError(f"no memory built in {store.workspace}", "run `twinforge memory build` first")
    return embedder


def validate(query: str, k: int, mode: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise TwinforgeError("the question is empty", 'ask something, e.g. twinforge ask "what did I say about LoRA?"')
    if mode not in MODES:
        raise ConfigError(f"unknown search mode {mode!r}", f"choose one of: {', '.join(MODES)}")
    if not isinstance(k, int) or k < 1:
        raise ConfigError(f"k must be a positive number of results, got {k!r}")
    return query.strip()[:MAX_QUERY_CHARS]


def search(store: Store, query: str, k: int = 8, mode: str = "hybrid", expand_graph: bool = False,
           rrf_k: int = 60) -> list[Hit]:
    query = validate(query, k, mode)
    model = check_built(store)
    pool = _pool(k)
    rankings: list[list[int]] = []
    raw: dict[int, float] = {}  # a single ranking's own scores, shown when nothing is fused
    terms: list[str] = []
    graph_ranking: list[int] = []
    if expand_graph:
        from .graph import expand

        ex = expand(store, query)
        terms = ex.terms
        if ex.modules:
            graph_ranking = _module_rowids(store, ex.modules[:pool])
    if mode in ("hybrid", "bm25"):
        bm = index.search(store, query, pool, extra_terms=terms)
        rankings.append([r for r, _ in bm])
        raw.update(bm)
    if mode in ("hybrid", "dense"):
        dn = dense.search(store, query, model, pool)
        rankings.append([r for r, _ in dn])
        raw.update(dn)
    if graph_ranking:
        rankings.append(graph_ranking)
    if len(rankings) == 1:
        ranked = [(r, raw.get(r, 0.0)) for r in rankings[0]]
    else:
        ranked = rrf(rankings, k=rrf_k)
    return _hits(store, ranked, k)


def _module_rowids(store: Store, module_ids: list[str]) -> list[int]:
    found = memory_reads.module_rowids(store, module_ids)
    return [found[m] for m in module_ids if m in found]


def _hits(store: Store, ranked: list[tuple[int, float]], k: int) -> list[Hit]:
    """The first k distinct items (one passage per message), best first."""
    out: list[Hit] = []
    seen_messages: set[str] = set()
    for start in range(0, len(ranked), 200):
        chunk = ranked[start:start + 200]
        rows = memory_reads.items(store, [r for r, _ in chunk])
        for rowid, score in chunk:
            r = rows.get(rowid)
            if r is None:
                continue
            if r.kind == "message":
                if r.message_id in seen_messages:
                    continue
                seen_messages.add(r.message_id)
            out.append(Hit(kind=r.kind, item_id=r.id, conversation_id=r.conversation_id,
                           message_id=r.message_id, title=r.title, date=r.date, text=r.text,
                           score=round(float(score), 6), module_id=r.module_id, language=r.language))
            if len(out) == k:
                return out
    return out
