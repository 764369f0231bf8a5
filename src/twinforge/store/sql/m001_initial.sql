-- m001_initial
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
