"""Volumes the way the person thinks about them: conversations, messages, characters, tokens, A4 pages.

Counts cover the dialog on the displayed branch (canonical `dialog` messages); other kinds are listed apart.
Token counts are cached in the store by a writing stage (`clean` fills them); a read command (`stats`, `funnel`)
never writes — a write would wait on a running stage, or fail beside it — so it counts the messages not cached
yet into a TEMP table of its own connection (`uncounted`), which `TOKENS` reads beside the cached counts.
"""

from __future__ import annotations

from tqdm import tqdm

from .records import PAGE_CHARS
from .store import Store
from .text.tokens import count_tokens_batch

_DIALOG = "m.kind = 'dialog' AND m.canonical = 1"
# a message's tokens in queries that join `LEFT JOIN temp.uncounted u ON u.id = m.id` (see count_uncounted)
TOKENS = "coalesce(m.tokens, u.tokens)"
UNCOUNTED_JOIN = "LEFT JOIN temp.uncounted u ON u.id = m.id"


def fill_token_counts(store: Store, progress: bool = False, batch: int = 2000) -> int:
    """Count tokens for messages that have none yet (all kinds: the funnel starts from everything).

    Returns how many were counted.
    """
    todo = store.db.execute("SELECT count(*) FROM messages WHERE tokens IS NULL").fetchone()[0]
    done = 0
    with tqdm(total=todo, unit="msg", desc="counting tokens", disable=not progress or not todo, leave=False) as bar:
        while True:
            rows = store.db.execute(
                "SELECT id, text FROM messages WHERE tokens IS NULL LIMIT ?", (batch,)
            ).fetchall()
            if not rows:
                break
            with store.transaction() as db:
                counts = count_tokens_batch([t for _, t in rows])
                db.executemany("UPDATE messages SET tokens = ? WHERE id = ?", [(n, i) for n, (i, _) in zip(counts, rows)])
            done += len(rows)
            bar.update(len(rows))
    return done


def count_uncounted(store: Store, progress: bool = False, batch: int = 2000) -> int:
    """Token counts of the messages the store has none for, into this connection's TEMP table `uncounted`,
    without writing the store. Returns how many were counted."""
    db = store.db
    db.execute("CREATE TEMP TABLE IF NOT EXISTS uncounted (id TEXT PRIMARY KEY, tokens INTEGER NOT NULL)")
    db.execute("DELETE FROM temp.uncounted")
    todo = db.execute("SELECT count(*) FROM messages WHERE tokens IS NULL").fetchone()[0]
    if not todo:
        return 0
    cur = db.cursor().execute("SELECT id, text FROM messages WHERE tokens IS NULL")
    done = 0
    with tqdm(total=todo, unit="msg", desc="counting tokens", disable=not progress, leave=False) as bar:
        while rows := cur.fetchmany(batch):
            counts = count_tokens_batch([t for _, t in rows])
            db.executemany("INSERT OR REPLACE INTO temp.uncounted VALUES (?, ?)",
                           [(i, n) for n, (i, _) in zip(counts, rows)])
            done += len(rows)
            bar.update(len(rows))
    return done


def _block(row) -> dict:
    chars = row["characters"] or 0
    return {
        "conversations": row["conversations"] or 0,
        "messages": row["messages"] or 0,
        "characters": chars,
        "pages": round(chars / PAGE_CHARS, 1),
        "tokens": row["tokens"] or 0,
    }


def volume(store: Store, progress: bool = False) -> dict:
    """Read only: see the module's docstring for tokens not counted yet."""
    count_uncounted(store, progress)
    db = store.db
    select = (
        "SELECT count(DISTINCT m.conversation_id) AS conversations, count(*) AS messages,"
        f" sum(m.chars) AS characters, sum({TOKENS}) AS tokens FROM messages m {UNCOUNTED_JOIN}"
    )
    total = _block(db.execute(f"{select} WHERE {_DIALOG}").fetchone())
    total["conversations"] = db.execute("SELECT count(*) FROM conversations").fetchone()[0]
    total["by_role"] = dict(db.execute(f"SELECT role, count(*) FROM messages m WHERE {_DIALOG} GROUP BY role").fetchall())
    total["by_kind"] = dict(db.execute("SELECT kind, count(*) FROM messages GROUP BY kind").fetchall())
    total["other_branches"] = db.execute(
        "SELECT count(*) FROM messages WHERE kind = 'dialog' AND canonical = 0"
    ).fetchone()[0]
    by_source = []
    for src in db.execute("SELECT id, path, format FROM sources ORDER BY id").fetchall():
        block = _block(
            db.execute(
                f"{select} JOIN conversations c ON c.id = m.conversation_id WHERE c.source_id = ? AND {_DIALOG}",
                (src["id"],),
            ).fetchone()
        )
        block["conversations"] = db.execute(
            "SELECT count(*) FROM conversations WHERE source_id = ?", (src["id"],)
        ).fetchone()[0]
        block["by_role"] = dict(
            db.execute(
                f"SELECT m.role, count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                f" WHERE c.source_id = ? AND {_DIALOG} GROUP BY m.role",
                (src["id"],),
            ).fetchall()
        )
        by_source.append({"source": src["path"], "format": src["format"], **block})
    total["by_source"] = by_source
    return total
