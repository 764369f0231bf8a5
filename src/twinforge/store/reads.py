"""Typed reads of what the stages stored (after simonw/llm's LogStore): the SQL that several stages share lives
here once, and callers get records, not rows. A stage's own bookkeeping (its cache, its progress rows) stays in it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

_ROLES = ("user", "assistant")


@dataclass(frozen=True)
class KeptMessage:
    """A message clean kept, with its cleaned text (boilerplate stripped, secrets redacted)."""

    id: str
    conversation_id: str
    role: str
    text: str
    language: str | None
    created_at: float | None  # the message's time, else None
    title: str  # its conversation's
    conversation_created_at: float | None


@dataclass(frozen=True)
class Turn:
    """One message of a conversation's dialog: its id, role and (cleaned, where clean ran) text."""

    id: str
    role: str
    text: str


@dataclass(frozen=True)
class ModuleRecord:
    id: str
    conversation_id: str
    kind: str  # dialog | paper
    language: str | None
    data: dict  # the module as stored (validate with distill.schema.Module where the schema matters)
    title: str  # the conversation's title, '' when it is gone
    created_at: float | None  # the conversation's


class Reads:
    """Mixed into Store: `self.db` is its connection."""

    def has_cleaned(self) -> bool:
        """Has `clean` judged anything in this workspace yet?"""
        return self.db.execute("SELECT 1 FROM clean_messages LIMIT 1").fetchone() is not None

    def has_messages(self) -> bool:
        """Has anything been ingested?"""
        return self.db.execute("SELECT 1 FROM messages LIMIT 1").fetchone() is not None

    def has_conversation(self, conversation_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is not None

    def has_modules(self, kind: str | None = "dialog") -> bool:
        """Are there modules (of `kind`; None: of any kind)?"""
        sql = "SELECT 1 FROM modules" + (" WHERE kind = ?" if kind else "") + " LIMIT 1"
        return self.db.execute(sql, (kind,) if kind else ()).fetchone() is not None

    def memory_embedder(self) -> str | None:
        """The embedder `memory build` used; None when the memory was never built."""
        row = self.db.execute("SELECT value FROM memory_meta WHERE key = 'embedder'").fetchone()
        return row[0] if row else None

    def kept_texts(self, limit: int) -> list[str]:
        """Up to `limit` texts clean kept (any role, any kind), in the store's order: a sample of the corpus."""
        return [r[0] for r in self.db.execute("SELECT text FROM clean_messages WHERE keep = 1 LIMIT ?", (limit,))]

    def has_memory(self) -> bool:
        """Has `memory build` stored any item?"""
        return self.db.execute("SELECT 1 FROM memory_items LIMIT 1").fetchone() is not None

    def kept_messages(self, *, roles: tuple[str, ...] = _ROLES, canonical: bool = True, dialog: bool = True,
                      min_chars: int | None = 1, by_date: bool = False, providers: tuple[str, ...] = (),
                      exclude_providers: tuple[str, ...] = ()) -> Iterator[KeptMessage]:
        """Messages clean kept, in conversation order (by conversation date with `by_date`, undated last; else by
        id), each conversation's in position order. `canonical`: only the displayed branch; `dialog`: only dialog
        kinds; `min_chars` None: empty texts too; `providers` / `exclude_providers`: only conversations
        from / not from these providers."""
        marks = ", ".join("?" * len(roles))
        where = [f"k.keep = 1 AND m.role IN ({marks})"]
        args: list = list(roles)
        if min_chars is not None:
            where.append("length(k.text) >= ?")
            args.append(max(min_chars, 1))
        for names, op in ((providers, "IN"), (exclude_providers, "NOT IN")):
            if names:
                where.append(f"c.provider {op} ({', '.join('?' * len(names))})")
                args += names
        if canonical:
            where.append("m.canonical = 1")
        if dialog:
            where.append("m.kind = 'dialog'")
        order = "c.created_at IS NULL, c.created_at, c.id" if by_date else "k.conversation_id"
        rows = self.db.execute(
            "SELECT m.id, k.conversation_id, m.role, k.text, k.language, m.created_at, c.title,"
            " c.created_at AS cdate FROM clean_messages k JOIN messages m ON m.id = k.message_id"
            " JOIN conversations c ON c.id = k.conversation_id"
            f" WHERE {' AND '.join(where)} ORDER BY {order}, m.position", args)
        for r in rows:
            yield KeptMessage(r[0], r[1], r[2], r[3], r[4], r[5], r[6] or "", r[7])

    def module_json(self, module_id: str | None = None) -> str | None:
        """A module's JSON as stored (no id: the first module by id); None when there is no such module."""
        row = (self.db.execute("SELECT json FROM modules WHERE id = ?", (module_id,)) if module_id is not None
               else self.db.execute("SELECT json FROM modules ORDER BY id LIMIT 1")).fetchone()
        return row[0] if row else None

    def module_records(self, kind: str | None = None, *, by_conversation: bool = False) -> list[ModuleRecord]:
        """Modules (of one kind, or all) by id (by conversation id with `by_conversation`), with their
        conversation's title and date."""
        order = "m.conversation_id, m.id" if by_conversation else "m.id"
        rows = self.db.execute(
            "SELECT m.id, m.conversation_id, m.kind, m.language, m.json, coalesce(c.title, ''), c.created_at"
            " FROM modules m LEFT JOIN conversations c ON c.id = m.conversation_id"
            + (" WHERE m.kind = ?" if kind else "") + f" ORDER BY {order}", (kind,) if kind else ())
        return [ModuleRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]


def dialog_turns(db: sqlite3.Connection, conversation_id: str) -> list[Turn]:
    """A conversation's dialog in order, with non-empty text: the messages clean kept (cleaned text) once clean
    judged it, else (clean not run yet) its canonical dialog messages, raw. One clean rejected whole is empty.
    Takes a connection, so a caller inside `Store.transaction()` reads what it is writing."""
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
