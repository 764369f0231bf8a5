-- m011_example_rejects: model-written (generated) training examples that the quality gate (expand/gate.py) set
-- aside, with the reason, so nothing a model wrote is dropped silently; `twinforge examples --rejected` lists them.
CREATE TABLE example_rejects (
    id TEXT PRIMARY KEY,           -- hash of (module id, view, position): stable across runs
    module_id TEXT NOT NULL,
    view TEXT NOT NULL,            -- paraphrase / new_question / walkthrough / transfer / depth / paper_applied
    position INTEGER NOT NULL,     -- index among the module's candidates of that view
    backend TEXT NOT NULL,         -- backend:model that wrote it
    prompt_version TEXT NOT NULL,  -- e.g. paraphrase.v1
    reason TEXT NOT NULL,          -- the gate's first failed check: ungrounded / contradicts / near-duplicate / ...
    detail TEXT NOT NULL,          -- what the check found, for people
    messages TEXT NOT NULL,        -- the candidate chat as JSON [{role, content}] (the raw answer where unparsed)
    run_id INTEGER
);
CREATE INDEX example_rejects_module ON example_rejects(module_id);
CREATE INDEX example_rejects_view ON example_rejects(view);
-- the generated views each module was expanded with, so a re-run redoes only what changed (the calls themselves
-- are in llm_calls); kept and rejected count the gate's verdicts
CREATE TABLE generated_modules (
    module_id TEXT PRIMARY KEY,
    signature TEXT NOT NULL,       -- hash of module JSON, source dialog, prompts, backend and config
    kept INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    run_id INTEGER
);
