-- m003_distill
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
