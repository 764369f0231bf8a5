"""Numbered schema migrations (after simonw/llm `migrations.py`).

Append new migrations at the end; never edit one that has shipped. `_migrations` records what ran.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# Each migration returns its SQL; it runs in one transaction together with its `_migrations` row.
MIGRATIONS: list[tuple[str, Callable[[], str]]] = []


def migration(fn: Callable[[], str]):
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_initial() -> str:
    return """
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL,           -- file, or 'archive.zip!inner/path.json'
            sha256 TEXT NOT NULL UNIQUE,  -- of the bytes parsed; the same bytes are never imported twice
            format TEXT NOT NULL,
            size INTEGER NOT NULL,
            imported_at TEXT NOT NULL,
            run_id INTEGER,
            stats TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,          -- provider's id where it has one
            source_id INTEGER NOT NULL REFERENCES sources(id),
            provider TEXT NOT NULL,
            title TEXT NOT NULL,
            created_at REAL,
            updated_at REAL,
            lossy INTEGER NOT NULL DEFAULT 0,
            content_hash TEXT NOT NULL,
            message_count INTEGER NOT NULL,
            meta TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE messages (
            id TEXT PRIMARY KEY,          -- stable: hash of (conversation id, source uid)
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,    -- order within the conversation (all branches)
            uid TEXT NOT NULL,
            parent_uid TEXT,
            role TEXT NOT NULL,
            kind TEXT NOT NULL,
            content_type TEXT,
            text TEXT NOT NULL,
            created_at REAL,
            model TEXT,
            canonical INTEGER NOT NULL,
            repaired INTEGER NOT NULL DEFAULT 0,
            chars INTEGER NOT NULL,
            tokens INTEGER,               -- Qwen tokens, counted lazily by `stats`
            meta TEXT
        );
        CREATE INDEX messages_conversation ON messages(conversation_id, position);
        CREATE INDEX messages_uid ON messages(uid);
        -- every source that carried a conversation, and what ingest did with it
        CREATE TABLE conversation_sources (
            conversation_id TEXT NOT NULL,
            source_id INTEGER NOT NULL REFERENCES sources(id),
            action TEXT NOT NULL,         -- added / updated / unchanged / duplicate / older
            PRIMARY KEY (conversation_id, source_id)
        );
        CREATE TABLE warnings (
            id INTEGER PRIMARY KEY,
            run_id INTEGER,
            source_id INTEGER,
            conversation_id TEXT,
            message TEXT NOT NULL
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            stage TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,         -- running / ok / failed / interrupted
            config TEXT NOT NULL DEFAULT '{}',
            stats TEXT NOT NULL DEFAULT '{}',
            error TEXT
        );
        """


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply pending migrations, each in its own transaction. Returns the names applied."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {r[0] for r in db.execute("SELECT name FROM _migrations")}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        try:
            db.executescript(
                f"BEGIN;\n{fn()}\nINSERT INTO _migrations VALUES ('{name}', datetime('now'));\nCOMMIT;"
            )
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


@migration
def m002_clean() -> str:
    return """
        -- one verdict per conversation; its signature lets a re-run reuse it while nothing changed
        CREATE TABLE clean_conversations (
            conversation_id TEXT PRIMARY KEY,
            label TEXT NOT NULL,           -- substance / chatter
            score REAL NOT NULL,           -- how chatter-like, 0..1
            reason TEXT NOT NULL,
            signature TEXT NOT NULL,       -- content hash + classifier version + threshold
            run_id INTEGER
        );
        -- one row per message: kept or rejected, why, and the cleaned text of kept dialog
        CREATE TABLE clean_messages (
            message_id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            keep INTEGER NOT NULL,
            reason TEXT NOT NULL,          -- kept, kept-by-user, or why not (hidden, other-branch, chatter, ...)
            score REAL,
            duplicate_of TEXT,             -- the copy that was kept
            language TEXT,
            text TEXT NOT NULL,            -- boilerplate stripped and secrets redacted; '' when not dialog
            chars_stripped INTEGER NOT NULL DEFAULT 0,  -- after boilerplate, before redaction
            tokens_stripped INTEGER,       -- NULL: text unchanged, same count as messages.tokens
            chars INTEGER NOT NULL DEFAULT 0,           -- final
            tokens INTEGER,                -- NULL: same as tokens_stripped (or messages.tokens)
            stripped TEXT,                 -- JSON [{kind, start, end, text}]: boilerplate removed
            redacted TEXT,                 -- JSON [{kind, start, end}]: what was redacted (never the secret)
            run_id INTEGER
        );
        CREATE INDEX clean_messages_conversation ON clean_messages(conversation_id);
        CREATE INDEX clean_messages_reason ON clean_messages(reason);
        -- the person's own keep/drop decisions; they outlive every re-run
        CREATE TABLE overrides (
            record_id TEXT PRIMARY KEY,    -- a conversation or message id
            record_type TEXT NOT NULL,     -- conversation / message
            keep INTEGER NOT NULL,
            note TEXT,
            set_at TEXT NOT NULL
        );
    """


@migration
def m003_distill() -> str:
    return """
        -- one thinking module per distilled conversation (or paper); `json` is the whole Module
        CREATE TABLE modules (
            id TEXT PRIMARY KEY,           -- 'm-' + hash of the conversation id: stable across runs
            conversation_id TEXT NOT NULL,
            kind TEXT NOT NULL,            -- dialog / paper
            language TEXT,
            json TEXT NOT NULL,
            backend TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt_version TEXT NOT NULL,
            input_hash TEXT NOT NULL,      -- of what the backend was shown: same hash + prompt + model = done
            created_at TEXT NOT NULL,
            run_id INTEGER
        );
        CREATE INDEX modules_conversation ON modules(conversation_id);
        -- every backend answer, keyed by hash of (backend, model, prompt version, request): re-runs are free
        CREATE TABLE llm_calls (
            key TEXT PRIMARY KEY,
            backend TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt_version TEXT NOT NULL,
            response TEXT NOT NULL,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            created_at TEXT NOT NULL
        );
        -- answers that stayed unusable after repair and one retry, with the raw text
        CREATE TABLE distill_failures (
            conversation_id TEXT NOT NULL,
            key TEXT NOT NULL,             -- the llm_calls key of the last answer
            chunk INTEGER NOT NULL DEFAULT 0,
            raw TEXT NOT NULL,
            error TEXT NOT NULL,
            created_at TEXT NOT NULL,
            run_id INTEGER,
            PRIMARY KEY (conversation_id, key)
        );
    """


@migration
def m004_expand() -> str:
    return """
        -- training examples expanded from modules; `messages` is the chat as JSON [{role, content}]
        CREATE TABLE examples (
            id TEXT PRIMARY KEY,           -- hash of (module id, view, position): stable across runs
            module_id TEXT NOT NULL,
            view TEXT NOT NULL,            -- qa / concept / inversion / hypothesis / transition / continue
            position INTEGER NOT NULL,     -- index within the module's view
            messages TEXT NOT NULL,
            language TEXT,
            chars INTEGER NOT NULL,        -- of all message contents
            tokens INTEGER,                -- Qwen tokens of all message contents
            meta TEXT,                     -- JSON: source message ids, where the answer came from
            run_id INTEGER
        );
        CREATE INDEX examples_module ON examples(module_id);
        CREATE INDEX examples_view ON examples(view);
        -- what each module was expanded from, so a re-run redoes only the modules whose input changed
        CREATE TABLE expanded_modules (
            module_id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            signature TEXT NOT NULL,       -- hash of module JSON, source dialog, templates and config
            source_chars INTEGER NOT NULL, -- kept characters of the source dialog: the pages in
            examples INTEGER NOT NULL,
            run_id INTEGER
        );
    """


def _sql_file(name: str) -> Callable[[], str]:
    """Later migrations live as SQL files in `store/sql/`, one per stage, so each stage's schema reads whole."""
    from importlib.resources import files

    def fn() -> str:
        return files("twinforge.store").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")

    fn.__name__ = name
    return fn


for _name in ("m005_dataset", "m006_train", "m007_eval", "m008_memory", "m009_hyper", "m010_quality"):
    migration(_sql_file(_name))
