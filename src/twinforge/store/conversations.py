"""Writing parsed conversations into the store: add new, update changed, skip known, link copies."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import asdict, dataclass
from typing import NamedTuple

import orjson

from ..records import Conversation


def message_id(conversation_id: str, uid: str) -> str:
    """Stable across re-imports, so later stages' decisions keep pointing at the same message."""
    return hashlib.sha1(f"{conversation_id}\0{uid}".encode()).hexdigest()[:16]


def conversation_id(conv: Conversation) -> str:
    if conv.uid:
        return conv.uid
    # No id in the source (a Nexus note without frontmatter, a plain document): derive one from content.
    # Message uids alone can repeat across conversations ("1", "2" in DeepSeek nodes), so text and time count too.
    first = conv.messages[0] if conv.messages else None
    key = f"{conv.title}\0" + (f"{first.uid}\0{first.created_at}\0{first.text[:1000]}" if first else "")
    return f"{conv.provider}-{hashlib.sha1(key.encode()).hexdigest()[:16]}"


def content_hash(conv: Conversation) -> str:
    """What makes a conversation 'changed' between two exports.

    Each message counts by its id, role, kind, branch flag, length and both ends of its text. Hashing every
    character cost a tenth of ingest time; an edit that keeps a message's length and both ends is not a case
    real exports produce (an edited turn is a new node with a new id).
    """
    parts = [conv.title]
    for m in conv.messages:
        t = m.text
        parts.append(f"{m.uid}\1{m.role}\1{m.kind}\1{int(m.canonical)}\1{len(t)}\1{t[:80]}\1{t[-80:]}")
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()


def _dumps(d: dict) -> str | None:
    return orjson.dumps(d).decode() if d else None


@dataclass
class WriteCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicate: int = 0  # a lossy copy (Nexus) of a conversation we hold from a lossless source
    older: int = 0  # an older snapshot of a conversation we hold newer
    repeated: int = 0  # the same conversation id again within this source: one copy is kept (the newest)
    messages: int = 0  # messages stored from this source
    repaired: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


class Prepared(NamedTuple):
    """A conversation turned into rows, ready to write: everything that needs no database.

    Computing it is pure CPU work, so it can happen in another process (ingest's parser child) and cross a
    pipe as plain tuples.
    """

    id: str
    content_hash: str
    lossy: bool
    updated_at: float | None
    title: str
    warnings: list[str]
    repaired: int
    uids: list[str]  # source uids, for matching copies under another id
    conversation_row: tuple
    message_rows: list[tuple]


def prepare(conv: Conversation) -> Prepared:
    cid = conversation_id(conv)
    chash = content_hash(conv)
    seen: set[str] = set()
    rows = []
    for pos, m in enumerate(conv.messages):
        mid = message_id(cid, m.uid)
        if mid in seen:  # a source repeating a node id: keep the first, never fail the file
            continue
        seen.add(mid)
        rows.append((
            mid, cid, pos, m.uid, m.parent_uid, m.role, m.kind, m.content_type, m.text, m.created_at,
            m.model, int(m.canonical), int(m.repaired), len(m.text), _dumps(m.meta),
        ))
    conv_row = (
        cid, conv.provider, conv.title, conv.created_at, conv.updated_at, int(conv.lossy), chash,
        len(rows), _dumps(conv.meta) or "{}",
    )
    uids = [m.uid for m in conv.messages if not m.uid.startswith("nexus-")][:50]
    return Prepared(cid, chash, conv.lossy, conv.updated_at, conv.title, list(conv.warnings), conv.repaired,
                    uids, conv_row, rows)


