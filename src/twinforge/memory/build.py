"""`build_memory`: bring the index in step with the store, doing only the work that changed.

Items (items.py) are keyed by id and compared by content hash: new and changed ones are (re)indexed and embedded,
removed ones dropped (their BM25 rows and vectors go with them, by trigger), unchanged ones cost nothing — a
re-run with nothing changed embeds nothing. Vectors are kept per embedder, so switching `embedder` back and
forth re-embeds nothing either. Embedding happens before the write transaction, in batches; the index is then
changed in one transaction, so an interrupted build leaves the previous index whole.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass

from ..store import Store
from . import graph
from .config import MemoryConfig
from .dense import get_embedder, to_blob
from .items import Item, collect

EMBED_BATCH = 256


@dataclass
class MemoryReport:
    items: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0  # vectors computed this run
    embedder: str = "use"
    modules: int = 0
    papers: int = 0
    passages: int = 0
    concepts: int = 0
    communities: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def build_memory(store: Store, cfg: MemoryConfig | None = None, progress: bool = False) -> MemoryReport:
    cfg = cfg or MemoryConfig()
    t0 = time.perf_counter()
    embedder = get_embedder(cfg.embedder)
    report = MemoryReport(embedder=embedder.tag)

    wanted: dict[str, Item] = {}
    for it in collect(store, cfg):
        wanted[it.id] = it
    have = {r[0]: (r[1], r[2]) for r in store.db.execute("SELECT id, hash, rowid FROM memory_items")}
    new = [it for i, it in wanted.items() if i not in have]
    changed = [it for i, it in wanted.items() if i in have and have[i][0] != it.hash]
    removed = [i for i in have if i not in wanted]
    upsert = new + changed
    upsert_hashes = {it.id: it.hash for it in upsert}

    # Unchanged items lacking a vector of this embedder (built with the other one, or an interrupted run).
    with_vec = {r[0] for r in store.db.execute("SELECT item FROM memory_vectors WHERE model = ?", (embedder.tag,))}
    missing = [(i, have[i][1]) for i in wanted if i in have and i not in upsert_hashes and have[i][1] not in with_vec]

    to_embed = [it.embed_text for it in upsert]
    missing_items = [wanted[i] for i, _ in missing]
    to_embed += [it.embed_text for it in missing_items]
    vectors = _embed(embedder, to_embed, progress)
    report.embedded = len(to_embed)

    with store.transaction() as db:
        if removed or changed:
            db.executemany("DELETE FROM memory_items WHERE id = ?", [(i,) for i in removed + [it.id for it in changed]])
        rowids = []
        for it in upsert:
            cur = db.execute(
                "INSERT INTO memory_items (id, kind, conversation_id, message_id, module_id, title, date, language,"
                " text, stems, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (it.id, it.kind, it.conversation_id, it.message_id, it.module_id, it.title, it.date, it.language,
                 it.text, it.stems, it.hash),
            )
            rowids.append(cur.lastrowid)
        rowids += [rid for _, rid in missing]
        db.executemany("INSERT OR REPLACE INTO memory_vectors (item, model, vec) VALUES (?, ?, ?)",
                       [(rid, embedder.tag, to_blob(v)) for rid, v in zip(rowids, vectors)])
        if cfg.graph:
            report.concepts = graph.write_concepts(store)
            report.communities = graph.compute_communities(store)
        else:
            db.execute("DELETE FROM memory_concepts")
            db.execute("DELETE FROM memory_communities")
        if upsert or removed or missing or not _meta(store, "generation"):
            _set_meta(store, "generation", uuid.uuid4().hex)  # search caches reload on a new generation
        _set_meta(store, "embedder", embedder.tag)
        if upsert or removed:
            db.execute("INSERT INTO memory_fts(memory_fts) VALUES ('optimize')")

    report.items = len(wanted)
    report.added, report.changed, report.removed = len(new), len(changed), len(removed)
    report.unchanged = len(wanted) - len(upsert)
    kinds = [it.kind for it in wanted.values()]
    report.modules, report.papers, report.passages = kinds.count("module"), kinds.count("paper"), kinds.count("message")
    report.seconds = round(time.perf_counter() - t0, 3)
    with store.transaction():
        _set_meta(store, "last_build", json.dumps(report.as_dict()))
    return report


def _embed(embedder, texts: list[str], progress: bool):
    import numpy as np

    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), desc=f"embedding ({embedder.tag})", unit="item", file=None)
    out = []
    for i in range(0, len(texts), EMBED_BATCH):
        out.append(embedder.passages(texts[i:i + EMBED_BATCH]))
        if bar:
            bar.update(len(texts[i:i + EMBED_BATCH]))
    if bar:
        bar.close()
    return np.vstack(out)


def _meta(store: Store, key: str) -> str | None:
    row = store.db.execute("SELECT value FROM memory_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def _set_meta(store: Store, key: str, value: str) -> None:
    store.db.execute("INSERT OR REPLACE INTO memory_meta (key, value) VALUES (?, ?)", (key, value))


def memory_stats(store: Store) -> dict:
    """What the index holds now: items by kind and language, vectors per embedder, graph size."""
    db = store.db
    kinds = dict(db.execute("SELECT kind, count(*) FROM memory_items GROUP BY kind").fetchall())
    langs = dict(db.execute("SELECT coalesce(language, 'und'), count(*) FROM memory_items GROUP BY 1").fetchall())
    vecs = dict(db.execute("SELECT model, count(*) FROM memory_vectors GROUP BY model").fetchall())
    convs = db.execute("SELECT count(DISTINCT conversation_id) FROM memory_items").fetchone()[0]
    chars = db.execute("SELECT coalesce(sum(length(text)), 0) FROM memory_items").fetchone()[0]
    concepts = db.execute("SELECT count(DISTINCT concept) FROM memory_concepts").fetchone()[0]
    communities = db.execute("SELECT count(DISTINCT community) FROM memory_communities").fetchone()[0]
    return {"items": sum(kinds.values()), "kinds": kinds, "languages": langs, "conversations": convs,
            "chars": chars, "vectors": vecs, "embedder": _meta(store, "embedder"), "concepts": concepts,
            "communities": communities}
