"""A module's source dialog: the messages clean kept, with their cleaned (boilerplate-free, redacted) text."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Turn:
    id: str
    role: str
    text: str


def dialog(db: sqlite3.Connection, conversation_id: str) -> list[Turn]:
    """Kept dialog turns in order. A conversation clean never saw (clean not run yet) counts as ingested:
    its canonical dialog messages, raw. One clean judged and rejected whole is an empty dialog."""
    judged = db.execute("SELECT 1 FROM clean_messages WHERE conversation_id = ? LIMIT 1",
                        (conversation_id,)).fetchone()
    if judged:
        rows = db.execute(
            "SELECT m.id, m.role, c.text FROM clean_messages c JOIN messages m ON m.id = c.message_id"
            " WHERE c.conversation_id = ? AND c.keep = 1 ORDER BY m.position", (conversation_id,))
    else:
        rows = db.execute(
            "SELECT id, role, text FROM messages WHERE conversation_id = ? AND kind = 'dialog' AND canonical = 1"
            " ORDER BY position", (conversation_id,))
    return [Turn(i, role, text) for i, role, text in rows if text.strip()]


def chars(turns: list[Turn]) -> int:
    return sum(len(t.text) for t in turns)


def digest(turns: list[Turn]) -> str:
    h = hashlib.sha1()
    for t in turns:
        h.update(f"{t.id}\0{t.role}\0{t.text}\1".encode("utf-8", "surrogatepass"))
    return h.hexdigest()
