-- m002_clean
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
