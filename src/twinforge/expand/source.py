"""A module's source dialog: the messages clean kept, with their cleaned (boilerplate-free, redacted) text."""

from __future__ import annotations

import hashlib
import sqlite3

from ..store.reads import Turn, dialog_turns

__all__ = ["Turn", "chars", "dialog", "digest"]


def dialog(db: sqlite3.Connection, conversation_id: str) -> list[Turn]:
    """Kept dialog turns in order (the store's `dialog_turns`: clean's text once clean ran, else the raw
    canonical dialog)."""
    return dialog_turns(db, conversation_id)


def chars(turns: list[Turn]) -> int:
    return sum(len(t.text) for t in turns)


def digest(turns: list[Turn]) -> str:
    h = hashlib.sha1()
    for t in turns:
        h.update(f"{t.id}\0{t.role}\0{t.text}\1".encode("utf-8", "surrogatepass"))
    return h.hexdigest()
