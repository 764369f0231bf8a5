-- m005_dataset: one row per built dataset folder (<workspace>/datasets/<name>/)
CREATE TABLE datasets (
    name TEXT PRIMARY KEY,
    path TEXT NOT NULL,            -- the folder, as built
    hash TEXT NOT NULL,            -- sha256 of train.jsonl + val.jsonl: what an adapter records as dataset_hash
    signature TEXT NOT NULL,       -- hash of the examples, config, system prompt and code version it was built from
    config TEXT NOT NULL,          -- JSON: the DatasetConfig used
    stats TEXT NOT NULL,           -- JSON: stats.json
    train_examples INTEGER NOT NULL,
    val_examples INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    run_id INTEGER
);
