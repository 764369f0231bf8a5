-- m010_quality: each dialog module's quality score (distill/quality.py), written at the end of every distill run
-- and by `twinforge modules score`; no model is asked. Flagged modules are listed by `twinforge rejects` and left
-- out by expand (expand.skip_flagged).
CREATE TABLE module_scores (
    module_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    score REAL NOT NULL,            -- 0..1: grounding · (0.5 + 0.5 · completeness) · (1 − degeneracy)
    grounding REAL NOT NULL,
    completeness REAL NOT NULL,
    degeneracy REAL NOT NULL,
    flagged INTEGER NOT NULL,       -- below the threshold, or a phrase/quote that is not the person's
    reasons TEXT NOT NULL,          -- JSON list of why, for people
    details TEXT NOT NULL,          -- JSON: the per-module checks, reused while module and dialog are unchanged
    threshold REAL NOT NULL,
    signature TEXT NOT NULL,        -- hash of scorer version, module JSON and its dialog
    scored_at TEXT NOT NULL,
    run_id INTEGER
);
CREATE INDEX module_scores_flagged ON module_scores(flagged);
