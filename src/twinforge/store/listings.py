"""What the CLI's inspection commands and the web UI list: typed records, with the SQL kept here (the store owns
every read). Read-only; each function takes an open Store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .db import Store


def where_equal(filters: dict[str, object]) -> tuple[str, list]:
    """` WHERE col = ? AND …` for the filters that are set (none set: no clause), and its arguments."""
    given = {col: v for col, v in filters.items() if v}
    return (f" WHERE {' AND '.join(f'{col} = ?' for col in given)}" if given else ""), list(given.values())


def _record(cls, row):
    """A dataclass from a sqlite3.Row holding (at least) its fields' columns."""
    return cls(**{f.name: row[f.name] for f in fields(cls)})


# --- messages, warnings, rejects (twinforge messages / warnings / rejects) ----------------------------------


@dataclass(frozen=True)
class MessageRow:
    conversation_id: str
    id: str
    uid: str | None
    role: str
    kind: str
    text: str  # clean's text with `cleaned`, else as imported
    created_at: float | None
    canonical: bool
    model: str | None
    title: str | None
    language: str | None  # with `cleaned` only


def messages(store: Store, *, conversation: str | None = None, all_branches: bool = False,
             kinds: Sequence[str] = (), cleaned: bool = False, limit: int | None = None) -> Iterator[MessageRow]:
    """Imported messages in conversation order (undated conversations last); `cleaned`: only what clean kept,
    with its text and language."""
    where, args = [], []
    if cleaned:
        where.append("cm.keep = 1")
    if conversation:
        where.append("m.conversation_id = ?")
        args.append(conversation)
    if not all_branches:
        where.append("m.canonical = 1")
    if kinds:
        where.append(f"m.kind IN ({','.join('?' * len(kinds))})")
        args.extend(kinds)
    sql = (
        "SELECT m.conversation_id, m.id, m.uid, m.role, m.kind, m.created_at, m.canonical, m.model, c.title, "
        + ("cm.text, cm.language" if cleaned else "m.text, NULL AS language")
        + " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        + (" JOIN clean_messages cm ON cm.message_id = m.id" if cleaned else "")
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY c.created_at IS NULL, c.created_at, c.id, m.position"
        + (" LIMIT ?" if limit else "")
    )
    if limit:
        args.append(limit)
    for r in store.db.execute(sql, args):
        yield MessageRow(r["conversation_id"], r["id"], r["uid"], r["role"], r["kind"], r["text"], r["created_at"],
                         bool(r["canonical"]), r["model"], r["title"], r["language"])


@dataclass(frozen=True)
class IngestWarning:
    source: str | None  # the export file's path
    conversation_id: str | None
    message: str


def ingest_warnings(store: Store) -> list[IngestWarning]:
    """What ingest could not recover, in the order it met it."""
    rows = store.db.execute(
        "SELECT s.path, w.conversation_id, w.message FROM warnings w LEFT JOIN sources s ON s.id = w.source_id"
        " ORDER BY w.id")
    return [IngestWarning(*r) for r in rows]


@dataclass(frozen=True)
class Reject:
    message_id: str
    conversation_id: str
    title: str
    role: str
    reason: str
    score: float | None
    duplicate_of: str | None
    raw: str  # the message as imported
    why: str | None  # the conversation's chatter verdict


def rejects(store: Store, *, reasons: Sequence[str] = (), exclude: Sequence[str] = (),
            limit: int | None = None) -> list[Reject]:
    """Messages clean set aside, by reason then conversation order: only `reasons` when given, else all but
    `exclude`."""
    where, args = ["c.keep = 0"], []
    if reasons:
        where.append(f"c.reason IN ({','.join('?' * len(reasons))})")
        args += list(reasons)
    elif exclude:
        where.append(f"c.reason NOT IN ({','.join('?' * len(exclude))})")
        args += list(exclude)
    sql = (
        "SELECT c.message_id, c.conversation_id, conv.title, m.role, c.reason, c.score, c.duplicate_of,"
        " m.text AS raw, cc.reason AS why FROM clean_messages c"
        " JOIN messages m ON m.id = c.message_id JOIN conversations conv ON conv.id = c.conversation_id"
        " LEFT JOIN clean_conversations cc ON cc.conversation_id = c.conversation_id"
        f" WHERE {' AND '.join(where)} ORDER BY c.reason, c.conversation_id, m.position"
        + (" LIMIT ?" if limit else "")
    )
    return [_record(Reject, r) for r in store.db.execute(sql, [*args, *([limit] if limit else [])])]


