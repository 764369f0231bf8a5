-- m009_hyper: the hyper stage keeps its state as files in WORKSPACE/hyper/ (tokenizer.json, idf.json,
-- hypertrain.jsonl, bridge.json) and its decoded answers in llm_calls (m003); it needs no table of its own.
SELECT 1;
