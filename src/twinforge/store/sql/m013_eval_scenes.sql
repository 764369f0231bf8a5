-- m013_eval_scenes: what each scene changed, per evaluated model (eval/scenes.py): own- vs other-scene concept
-- coverage, the scene's axes / inversions / transition rules the module extractor finds in the answers, and the
-- control perplexity against the base's. JSON, model → figures; '{}' for runs without scene adapters.
ALTER TABLE eval_runs ADD COLUMN scenes TEXT NOT NULL DEFAULT '{}';
