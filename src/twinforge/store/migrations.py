"""Numbered schema migrations (after simonw/llm `migrations.py`), one style: each is a SQL file in `store/sql/`,
named `mNNN_<stage>.sql` and applied in name order. `_migrations` records what ran.

Add a new file with the next number; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from importlib.resources import files


def migrations() -> list[tuple[str, str]]:
    """(name, SQL) of every migration, in order."""
    folder = files("twinforge.store").joinpath("sql")
    found = sorted(p.name for p in folder.iterdir() if p.name.startswith("m") and p.name.endswith(".sql"))
    return [(name[: -len(".sql")], folder.joinpath(name).read_text(encoding="utf-8")) for name in found]


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply pending migrations, each in its own transaction. Returns the names applied."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {r[0] for r in db.execute("SELECT name FROM _migrations")}
    applied = []
    for name, sql in migrations():
        if name in done:
            continue
        try:
            db.executescript(f"BEGIN;\n{sql}\nINSERT INTO _migrations VALUES ('{name}', datetime('now'));\nCOMMIT;")
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
