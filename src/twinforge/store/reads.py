"""Typed reads of what the stages stored (after simonw/llm's LogStore): the SQL that several stages share lives
here once, and callers get records, not rows. A stage's own bookkeeping (its cache, its progress rows) stays in it.
"""

from __future__ import annotations

import json
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

    def kept_messages(self, *, roles: tuple[str, ...] = _ROLES, canonical: bool = True, dialog: bool = True,
                      min_chars: int = 1, by_date: bool = False) -> Iterator[KeptMessage]:
        """Messages clean kept, in conversation order (by conversation date with `by_date`, else by id), each
        conversation's in position order. `canonical`: only the displayed branch; `dialog`: only dialog kinds."""
        marks = ", ".join("?" * len(roles))
        order = "c.created_at IS NULL, c.created_at, c.id" if by_date else "k.conversation_id"
        rows = self.db.execute(
            "SELECT m.id, k.conversation_id, m.role, k.text, k.language, m.created_at, c.title,"
            " c.created_at AS cdate FROM clean_messages k JOIN messages m ON m.id = k.message_id"
            " JOIN conversations c ON c.id = k.conversation_id"
            f" WHERE k.keep = 1 AND m.role IN ({marks}) AND length(k.text) >= ?"
            + (" AND m.canonical = 1" if canonical else "") + (" AND m.kind = 'dialog'" if dialog else "")
            + f" ORDER BY {order}, m.position", (*roles, max(min_chars, 1)))
        for r in rows:
            yield KeptMessage(r[0], r[1], r[2], r[3], r[4], r[5], r[6] or "", r[7])

    def module_records(self, kind: str | None = None) -> list[ModuleRecord]:
        """Modules (of one kind, or all) by id, with their conversation's title and date."""
        rows = self.db.execute(
            "SELECT m.id, m.conversation_id, m.kind, m.language, m.json, coalesce(c.title, ''), c.created_at"
            " FROM modules m LEFT JOIN conversations c ON c.id = m.conversation_id"
            + (" WHERE m.kind = ?" if kind else "") + " ORDER BY m.id", (kind,) if kind else ())
        return [ModuleRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]
