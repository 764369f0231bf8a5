"""Reads over generated examples and the ones expand's quality gate set aside (`example_rejects`, m011).

Generated examples are the rows of `examples` whose meta names a prompt version (expand/generated_run.py writes
it); the planner reads how many of each view the gate keeps.
"""

from __future__ import annotations

import json

from .db import Store
from .listings import where_equal

_GENERATED = "json_extract(meta, '$.prompt_version') IS NOT NULL"


def _has_rejects(store: Store) -> bool:
    return store.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'example_rejects'"
                            ).fetchone() is not None


def view_pass_rates(store: Store) -> dict[str, tuple[int, int]]:
    """(kept, rejected) generated examples per view, as the store holds them now."""
    return _counts(store, "view", "view")


def backend_pass_rates(store: Store) -> dict[str, tuple[int, int]]:
    """(kept, rejected) generated examples per backend:model."""
    return _counts(store, "json_extract(meta, '$.backend')", "backend")


def _counts(store: Store, kept_key: str, rejected_key: str) -> dict[str, tuple[int, int]]:
    kept = dict(store.db.execute(f"SELECT {kept_key}, count(*) FROM examples WHERE {_GENERATED} GROUP BY 1"))
    rejected = dict(store.db.execute(f"SELECT {rejected_key}, count(*) FROM example_rejects GROUP BY 1")) \
        if _has_rejects(store) else {}
    return {k: (kept.get(k, 0), rejected.get(k, 0)) for k in sorted({*kept, *rejected})}


def rejects(store: Store, view: str | None = None, module_id: str | None = None, reason: str | None = None,
            limit: int = 0) -> list[dict]:
    """The examples the gate set aside, with why, newest module order first."""
    if not _has_rejects(store):
        return []
    where, args = where_equal({"view": view, "module_id": module_id, "reason": reason})
    sql = ("SELECT * FROM example_rejects" + where
           + " ORDER BY module_id, view, position" + (" LIMIT ?" if limit else ""))
    return [dict(r) | {"messages": json.loads(r["messages"])}
            for r in store.db.execute(sql, [*args, *([limit] if limit else [])])]