class ConversationWriter:
    """Upserts conversations of one source. Use inside `Store.transaction()`."""

    def __init__(self, db: sqlite3.Connection, source_id: int, run_id: int | None = None):
        self.db = db
        self.source_id = source_id
        self.run_id = run_id
        self.counts = WriteCounts()
        self._written: dict[str, tuple[int, float | None]] = {}  # id -> (messages stored, updated_at) of this source
        # Matching by message UID costs a query per conversation; only needed once lossy copies exist.
        self._any_lossy = db.execute("SELECT 1 FROM conversations WHERE lossy = 1 LIMIT 1").fetchone() is not None

    def write(self, conv: Conversation | Prepared) -> str:
        p = conv if isinstance(conv, Prepared) else prepare(conv)
        if p.id in self._written:
            return self._repeat(p)
        action = self._decide(p)
        if action in ("added", "updated"):
            self._insert(p)
            self.counts.messages += len(p.message_rows)
            self.counts.repaired += p.repaired
            self._written[p.id] = (len(p.message_rows), p.updated_at)
        setattr(self.counts, action, getattr(self.counts, action) + 1)
        self.db.execute(
            "INSERT OR REPLACE INTO conversation_sources VALUES (?, ?, ?)", (p.id, self.source_id, action)
        )
        if p.warnings:
            self.db.executemany(
                "INSERT INTO warnings (run_id, source_id, conversation_id, message) VALUES (?, ?, ?, ?)",
                [(self.run_id, self.source_id, p.id, w) for w in p.warnings],
            )
        return action

    def _repeat(self, p: Prepared) -> str:
        """An id this source already wrote: the newer copy by update time stays (the later one on a tie), and
        the counts say one conversation, with the messages actually stored."""
        stored, updated = self._written[p.id]
        if updated is None or p.updated_at is None or p.updated_at >= updated:
            self._delete(p.id)
            self._insert(p)
            self.counts.messages += len(p.message_rows) - stored
            self._written[p.id] = (len(p.message_rows), p.updated_at)
        self.counts.repeated += 1
        if p.warnings:
            self.db.executemany(
                "INSERT INTO warnings (run_id, source_id, conversation_id, message) VALUES (?, ?, ?, ?)",
                [(self.run_id, self.source_id, p.id, w) for w in p.warnings],
            )
        return "repeated"

    def _decide(self, p: Prepared) -> str:
        row = self.db.execute(
            "SELECT content_hash, lossy, updated_at FROM conversations WHERE id = ?", (p.id,)
        ).fetchone()
        if row is None:
            copy_of = self._same_messages_elsewhere(p)
            if copy_of is None:
                return "added"
            other_id, other_lossy = copy_of
            if p.lossy and not other_lossy:
                return "duplicate"
            if not p.lossy and other_lossy:
                self._delete(other_id)  # the lossless export replaces its lossy Nexus copy
                return "updated"
            return "added"
        old_hash, old_lossy, old_updated = row
        if old_hash == p.content_hash:
            return "unchanged"
        if p.lossy and not old_lossy:
            return "duplicate"
        if not p.lossy and old_lossy:
            self._delete(p.id)
            return "updated"
        if old_updated is not None and p.updated_at is not None and p.updated_at < old_updated:
            return "older"
        self._delete(p.id)
        return "updated"

    def _same_messages_elsewhere(self, p: Prepared) -> tuple[str, bool] | None:
        """A conversation under another id holding the same message UIDs (a Nexus copy without frontmatter)."""
        if not (p.lossy or self._any_lossy) or not p.uids:
            return None
        marks = ",".join("?" * len(p.uids))
        row = self.db.execute(
            f"SELECT c.id, c.lossy FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            f"WHERE m.uid IN ({marks}) AND c.id != ? LIMIT 1",
            (*p.uids, p.id),
        ).fetchone()
        return (row[0], bool(row[1])) if row else None

    def _delete(self, cid: str) -> None:
        self.db.execute("DELETE FROM messages WHERE conversation_id = ?", (cid,))
        self.db.execute("DELETE FROM conversations WHERE id = ?", (cid,))

    def _insert(self, p: Prepared) -> None:
        if p.lossy:
            self._any_lossy = True
        cid, *rest = p.conversation_row
        self.db.execute(
            "INSERT INTO conversations (id, source_id, provider, title, created_at, updated_at, lossy,"
            " content_hash, message_count, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (cid, self.source_id, *rest),
        )
        self.db.executemany(
            "INSERT INTO messages (id, conversation_id, position, uid, parent_uid, role, kind, content_type,"
            " text, created_at, model, canonical, repaired, chars, meta) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            p.message_rows,
        )