def clean_reasons(store: Store) -> list[dict]:
    """Messages and characters per (reason, keep) of clean's verdicts, kept first, most messages first."""
    return [dict(r) for r in store.db.execute(
        "SELECT reason, keep, count(*) AS messages, coalesce(sum(chars), 0) AS chars FROM clean_messages"
        " GROUP BY reason, keep ORDER BY keep DESC, messages DESC")]


# --- modules and examples -----------------------------------------------------------------------------------


def module_titles(store: Store) -> dict[str, str | None]:
    """Module id → its conversation's title (None where the conversation is gone)."""
    return dict(store.db.execute("SELECT m.id, c.title FROM modules m"
                                 " LEFT JOIN conversations c ON c.id = m.conversation_id").fetchall())


def recent_module_titles(store: Store, n: int) -> list[str]:
    """The titles of the `n` newest conversations with a dialog module (untitled ones skipped)."""
    return [r[0] for r in store.db.execute(
        "SELECT c.title FROM modules m JOIN conversations c ON c.id = m.conversation_id WHERE m.kind = 'dialog'"
        " AND c.title != '' GROUP BY c.id ORDER BY max(c.created_at) DESC LIMIT ?", (n,))]


@dataclass(frozen=True)
class ModuleView:
    """A module as the web UI lists it: its JSON, its conversation's title and its last quality score."""

    id: str
    json: str
    kind: str
    language: str | None
    conversation_title: str | None
    score: float | None  # None: never scored (papers)
    flagged: int | None
    reasons: str | None  # JSON list


def module_views(store: Store, kind: str | None = None, module_id: str | None = None) -> list[ModuleView]:
    """Modules (of one kind, or one by id), newest conversation first."""
    sql = ("SELECT m.id, m.json, m.kind, m.language, c.title AS conversation_title, s.score, s.flagged, s.reasons"
           " FROM modules m LEFT JOIN conversations c ON c.id = m.conversation_id"
           " LEFT JOIN module_scores s ON s.module_id = m.id")
    where, args = where_equal({"m.kind": kind, "m.id": module_id})
    sql += where + " ORDER BY c.created_at DESC, m.id"
    return [_record(ModuleView, r) for r in store.db.execute(sql, args)]


@dataclass(frozen=True)
class ExampleRow:
    id: str
    module_id: str
    view: str
    language: str | None
    messages: list[dict]
    chars: int
    tokens: int | None
    meta: dict


def examples(store: Store, *, view: str | None = None, module_id: str | None = None,
             limit: int | None = None) -> list[ExampleRow]:
    """Training examples expand made, by module, view and position."""
    where, args = where_equal({"view": view, "module_id": module_id})
    sql = ("SELECT id, module_id, view, language, messages, chars, tokens, meta FROM examples" + where
           + " ORDER BY module_id, view, position" + (" LIMIT ?" if limit else ""))
    rows = store.db.execute(sql, [*args, *([limit] if limit else [])])
    return [ExampleRow(r["id"], r["module_id"], r["view"], r["language"], json.loads(r["messages"]), r["chars"],
                       r["tokens"], json.loads(r["meta"]) if r["meta"] else {}) for r in rows]


# --- the web UI's overview and conversations ----------------------------------------------------------------


