-- m006_train: the adapter registry. The adapter folder (WORKSPACE/adapters/<id>/, its twinforge.json) is the
-- truth; this table indexes it for listing, parent checks and the later stages.
CREATE TABLE IF NOT EXISTS adapters (
    id TEXT PRIMARY KEY,              -- the folder name
    path TEXT NOT NULL,               -- relative to the workspace when inside it, else absolute
    kind TEXT NOT NULL,               -- full | scene | batch | bridge
    scene TEXT,                       -- module id for per-scene adapters
    base TEXT NOT NULL,               -- as given: embedded, a recipe name, a folder, a .gguf
    base_hash TEXT NOT NULL,
    dataset TEXT,
    dataset_hash TEXT,
    parents TEXT NOT NULL DEFAULT '[]',   -- JSON list of adapter ids frozen underneath this one
    metrics TEXT NOT NULL DEFAULT '{}',   -- JSON: steps, tokens, losses, tokens/s, peak memory
    created_at TEXT NOT NULL,
    registered_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS adapters_kind ON adapters(kind, scene);
