-- m008_memory: the long-term memory — searchable items, their BM25 index, vectors and the concept graph
-- one row per searchable piece: a module, a paper digest, or a passage of a kept canonical message
CREATE TABLE memory_items (
    rowid INTEGER PRIMARY KEY,     -- shared by memory_fts and memory_vectors
    id TEXT NOT NULL UNIQUE,       -- 'module:<module id>' / 'paper:<module id>' / 'msg:<message id>:<passage>'
    kind TEXT NOT NULL,            -- module / paper / message
    conversation_id TEXT NOT NULL,
    message_id TEXT,               -- the message a passage comes from; a module's first source message
    module_id TEXT,
    title TEXT NOT NULL DEFAULT '',
    date REAL,                     -- epoch seconds of the message (or conversation)
    language TEXT,
    text TEXT NOT NULL,            -- what is shown as evidence
    stems TEXT NOT NULL,           -- title + text, stemmed per language: what BM25 sees
    hash TEXT NOT NULL             -- of everything above that matters: same hash = nothing to redo
);
CREATE INDEX memory_items_conversation ON memory_items(conversation_id);

-- one float32 vector per item and embedder (switching embedders back and forth re-embeds nothing)
CREATE TABLE memory_vectors (
    item INTEGER NOT NULL,         -- memory_items.rowid
    model TEXT NOT NULL,           -- embedder tag, e.g. 'use' or 'e5'
    vec BLOB NOT NULL,             -- float32, L2-normalised
    PRIMARY KEY (model, item)
) WITHOUT ROWID;

-- BM25 over the stems, external content: the text lives once, in memory_items; triggers keep it in step
CREATE VIRTUAL TABLE memory_fts USING fts5(
    stems, content='memory_items', content_rowid='rowid', tokenize='unicode61 remove_diacritics 0'
);
CREATE TRIGGER memory_items_ai AFTER INSERT ON memory_items BEGIN
    INSERT INTO memory_fts(rowid, stems) VALUES (new.rowid, new.stems);
END;
CREATE TRIGGER memory_items_ad AFTER DELETE ON memory_items BEGIN
    INSERT INTO memory_fts(memory_fts, rowid, stems) VALUES ('delete', old.rowid, old.stems);
    DELETE FROM memory_vectors WHERE item = old.rowid;
END;

-- concept graph (KAG): which normalised concepts each module names, and the community of each concept
CREATE TABLE memory_concepts (
    module_id TEXT NOT NULL,
    concept TEXT NOT NULL,         -- lemmatised lowercase
    label TEXT NOT NULL,           -- as the module wrote it (first seen)
    PRIMARY KEY (module_id, concept)
);
CREATE INDEX memory_concepts_concept ON memory_concepts(concept);
CREATE TABLE memory_communities (
    concept TEXT PRIMARY KEY,
    community INTEGER NOT NULL
);

-- small facts about the last build: embedder, counts, a generation number that search caches key on
CREATE TABLE memory_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