def counts(store: Store) -> dict[str, int]:
    """How much of each kind the workspace holds (the web UI's overview)."""
    queries = {
        "conversations": "SELECT count(*) FROM conversations",
        "messages": "SELECT count(*) FROM messages",
        "kept": "SELECT count(*) FROM clean_messages WHERE keep = 1",
        "rejected": "SELECT count(*) FROM clean_messages WHERE keep = 0",
        "modules": "SELECT count(*) FROM modules WHERE kind = 'dialog'",
        "papers": "SELECT count(*) FROM modules WHERE kind = 'paper'",
        "memory_items": "SELECT count(*) FROM memory_items",
    }
    return {name: store.db.execute(sql).fetchone()[0] for name, sql in queries.items()}


@dataclass(frozen=True)
class ConversationRow:
    id: str
    title: str | None
    provider: str
    created_at: float | None
    message_count: int
    label: str | None  # clean's verdict on the conversation: substance | chatter
    score: float | None
    reason: str | None
    signature: str | None
    kept: int  # messages clean kept
    modules: list[str]


def conversation_page(store: Store, *, q: str = "", label: str = "all", offset: int = 0,
                      limit: int = 50) -> tuple[int, list[ConversationRow]]:
    """(how many match, one page of them, newest first): `q` in the title or as the id; `label` all | substance |
    chatter."""
    where, args = [], []
    if q.strip():
        pattern = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(c.title LIKE ? ESCAPE '\\' OR c.id = ?)")
        args += [pattern, q.strip()]
    if label != "all":
        where.append("cc.label = ?")
        args.append(label)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    base = "FROM conversations c LEFT JOIN clean_conversations cc ON cc.conversation_id = c.id" + clause
    total = store.db.execute(f"SELECT count(*) {base}", args).fetchone()[0]
    rows = store.db.execute(
        "SELECT c.id, c.title, c.provider, c.created_at, c.message_count, cc.label, cc.score, cc.reason,"
        " cc.signature,"
        " (SELECT count(*) FROM clean_messages cm WHERE cm.conversation_id = c.id AND cm.keep = 1) AS kept,"
        " (SELECT group_concat(m.id) FROM modules m WHERE m.conversation_id = c.id) AS modules"
        f" {base} ORDER BY c.created_at IS NULL, c.created_at DESC, c.id LIMIT ? OFFSET ?",
        [*args, limit, offset]).fetchall()
    return total, [ConversationRow(*tuple(r)[:10], r["modules"].split(",") if r["modules"] else []) for r in rows]


@dataclass(frozen=True)
class ConversationDetail:
    row: dict  # the conversation's columns, with clean's label, score, verdict and signature
    messages: list[dict]  # every message of every branch, each with clean's verdict columns (None: not judged)
    modules: list[str]


def conversation_detail(store: Store, conversation_id: str) -> ConversationDetail | None:
    """A conversation with every branch and every clean verdict; None when there is no such conversation."""
    c = store.db.execute(
        "SELECT c.*, cc.label, cc.score, cc.reason AS verdict, cc.signature FROM conversations c"
        " LEFT JOIN clean_conversations cc ON cc.conversation_id = c.id WHERE c.id = ?",
        (conversation_id,)).fetchone()
    if c is None:
        return None
    rows = store.db.execute(
        "SELECT m.id, m.uid, m.parent_uid, m.position, m.role, m.kind, m.canonical, m.created_at, m.model,"
        " m.text, cm.keep, cm.reason, cm.score, cm.duplicate_of, cm.language, cm.text AS cleaned,"
        " cm.stripped, cm.redacted FROM messages m LEFT JOIN clean_messages cm ON cm.message_id = m.id"
        " WHERE m.conversation_id = ? ORDER BY m.position", (conversation_id,)).fetchall()
    modules = [r[0] for r in store.db.execute("SELECT id FROM modules WHERE conversation_id = ? ORDER BY id",
                                              (conversation_id,))]
    return ConversationDetail(dict(c), [dict(r) for r in rows], modules)
