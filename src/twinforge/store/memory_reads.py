"""Reads of the memory index that search needs (memory_items, its FTS5 table memory_fts, memory_vectors,
memory_meta), as typed records. `memory build` writes these tables (memory/build.py); search reads them here.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .db import Store

_BATCH = 200  # rowids per IN (...) query, well under SQLite's variable limit


@dataclass(frozen=True)
class MemoryItem:
    rowid: int
    id: str
    kind: str  # module / paper / message
    conversation_id: str
    message_id: str | None
    module_id: str | None
    title: str
    date: float | None  # epoch seconds
    language: str | None
    text: str


def bm25(store: Store, expression: str, k: int) -> list[tuple[int, float]]:
    """(rowid, bm25) of the `k` best FTS5 matches of `expression`, best (lowest bm25) first."""
    rows = store.db.execute(
        "SELECT rowid, bm25(memory_fts) AS s FROM memory_fts WHERE memory_fts MATCH ? ORDER BY s LIMIT ?",
        (expression, k)).fetchall()
    return [(r[0], r[1]) for r in rows]


def generation(db: sqlite3.Connection) -> str:
    """The memory build's generation: it changes with every build, so caches of the index know they are stale."""
    row = db.execute("SELECT value FROM memory_meta WHERE key = 'generation'").fetchone()
    return row[0] if row else "0"


def vectors(store: Store, model: str) -> list[tuple[int, bytes]]:
    """(rowid, float32 vector bytes) of every item embedded with `model`, by rowid."""
    return [(r[0], r[1]) for r in store.db.execute(
        "SELECT item, vec FROM memory_vectors WHERE model = ? ORDER BY item", (model,))]


def module_rowids(store: Store, module_ids: list[str]) -> dict[str, int]:
    """Module id → its item's rowid, for the modules that have one."""
    marks = ",".join("?" * len(module_ids))
    return dict(store.db.execute(
        f"SELECT module_id, rowid FROM memory_items WHERE module_id IN ({marks})", module_ids).fetchall())


def items(store: Store, rowids: list[int]) -> dict[int, MemoryItem]:
    """The items with these rowids (missing ones left out), by rowid."""
    out: dict[int, MemoryItem] = {}
    for start in range(0, len(rowids), _BATCH):
        ids = rowids[start:start + _BATCH]
        marks = ",".join("?" * len(ids))
        for r in store.db.execute(
                "SELECT rowid, id, kind, conversation_id, message_id, module_id, title, date, language, text"
                f" FROM memory_items WHERE rowid IN ({marks})", ids):
            out[r[0]] = MemoryItem(*tuple(r))
    return out
