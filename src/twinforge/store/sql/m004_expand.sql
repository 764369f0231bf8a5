-- m004_expand
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
