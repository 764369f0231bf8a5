-- m007_eval: one row per `twinforge eval` run; the generations of each run beside it
CREATE TABLE eval_runs (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    dataset TEXT NOT NULL,
    models TEXT NOT NULL,          -- JSON [{name, kind, base, adapters: [[folder, weight]], engine}]
    probes TEXT NOT NULL,          -- JSON [{id, kind, messages, language, concepts, reference, module_id, ...}]
    metrics TEXT NOT NULL,         -- JSON {model: {metric: value}}
    active TEXT NOT NULL DEFAULT '[]',    -- JSON: the "adapter actually active" checks
    failures TEXT NOT NULL DEFAULT '[]',  -- JSON: the failure catalogue with its evidence
    config TEXT NOT NULL DEFAULT '{}',    -- the resolved eval config
    seconds REAL,
    report_path TEXT               -- <ws>/reports/eval-<id>/index.html
);
CREATE TABLE eval_generations (
    run_id INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    probe_id TEXT NOT NULL,
    mode TEXT NOT NULL,            -- greedy / seed-N
    text TEXT NOT NULL,
    raw TEXT NOT NULL,
    new_tokens INTEGER NOT NULL,
    seconds REAL NOT NULL,
    engine TEXT NOT NULL,
    PRIMARY KEY (run_id, model, probe_id, mode)
);
